"""Message header and AVP framing: the hot path of the codec.

Pure functions over ``bytes``. An AVP is located by a tuple
``(code, vendor, flags, avp_start, payload_start, payload_end)`` into the
buffer it was found in; nothing is copied until a value is read.
"""
from __future__ import annotations

from struct import Struct

from . import core
from .errors import MessageDecodeError

HEADER_LENGTH = 20
FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10
AVP_FLAG_VENDOR = 0x80
AVP_FLAG_MANDATORY = 0x40
AVP_FLAG_PRIVATE = 0x20


Limits = core.Limits
LIMITS = core.LIMITS

_HEADER = Struct(">IIIII")
_U32X2 = Struct(">II")
_U32 = Struct(">I")
_unpack_header = _HEADER.unpack_from
_unpack_u32x2 = _U32X2.unpack_from
_unpack_u32 = _U32.unpack_from
_pack_header = _HEADER.pack
_pack_u32x2 = _U32X2.pack
_pack_u32x3 = Struct(">III").pack
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_ZEROS = b"\x00\x00\x00\x00"

AvpEntry = tuple[int, int, int, int, int, int]


def message_length(prefix: bytes) -> int:
    """Length announced by the first four bytes of a message header."""
    return _unpack_u32(prefix, 0)[0] & 0xFFFFFF


def unpack_header(data: bytes) -> tuple[int, int, int, int, int, int, int]:
    """Check a message's framing; return (version, length, flags, code, app, hbh, e2e)."""
    size = len(data)
    if size < HEADER_LENGTH:
        raise MessageDecodeError(f"message shorter than its header ({size} bytes)", 0)
    vl, fc, app, hbh, e2e = _unpack_header(data, 0)
    version = vl >> 24
    length = vl & 0xFFFFFF
    if version != 1 or length != size or length & 3 or length > LIMITS.max_message_size:
        core.header_error(version, length, size)
    return version, length, fc >> 24, fc & 0xFFFFFF, app, hbh, e2e


def pack_header(version: int, length: int, flags: int, code: int, app: int,
                hbh: int, e2e: int) -> bytes:
    """Serialise a message header."""
    try:
        return _pack_header((version << 24) | length, (flags << 24) | code, app, hbh, e2e)
    except Exception as e:  # struct.error, TypeError
        raise MessageDecodeError(f"cannot pack header: {e}") from None


scan_avps = core.scan
"""Locate the AVPs in ``buf[start:end]``; check lengths and padding (see :mod:`.core`)."""


def scan_index(buf: bytes, start: int, end: int) -> tuple[list[AvpEntry], dict[int, list[AvpEntry]]]:
    """``scan_avps`` plus an index keyed ``code | vendor << 32`` in the same pass."""
    entries = core.scan(buf, start, end)
    index: dict[int, list[AvpEntry]] = {}
    get = index.get
    for e in entries:
        k = e[0] | (e[1] << 32)
        lst = get(k)
        if lst is None:
            index[k] = [e]
        else:
            lst.append(e)
    return entries, index


def avp_header(code: int, flags: int, vendor: int, payload_length: int) -> bytes:
    """Serialise an AVP header for a payload of the given length.

    The V bit brings the Vendor-Id field, also with Vendor-Id 0 (as read).
    """
    if vendor or flags & AVP_FLAG_VENDOR:
        return _pack_u32x3(code, ((flags | AVP_FLAG_VENDOR) << 24) | (payload_length + 12), vendor)
    return _pack_u32x2(code, ((flags & 0x7F) << 24) | (payload_length + 8))


def encode_avp(code: int, flags: int, vendor: int, payload: bytes) -> bytes:
    """Serialise a whole AVP: header, payload, zero padding."""
    n = len(payload)
    if vendor or flags & AVP_FLAG_VENDOR:
        head = _pack_u32x3(code, ((flags | AVP_FLAG_VENDOR) << 24) | (n + 12), vendor)
    else:
        head = _pack_u32x2(code, ((flags & 0x7F) << 24) | (n + 8))
    return head + payload + _PADDING[n & 3]


def padding(n: int) -> bytes:
    """Zero bytes that pad a payload of length n to 4 bytes."""
    return _PADDING[n & 3]
