"""Minimal AVP encoder/scanner for the base-protocol messages the node makes.

The node builds CER/CEA, DWR/DWA, DPR/DPA and error answers itself and reads
only the few base AVPs it routes on, so it never has to decode a whole
application message on the hot path.
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator

from ...codec.frame import HEADER, U32, U64, encode_avp, find_payload
from ...codec.frame import find_u32 as _find_u32

_AVP = struct.Struct("!IB3s")
_CL = struct.Struct("!II")  # code, flags<<24 | length


class AvpError(ValueError):
    """An AVP could not be parsed; ``result_code`` is the RFC 6733 answer code."""

    def __init__(self, message: str, result_code: int = 5014) -> None:
        super().__init__(message)
        self.result_code = result_code


def avp(code: int, payload: bytes, vendor: int = 0, mandatory: bool = True) -> bytes:
    """Encode one AVP with padding."""
    return encode_avp(code, 0x40 if mandatory else 0, vendor, payload)


def u32(code: int, value: int, vendor: int = 0) -> bytes:
    return avp(code, U32.pack(value), vendor)


def u64(code: int, value: int, vendor: int = 0) -> bytes:
    return avp(code, U64.pack(value), vendor)


def text(code: int, value: str | bytes, vendor: int = 0) -> bytes:
    return avp(code, value.encode() if isinstance(value, str) else value, vendor)


def address(code: int, value: str) -> bytes:
    ip = ipaddress.ip_address(value)
    family = 1 if ip.version == 4 else 2
    return avp(code, family.to_bytes(2, "big") + ip.packed)


def grouped(code: int, members: Iterable[bytes], vendor: int = 0) -> bytes:
    return avp(code, b"".join(members), vendor)


def decode_address(payload: bytes) -> str:
    if len(payload) < 2:
        raise AvpError("short Address AVP", 5014)
    family = int.from_bytes(payload[:2], "big")
    if family == 1 and len(payload) == 6:
        return str(ipaddress.IPv4Address(payload[2:]))
    if family == 2 and len(payload) == 18:
        return str(ipaddress.IPv6Address(payload[2:]))
    return payload[2:].hex()


def message(flags: int, command: int, app: int, hbh: int, e2e: int, avps: Iterable[bytes]) -> bytes:
    """Encode a whole message from already-encoded AVPs."""
    body = b"".join(avps)
    return HEADER.pack((1 << 24) | (len(body) + 20), (flags << 24) | command, app, hbh, e2e) + body


def iter_avps(data: bytes, start: int = 20, end: int | None = None) -> Iterator[tuple[int, int, int, bytes]]:
    """Yield ``(code, flags, vendor, payload)`` for each AVP between offsets."""
    if end is None:
        end = len(data)
    pos = start
    unpack = _AVP.unpack_from
    while pos < end:
        if end - pos < 8:
            raise AvpError("truncated AVP header", 5014)
        code, flags, ln = unpack(data, pos)
        length = int.from_bytes(ln, "big")
        hdr = 12 if flags & 0x80 else 8
        if length < hdr or pos + length > end:
            raise AvpError(f"invalid length {length} for AVP {code}", 5014)
        vendor = U32.unpack_from(data, pos + 8)[0] if hdr == 12 else 0
        yield code, flags, vendor, bytes(data[pos + hdr:pos + length])
        pos += (length + 3) & ~3


def find(data: bytes, code: int, vendor: int = 0, start: int = 20, end: int | None = None) -> bytes | None:
    """Return the payload of the first top-level AVP ``code``/``vendor``, or None.

    Stops scanning at the first match, so Session-Id/Origin-Host (which come
    first by convention) cost only a few header reads; compiled with the codec core.
    """
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    return find_payload(data, code, vendor, start, n if end is None or end > n else end)


def find_u32(data: bytes, code: int, start: int = 20) -> int | None:
    """``as_u32(find(data, code))`` in one compiled call: None when absent or not 4 bytes."""
    if type(data) is not bytes:
        data = bytes(data)
    v = _find_u32(data, code, start, len(data))
    return None if v < 0 else v


def find_many(data: bytes, codes: tuple[int, ...], start: int = 20) -> dict[int, bytes]:
    """One pass over the top-level vendor-0 AVPs: first payload of each code."""
    out: dict[int, bytes] = {}
    end = len(data)
    pos = start
    unpack = _CL.unpack_from
    want = len(codes)
    while pos + 8 <= end:
        c, fl = unpack(data, pos)
        length = fl & 0xFFFFFF
        if length < 8 or pos + length > end:
            break
        if c in codes and not fl & 0x80000000 and c not in out:
            out[c] = bytes(data[pos + 8:pos + length])
            if len(out) == want:
                break
        pos += (length + 3) & ~3
    return out


def find_all(data: bytes, code: int, vendor: int = 0) -> list[bytes]:
    return [p for c, _f, v, p in iter_avps(data) if c == code and v == vendor]


def as_u32(payload: bytes | None, default: int | None = None) -> int | None:
    if payload is None or len(payload) != 4:
        return default
    return U32.unpack(payload)[0]
