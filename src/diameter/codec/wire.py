"""Message header and AVP framing: the public face of :mod:`.frame`.

Pure functions over ``bytes``. An AVP is located by a tuple
``(code, vendor, flags, avp_start, payload_start, payload_end)`` into the
buffer it was found in; nothing is copied until a value is read.
"""
from __future__ import annotations

from collections.abc import Callable

from . import frame
from .errors import MessageDecodeError
from .frame import (AVP_FLAG_VENDOR, HEADER, HEADER_LENGTH, LIMITS, U32, Limits, avp_header,
                    encode_avp)

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10
AVP_FLAG_MANDATORY = 0x40
AVP_FLAG_PRIVATE = 0x20

_unpack_header = HEADER.unpack_from
_unpack_u32: Callable[[bytes, int], tuple[int]] = U32.unpack_from
_pack_header = HEADER.pack

__all__ = [
    "HEADER_LENGTH", "FLAG_REQUEST", "FLAG_PROXIABLE", "FLAG_ERROR", "FLAG_RETRANSMIT",
    "AVP_FLAG_VENDOR", "AVP_FLAG_MANDATORY", "AVP_FLAG_PRIVATE", "HEADER", "Limits", "LIMITS",
    "AvpEntry", "message_length", "unpack_header", "pack_header", "scan_avps", "scan_index",
    "avp_header", "encode_avp", "padding",
]

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
        frame.header_error(version, length, size)
    return version, length, fc >> 24, fc & 0xFFFFFF, app, hbh, e2e


def pack_header(version: int, length: int, flags: int, code: int, app: int,
                hbh: int, e2e: int) -> bytes:
    """Serialise a message header."""
    try:
        return _pack_header((version << 24) | length, (flags << 24) | code, app, hbh, e2e)
    except Exception as e:  # struct.error, TypeError
        raise MessageDecodeError(f"cannot pack header: {e}") from None


scan_avps = frame.scan
"""Locate the AVPs in ``buf[start:end]``; check lengths and padding (see :mod:`.frame`)."""


def scan_index(buf: bytes, start: int, end: int) -> tuple[list[AvpEntry], dict[int, list[AvpEntry]]]:
    """``scan_avps`` plus an index keyed ``code | vendor << 32`` in the same pass."""
    entries = frame.scan(buf, start, end)
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


def padding(n: int) -> bytes:
    """Zero bytes that pad a payload of length n to 4 bytes."""
    return frame.PADDING[n & 3]
