"""Framing: the message header and AVP layout, defined once for the whole package.

Holds the header ``Struct``, the AVP encoder (header, payload, zero padding),
the AVP scanner and the decoder limits. Plain, fully typed Python that mypyc
compiles with the rest of the codec's hot loops (see ``setup.py``); where the
fastest code differs between the two (``struct`` calls interpreted, byte
indexing compiled) both variants are here and :data:`COMPILED` picks one.
The public face of this module is :mod:`diameter.codec.wire`.
"""
from __future__ import annotations

from struct import Struct
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_extensions import i64

from .errors import AvpDecodeError, AvpEncodeError, MessageDecodeError, MessageTooLarge

Entry = tuple[int, int, int, int, int, int]
"""(code, vendor, flags, avp_start, payload_start, payload_end) of one AVP."""

HEADER_LENGTH: Final = 20
HEADER: Final = Struct(">IIIII")
"""The message header: version|length, flags|code, application, hop-by-hop, end-to-end."""
U32X2: Final = Struct(">II")
U32X3: Final = Struct(">III")
U32: Final = Struct(">I")
I32: Final = Struct(">i")
U64: Final = Struct(">Q")
I64: Final = Struct(">q")
PADDING: Final = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
"""``PADDING[n & 3]``: the zero bytes that pad a payload of length n."""
_ZEROS: Final = b"\x00\x00\x00\x00"
AVP_FLAG_VENDOR: Final = 0x80


def _probe() -> None:
    pass


COMPILED: Final = type(_probe).__name__ != "function"


class Limits:
    """Decoder limits; change the attributes of :data:`LIMITS` to tune them."""
    max_message_size: int
    max_depth: int

    def __init__(self, max_message_size: int = 1 << 20, max_depth: int = 16) -> None:
        self.max_message_size = max_message_size
        self.max_depth = max_depth


LIMITS: Final = Limits()

FRAMED: Final[list[bytes | None]] = [None]
"""The last message whose AVP framing was checked whole (by the validation fast path or the
decoder): its decoder and its attribute reads skip that check. One immutable ``bytes``
object, kept alive by this reference."""


def avp_header(code: int, flags: int, vendor: int, payload_length: int) -> bytes:
    """An AVP header for a payload of the given length.

    The V bit brings the Vendor-Id field, also with Vendor-Id 0 (as read).
    """
    if payload_length > 0xFFFFF3:   # 24-bit length, 12-byte header
        raise AvpEncodeError(f"AVP {code}: a payload of {payload_length} bytes overflows "
                             "the AVP length")
    if vendor or flags & AVP_FLAG_VENDOR:
        return U32X3.pack(code, ((flags | AVP_FLAG_VENDOR) << 24) | (payload_length + 12),
                          vendor)
    return U32X2.pack(code, (flags << 24) | (payload_length + 8))


def encode_avp(code: int, flags: int, vendor: int, payload: bytes) -> bytes:
    """A whole AVP: header (see :func:`avp_header`), payload, zero padding."""
    n = len(payload)
    if n > 0xFFFFF3:   # 24-bit length, 12-byte header
        raise AvpEncodeError(f"AVP {code}: a payload of {n} bytes overflows the AVP length")
    if vendor or flags & AVP_FLAG_VENDOR:
        head = U32X3.pack(code, ((flags | AVP_FLAG_VENDOR) << 24) | (n + 12), vendor)
    else:
        head = U32X2.pack(code, (flags << 24) | (n + 8))
    return head + payload + PADDING[n & 3]


def header_error(version: int, length: int, size: int) -> None:
    """Raise the error for a header whose version or length field is wrong."""
    if version != 1:
        raise MessageDecodeError(f"unsupported version {version}", 0, result_code=5011)
    if length > LIMITS.max_message_size:
        raise MessageTooLarge(
            f"message length {length} above the maximum {LIMITS.max_message_size}", 1)
    if length != size:
        raise MessageDecodeError(
            f"message length field {length} does not match the {size} bytes given", 1,
            result_code=5015)
    if length & 3 or length < 20:
        raise MessageDecodeError(f"invalid message length {length}", 1, result_code=5015)


def _length_error(length: int, pos: int, code: int, vendor_bit: bool) -> AvpDecodeError:
    if length < (12 if vendor_bit else 8):
        what = "too short for a vendor AVP" if vendor_bit else "shorter than its header"
        return AvpDecodeError(f"AVP length {length} {what}", pos, code, result_code=5014)
    return AvpDecodeError(f"AVP length {length} overruns its container", pos, code,
                          result_code=5014)


