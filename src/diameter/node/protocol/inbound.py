"""A local request's per-request decisions, from its bytes: duplicate check and answer completion.

:func:`admit` finds a request's Origin-Host and identifiers and checks it against the
:class:`~.dedup.DuplicateCache` (RFC 6733 §6.1.2); :func:`answered` gives the handler's answer
its request's identifiers, caches it for copies and names its Result-Code class. Pure
functions of bytes, the cache and ``now`` (compiled with mypyc: the asyncio node calls them
once each per request instead of doing the same steps interpreted).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .dedup import DuplicateCache

if TYPE_CHECKING:
    from mypy_extensions import i64

#: Origin-Host and Result-Code (as literals: compiled, they are C constants)
_ORIGIN_HOST: Final = 264
_RESULT_CODE: Final = 268

#: "0xxx" .. "9xxx": a Result-Code's class (the node's statistics key)
#: (a tuple of any length to mypyc: a fixed-length one is unboxed, and rebuilt for each index)
CLASSES: Final[tuple[str, ...]] = ("0xxx", "1xxx", "2xxx", "3xxx", "4xxx", "5xxx", "6xxx", "7xxx", "8xxx", "9xxx")


def _avp_at(buf: bytes, code: i64, end: i64) -> i64:
    """Where the first vendor-0 AVP ``code`` after the header starts; -1: none, or an AVP
    length out of bounds before it (as ``diameter.codec.frame.find_payload``)."""
    pos: i64 = 20
    if end > len(buf):
        end = len(buf)
    while pos + 8 <= end:
        length: i64 = (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]
        if length < 8 or pos + length > end:
            return -1
        if ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) == code:
            if buf[pos + 4] & 0x80:
                if length >= 12 and buf[pos + 8] == 0 and buf[pos + 9] == 0 and buf[pos + 10] == 0 \
                        and buf[pos + 11] == 0:
                    return pos
            else:
                return pos
        pos += (length + 3) & ~3
    return -1


def origin_host(data: bytes) -> bytes:
    """The Origin-Host payload of the message ``data`` (b"" when it has none)."""
    p = _avp_at(data, _ORIGIN_HOST, len(data))
    if p < 0:
        return b""
    length: i64 = (data[p + 5] << 16) | (data[p + 6] << 8) | data[p + 7]
    return data[p + (12 if data[p + 4] & 0x80 else 8):p + length]


def result_code(data: bytes) -> int:
    """The Result-Code of the message ``data``; -1 when it has none or its payload is not 4 bytes."""
    p = _avp_at(data, _RESULT_CODE, len(data))
    if p < 0:
        return -1
    length: i64 = (data[p + 5] << 16) | (data[p + 6] << 8) | data[p + 7]
    if data[p + 4] & 0x80:
        if length != 16:
            return -1
        p += 12
    else:
        if length != 12:
            return -1
        p += 8
    b0: i64 = data[p]
    b1: i64 = data[p + 1]
    b2: i64 = data[p + 2]
    b3: i64 = data[p + 3]
    return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3


def result_class(rc: int) -> str:
    """"2xxx" for 2001 and so on (the class a sent or received answer is counted in)."""
    i = rc // 1000
    return CLASSES[i] if 0 <= i < 10 else f"{i}xxx"


def received_class(data: bytes) -> str | None:
    """The class ("2xxx") of the Result-Code of the message ``data``; None when it has none
    (or its payload is not 4 bytes): the key a received answer is counted under."""
    rc = result_code(data)
    if rc < 0:
        return None
    return CLASSES[rc // 1000] if rc < 10000 else result_class(rc)


def admit(dedup: DuplicateCache, data: bytes, now: float, waiter: Any) -> bytes | bytearray | None:
    """Check the request ``data`` (a whole message, at least its header) against ``dedup``.

    Returns its Origin-Host (bytes, b"" when it has none) for a new request, which the
    cache now holds as in progress. For a copy of a request seen within the window: the
    cached answer with the copy's hop-by-hop identifier (a bytearray, to send), or None
    while the first copy is being handled (the cache keeps ``waiter`` with the copy's
    hop-by-hop identifier, as ``(waiter, hop_by_hop)``, and :func:`answered` hands it back).
    """
    host = origin_host(data)
    e2e: i64 = (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19]
    cached = dedup.check(host, e2e, now)
    if cached is None:
        return host
    if not cached:   # in progress: the copy waits (its pair made only for a copy)
        hbh: i64 = (data[12] << 24) | (data[13] << 16) | (data[14] << 8) | data[15]
        dedup.add_waiter(host, e2e, (waiter, hbh))
        return None
    out = bytearray(cached)
    out[12:16] = data[12:16]
    return out


def answered(dedup: DuplicateCache, host: bytes, data: bytes, out: bytes, now: float,
             send_copy: Callable[[Any, bytearray], object]) -> tuple[bytes, str | None]:
    """The answer ``out`` to the local request ``data`` from ``host``, completed and cached.

    Returns the answer to send (``out``, or a copy of it with the request's hop-by-hop and
    end-to-end identifiers when it has others) and its Result-Code class ("2xxx"; None when
    it has no Result-Code). The answer is cached for copies of the request; copies waiting
    for it get it now, each through ``send_copy(waiter, answer)`` with its own hop-by-hop
    identifier. ``out`` must be at least a header long (20 bytes): ValueError if not.
    """
    out = complete(dedup, host, data, out, now, send_copy)
    rc = result_code(out)
    if rc < 0:
        return out, None
    return out, (CLASSES[rc // 1000] if rc < 10000 else result_class(rc))


def complete(dedup: DuplicateCache, host: bytes, data: bytes, out: bytes, now: float,
             send_copy: Callable[[Any, bytearray], object]) -> bytes:
    """:func:`answered`'s answer to send, completed and cached (copies waiting get it), without its class."""
    if len(out) < 20:
        raise ValueError(f"an answer of {len(out)} bytes has no Diameter header")
    i: i64 = 12
    while i < 20:
        if out[i] != data[i]:
            b = bytearray(out)
            b[12:20] = data[12:20]
            out = bytes(b)
            break
        i += 1
    e2e: i64 = (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19]
    waiters = dedup.record(host, e2e, out, now)
    if waiters:
        for w in waiters:
            copy = bytearray(out)
            hbh: int = w[1]
            copy[12] = (hbh >> 24) & 0xFF
            copy[13] = (hbh >> 16) & 0xFF
            copy[14] = (hbh >> 8) & 0xFF
            copy[15] = hbh & 0xFF
            send_copy(w[0], copy)
    return out
