"""Answers and forwarded requests built by the node itself, as pure functions of bytes.

Error answers (RFC 6733 §7.2), redirect indications (§6.13), the Route-Record
a relay adds (§6.1.9) and the Redirect-Host AVPs of a 3006 answer.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..uri import parse_diameter_uri
from . import avps as A
from .framing import Header
from .constants import (AVP_ERROR_MESSAGE, AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_PROXY_INFO,
                        AVP_REDIRECT_HOST, AVP_REDIRECT_HOST_USAGE, AVP_REDIRECT_MAX_CACHE_TIME,
                        AVP_RESULT_CODE, AVP_ROUTE_RECORD, AVP_SESSION_ID, DIAMETER_LOOP_DETECTED,
                        FLAG_ERROR, FLAG_PROXYABLE, REDIRECT_DONT_CACHE)


def error_answer(hdr: Header, request: bytes, result: int, origin_host: str, origin_realm: str,
                 message: str | None = None, extra: list[bytes] | None = None) -> bytes:
    """The answer this node sends for ``request`` with ``result``.

    Session-Id and Proxy-Info come from the request; no Error-Reporting-Host
    (this node is the answer's Origin-Host, RFC 6733 6.2, 7.3); the E bit for 3xxx.
    """
    avps_out = []
    sid = A.find(request, AVP_SESSION_ID) if request else None
    if sid is not None:
        avps_out.append(A.avp(AVP_SESSION_ID, sid))
    avps_out += [A.text(AVP_ORIGIN_HOST, origin_host), A.text(AVP_ORIGIN_REALM, origin_realm),
                 A.u32(AVP_RESULT_CODE, result)]
    if message:
        avps_out.append(A.avp(AVP_ERROR_MESSAGE, message.encode(), mandatory=False))
    if extra:
        avps_out += extra
    try:
        avps_out += [A.avp(AVP_PROXY_INFO, p) for p in A.find_all(request, AVP_PROXY_INFO)]
    except A.AvpError:
        pass
    flags = (hdr.flags & FLAG_PROXYABLE) | (FLAG_ERROR if 3000 <= result < 4000 else 0)
    return A.message(flags, hdr.command_code, hdr.application_id, hdr.hop_by_hop_identifier, hdr.end_to_end_identifier, avps_out)


def redirect_avps(hosts: list[str], usage: int | None, max_cache_time: int | None) -> list[bytes]:
    """Redirect-Host (as aaa:// URIs), Redirect-Host-Usage and Redirect-Max-Cache-Time."""
    extra = [A.text(AVP_REDIRECT_HOST, f"aaa://{h}") for h in hosts]
    if usage is not None:
        extra.append(A.u32(AVP_REDIRECT_HOST_USAGE, usage))
    if max_cache_time is not None:
        extra.append(A.u32(AVP_REDIRECT_MAX_CACHE_TIME, max_cache_time))
    return extra


class Redirect(NamedTuple):
    hosts: list[str]
    usage: int
    max_cache_time: int


def parse_redirect(answer: bytes) -> Redirect | None:
    """The redirect of a 3006 answer, None when it names no usable host."""
    try:
        hosts = [parse_diameter_uri(p.decode("utf-8", "replace")).fqdn
                 for c, _f, v, p in A.iter_avps(answer) if c == AVP_REDIRECT_HOST and v == 0]
    except (A.AvpError, ValueError):
        return None
    if not hosts:
        return None
    return Redirect(hosts, A.as_u32(A.find(answer, AVP_REDIRECT_HOST_USAGE), REDIRECT_DONT_CACHE),
                    A.as_u32(A.find(answer, AVP_REDIRECT_MAX_CACHE_TIME), 0))


class RelayError(NamedTuple):
    result_code: int
    message: str | None


def relayed(request: bytes, previous_hop: str, local_host: str) -> bytearray | RelayError:
    """The request as this agent forwards it (a Route-Record of the previous hop
    appended), or why it must not be: a Route-Record naming this node is a loop (3005)."""
    me = local_host.lower().encode()
    try:
        records = A.find_all(request, AVP_ROUTE_RECORD)
    except A.AvpError as exc:
        return RelayError(exc.result_code, str(exc))
    if any(r.lower() == me for r in records):
        return RelayError(DIAMETER_LOOP_DETECTED, None)
    out = bytearray(request)
    out += A.text(AVP_ROUTE_RECORD, previous_hop)
    out[1:4] = len(out).to_bytes(3, "big")
    return out


def answer_header(answer: Any) -> tuple | None:
    """(length, flags, code, app, hbh, e2e) of a message object, None if it has no header."""
    h = getattr(answer, "header", None)
    if h is None:
        return None
    try:
        return (0, h.command_flags, h.command_code, h.application_id, h.hop_by_hop_identifier,
                h.end_to_end_identifier)
    except AttributeError:
        return None