def scan(buf: bytes, start: int, end: int) -> list[Entry]:
    """Locate the AVPs in ``buf[start:end]``; check lengths and padding."""
    if COMPILED:
        return scan_indexed(buf, start, end)
    return scan_struct(buf, start, end)


def scan_struct(buf: bytes, start: int, end: int) -> list[Entry]:
    """:func:`scan` with ``struct`` (the faster one interpreted)."""
    out: list[Entry] = []
    unpack2 = U32X2.unpack_from
    pos = start
    while pos < end:
        if end - pos < 8:
            raise AvpDecodeError("truncated AVP header", pos)
        code, fl = unpack2(buf, pos)
        length = fl & 0xFFFFFF
        pe = pos + length
        if fl & 0x80000000:
            if length < 12 or pe > end:
                raise _length_error(length, pos, code, True)
            vendor = U32.unpack_from(buf, pos + 8)[0]
            ps = pos + 12
        else:
            if length < 8 or pe > end:
                raise _length_error(length, pos, code, False)
            vendor = 0
            ps = pos + 8
        if length & 3:
            nxt = pe + 4 - (length & 3)
            if nxt > end:
                raise AvpDecodeError("AVP padding missing", pe, code, vendor)
            if buf[pe:nxt] != _ZEROS[:nxt - pe]:
                raise AvpDecodeError("non-zero AVP padding", pe, code, vendor)
        else:
            nxt = pe
        out.append((code, vendor, fl >> 24, pos, ps, pe))
        pos = nxt
    return out


def frame_at(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int, int, int]:
    """The AVP at ``pos``: (code, flags, vendor, payload_start, payload_end, next_pos)."""
    # i64 locals: native arithmetic and byte reads when compiled (plain ints interpreted)
    p: i64 = pos
    e: i64 = end
    if e - p < 8:
        raise AvpDecodeError("truncated AVP header", pos)
    b0: i64 = buf[p]
    b1: i64 = buf[p + 1]
    b2: i64 = buf[p + 2]
    b3: i64 = buf[p + 3]
    flags: i64 = buf[p + 4]
    l0: i64 = buf[p + 5]
    l1: i64 = buf[p + 6]
    l2: i64 = buf[p + 7]
    code: i64 = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    length: i64 = (l0 << 16) | (l1 << 8) | l2
    pe: i64 = p + length
    vendor: i64 = 0
    ps: i64 = p + 8
    if flags & 0x80:
        if length < 12 or pe > e:
            raise _length_error(length, pos, code, True)
        v0: i64 = buf[p + 8]
        v1: i64 = buf[p + 9]
        v2: i64 = buf[p + 10]
        v3: i64 = buf[p + 11]
        vendor = (v0 << 24) | (v1 << 16) | (v2 << 8) | v3
        ps = p + 12
    elif length < 8 or pe > e:
        raise _length_error(length, pos, code, False)
    nxt: i64 = (pe + 3) & ~3
    if nxt != pe:
        if nxt > e:
            raise AvpDecodeError("AVP padding missing", pe, code, vendor)
        q: i64 = pe
        while q < nxt:
            if buf[q]:
                raise AvpDecodeError("non-zero AVP padding", pe, code, vendor)
            q += 1
    return code, flags, vendor, ps, pe, nxt


def scan_indexed(buf: bytes, start: int, end: int) -> list[Entry]:
    """:func:`scan` by byte indexing (the faster one compiled)."""
    out: list[Entry] = []
    pos = start
    while pos < end:
        code, flags, vendor, ps, pe, nxt = frame_at(buf, pos, end)
        out.append((code, vendor, flags, pos, ps, pe))
        pos = nxt
    return out


def sound(buf: bytes, start: int, end: int) -> bool:
    """Whether :func:`frame_at` reads every AVP of ``buf[start:end]`` without an error
    (lengths, padding): byte reads into i64 locals when compiled, no tuple per AVP."""
    if not 0 <= start <= end <= len(buf):
        return False
    p: i64 = start
    e: i64 = end
    while p < e:
        if e - p < 8:
            return False
        flags: i64 = buf[p + 4]
        l0: i64 = buf[p + 5]
        l1: i64 = buf[p + 6]
        l2: i64 = buf[p + 7]
        length: i64 = (l0 << 16) | (l1 << 8) | l2
        pe: i64 = p + length
        if length < (12 if flags & 0x80 else 8) or pe > e:
            return False
        nxt: i64 = (pe + 3) & ~3
        if nxt != pe:
            if nxt > e:
                return False
            q: i64 = pe
            while q < nxt:
                if buf[q]:
                    return False
                q += 1
        p = nxt
    return True


