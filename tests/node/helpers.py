"""Shared helpers for node tests: wiring sans-IO connections, building messages."""
from __future__ import annotations

import random

from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Capabilities
from diameter.node.protocol.connection import PeerConnection
from diameter.node.protocol.constants import (
    AVP_AUTH_APPLICATION_ID, AVP_DESTINATION_HOST, AVP_DESTINATION_REALM, AVP_ORIGIN_HOST,
    AVP_ORIGIN_REALM, AVP_RESULT_CODE, AVP_SESSION_ID, FLAG_PROXYABLE, FLAG_REQUEST)


def caps(host: str, realm: str = "test.realm", auth=(4,), acct=(), **kw) -> Capabilities:
    return Capabilities(host, realm, ["127.0.0.1"], 10415, "test", 1, {10415}, set(auth), set(acct), **kw)


def pair(a_caps=None, b_caps=None, now=0.0, **kw):
    """An initiator (a) and responder (b), not yet started."""
    a = PeerConnection(a_caps or caps("a.test.realm"), True, now, rng=random.Random(1), **kw)
    b = PeerConnection(b_caps or caps("b.test.realm"), False, now, rng=random.Random(2), **kw)
    return a, b


def pump(a: PeerConnection, b: PeerConnection, now: float, rounds: int = 10):
    """Move bytes both ways until quiet; returns (events of a, events of b)."""
    ea, eb = [], []
    for _ in range(rounds):
        out_a, out_b = a.take_outgoing(), b.take_outgoing()
        if not out_a and not out_b:
            break
        for d in out_a:
            eb += b.receive_data(d, now)
        for d in out_b:
            ea += a.receive_data(d, now)
    return ea, eb


def app_request(app=4, hbh=1, e2e=1, origin="a.test.realm", dest_realm="test.realm",
                dest_host=None, extra=(), flags=FLAG_REQUEST | FLAG_PROXYABLE, command=272) -> bytes:
    avps = [A.text(AVP_SESSION_ID, f"{origin};1;{e2e}"), A.text(AVP_ORIGIN_HOST, origin),
            A.text(AVP_ORIGIN_REALM, "test.realm"), A.text(AVP_DESTINATION_REALM, dest_realm)]
    if dest_host:
        avps.append(A.text(AVP_DESTINATION_HOST, dest_host))
    avps.append(A.u32(AVP_AUTH_APPLICATION_ID, app))
    if command == 272:  # the rest of a valid CCR (RFC 4006 3.1), so validation lets it through
        avps += [A.text(461, "32251@3gpp.org"), A.u32(416, 1), A.u32(415, e2e)]
    avps += list(extra)
    return A.message(flags, command, app, hbh, e2e, avps)


def result_of(data: bytes) -> int | None:
    return A.as_u32(A.find(data, AVP_RESULT_CODE))
