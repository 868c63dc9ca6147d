"""Building the RFC 6733 answer to a request that failed validation (sections 7.1, 7.2, 7.5)."""
from __future__ import annotations

from typing import Any

from ..codec.errors import DecodeError
from ..codec.frame import HEADER
from ..codec.wire import encode_avp, scan_avps
from .findings import ValidationError
from .rules import RuleSet, default_rules, key_of

__all__ = ["error_answer", "failed_avp"]

_SESSION_ID = key_of(263, 0)
_PROXY_INFO = key_of(284, 0)
_FAILED_AVP = 279
# answered by error_answer itself, never copied from the request
_OWN = frozenset(key_of(c, 0) for c in (263, 264, 296, 268, 281, 294, 279, 278, 284, 297))


def failed_avp(finding: ValidationError) -> bytes | None:
    """The Failed-AVP (279) for a finding: the offending AVP inside its enclosing groups."""
    if finding.avp is None:
        return None
    inner = finding.avp
    for code, vendor, flags in reversed(finding.path):
        inner = encode_avp(code, flags, vendor, inner)
    return encode_avp(_FAILED_AVP, 0x40, 0, inner)


def error_answer(request: Any, finding: ValidationError, *, origin_host: bytes | str,
                 origin_realm: bytes | str, error_reporting_host: bytes | str | None = None,
                 error_message: str | None = None, origin_state_id: int | None = None,
                 dictionary: RuleSet | None = None, e_bit: bool | None = None) -> Any:
    """The answer to ``request`` (a ``Message`` or its bytes) reporting ``finding``.

    - E bit set for protocol errors (3xxx), as RFC 6733 7.1.3 requires, and then the
      body follows the generic answer grammar of 7.2; permanent failures (5xxx) are
      answered without it (7.1.5) and carry the AVPs the command's answer grammar
      requires when the request has them (Auth-Application-Id, CC-Request-Type...).
      ``e_bit`` forces either form.
    - Session-Id copied first, Origin-Host/Origin-Realm from the arguments,
      Result-Code, Error-Message (the finding's text unless given),
      Error-Reporting-Host when given and different from ``origin_host``
      (RFC 6733 7.3), Failed-AVP holding the offending AVP (7.5), Proxy-Info copied
      in order (6.2).
    - Same command code, application, Hop-by-Hop and End-to-End identifiers,
      P bit kept.

    Returns the decoded answer (the typed answer class when the command is known).
    Raises ``ValueError`` when ``request`` has no readable 20-byte header or is
    not a request.
    """
    from ..message import Message
    rules = dictionary if dictionary is not None else default_rules()
    data = bytes(request) if isinstance(request, (bytes, bytearray, memoryview)) \
        else request.as_bytes()
    if len(data) < 20:
        raise ValueError("a request needs at least its 20-byte header to be answered")
    vl, fc, app, hbh, e2e = HEADER.unpack_from(data, 0)
    flags, code = fc >> 24, fc & 0xFFFFFF
    if not flags & 0x80:
        raise ValueError("error_answer() answers requests; this message is an answer")
    avps = _readable_avps(data, vl & 0xFFFFFF)
    protocol = finding.protocol_error if e_bit is None else e_bit
    session = [a for k, a in avps if k == _SESSION_ID][:1]
    parts: list[bytes] = list(session)
    parts.append(encode_avp(264, 0x40, 0, _bytes(origin_host)))
    parts.append(encode_avp(296, 0x40, 0, _bytes(origin_realm)))
    parts.append(encode_avp(268, 0x40, 0, finding.result_code.to_bytes(4, "big")))
    if not protocol:
        grammar = rules.command(app, code, False)
        if grammar is not None:
            have = {k for k, _a in avps}
            for k, lo, hi in grammar.bounds:
                if lo > 0 and k not in _OWN and k in have:
                    # no more than the answer allows (the request may have too many: 5009)
                    parts.extend([a for kk, a in avps if kk == k][:hi if hi >= 0 else None])
    if origin_state_id is not None:
        parts.append(encode_avp(278, 0x40, 0, origin_state_id.to_bytes(4, "big")))
    text = error_message if error_message is not None else str(finding)
    if text:
        parts.append(encode_avp(281, 0, 0, text.encode("utf-8")))
    if error_reporting_host is not None and _bytes(error_reporting_host) != _bytes(origin_host):
        parts.append(encode_avp(294, 0, 0, _bytes(error_reporting_host)))
    fa = failed_avp(finding)
    if fa is not None:
        parts.append(fa)
    parts.extend(a for k, a in avps if k == _PROXY_INFO)
    body = b"".join(parts)
    out_flags = (flags & 0x40) | (0x20 if protocol else 0)
    header = HEADER.pack((1 << 24) | (20 + len(body)), (out_flags << 24) | code, app, hbh, e2e)
    return Message.from_bytes(header + body)


def _bytes(v: bytes | str) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def _readable_avps(data: bytes, length: int) -> list[tuple[int, bytes]]:
    """(key, encoded AVP) of the request's top-level AVPs, as far as they parse."""
    end = min(length, len(data))
    out: list[tuple[int, bytes]] = []
    pos = 20
    while pos < end:
        try:
            e = scan_avps(data, pos, pos + _next_len(data, pos, end))[0]
        except (DecodeError, IndexError, ValueError):
            break
        s, pe = e[3], e[5]
        nxt = pe + (-(pe - s) & 3)
        out.append((e[0] | (e[1] << 32), data[s:nxt]))
        pos = nxt
    return out


def _next_len(data: bytes, pos: int, end: int) -> int:
    if end - pos < 8:
        raise ValueError("truncated")
    n = int.from_bytes(data[pos + 5:pos + 8], "big")
    return min((n + 3) & ~3, end - pos)