def check(buf: bytes, start: int, end: int) -> None:
    """Check the framing of the AVPs in ``buf[start:end]`` (the errors of :func:`scan`)."""
    if not COMPILED:
        scan_struct(buf, start, end)
        return
    if sound(buf, start, end):
        return
    pos = start
    while pos < end:    # raises the error at the first AVP that is not sound
        pos = frame_at(buf, pos, end)[5]


def u32_at(buf: bytes, p: int) -> int:
    """The unsigned 32-bit integer at ``buf[p:p + 4]``."""
    if COMPILED:
        q: i64 = p
        b0: i64 = buf[q]
        b1: i64 = buf[q + 1]
        b2: i64 = buf[q + 2]
        b3: i64 = buf[q + 3]
        return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    return int(U32.unpack_from(buf, p)[0])


def find_payload(buf: bytes, code: int, vendor: int, start: int, end: int) -> bytes | None:
    """The payload of the first AVP ``code``/``vendor`` among the AVPs in ``buf[start:end]``.

    None when there is none, or when an AVP length is out of bounds before it (a
    lenient look-up for the few AVPs a node routes on; :func:`scan` reports errors).
    """
    if not COMPILED:
        return _find_payload_struct(buf, code, vendor, start, end)
    p = _find_at(buf, code, vendor, start, end)
    if p < 0:
        return None
    q: i64 = p
    length: i64 = (buf[q + 5] << 16) | (buf[q + 6] << 8) | buf[q + 7]
    if buf[q + 4] & 0x80:
        return bytes(buf[q + 12:q + length])
    return bytes(buf[q + 8:q + length])


def _find_at(buf: bytes, code: int, vendor: int, start: int, end: int) -> int:
    """Where the AVP :func:`find_payload` reads starts; -1: none (compiled builds only)."""
    if not (0 <= code <= 0xFFFFFFFF and 0 <= vendor <= 0xFFFFFFFF and 0 <= start <= end):
        return -1
    c: i64 = code
    v: i64 = vendor
    pos: i64 = start
    e: i64 = end
    if e > len(buf):
        e = len(buf)
    while pos + 8 <= e:
        length: i64 = (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]
        if length < 8 or pos + length > e:
            return -1
        if ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) == c:
            if buf[pos + 4] & 0x80:
                if length >= 12 and ((buf[pos + 8] << 24) | (buf[pos + 9] << 16) | (buf[pos + 10] << 8)
                                     | buf[pos + 11]) == v:
                    return pos
            elif v == 0:
                return pos
        pos += (length + 3) & ~3
    return -1


def _find_payload_struct(buf: bytes, code: int, vendor: int, start: int, end: int) -> bytes | None:
    """:func:`find_payload` with ``struct`` (the faster one interpreted)."""
    pos = start
    unpack = U32X2.unpack_from
    while pos + 8 <= end:
        c, fl = unpack(buf, pos)
        length = fl & 0xFFFFFF
        if length < 8 or pos + length > end:
            return None
        if c == code:
            if fl & 0x80000000:
                if length >= 12 and U32.unpack_from(buf, pos + 8)[0] == vendor:
                    return bytes(buf[pos + 12:pos + length])
            elif not vendor:
                return bytes(buf[pos + 8:pos + length])
        pos += (length + 3) & ~3
    return None


def find_u32(buf: bytes, code: int, start: int, end: int) -> int:
    """The Unsigned32 value of the first vendor-0 AVP ``code`` (as :func:`find_payload`);
    -1 when there is none or its payload is not 4 bytes."""
    if not COMPILED:
        p = find_payload(buf, code, 0, start, end)
        if p is None or len(p) != 4:
            return -1
        return (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
    at = _find_at(buf, code, 0, start, end)
    if at < 0:
        return -1
    q: i64 = at
    if buf[q + 4] & 0x80:   # a V bit (vendor 0): the payload after the Vendor-Id field
        if ((buf[q + 5] << 16) | (buf[q + 6] << 8) | buf[q + 7]) != 16:
            return -1
        q += 12
    else:
        if ((buf[q + 5] << 16) | (buf[q + 6] << 8) | buf[q + 7]) != 12:
            return -1
        q += 8
    b0: i64 = buf[q]
    b1: i64 = buf[q + 1]
    b2: i64 = buf[q + 2]
    b3: i64 = buf[q + 3]
    return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
