"""The client's request path takes its usual case inline (one open peer: usable or not;
an answer decoded by the default decoder): the outcome must be the general one's."""
from __future__ import annotations

import asyncio
import functools
import itertools

import pytest

from diameter.node.aio import NodeError, NotRoutable
from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Negotiated
from diameter.node.protocol.constants import APP_COMMON, FLAG_PROXYABLE

from .aio_helpers import client, server
from .helpers import app_request


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


NEGOTIATED = {
    "none": None,
    "auth 4": Negotiated(2001, {4}, set()),
    "acct 4": Negotiated(2001, set(), {4}),
    "auth 5": Negotiated(2001, {5}, set()),
    "relay": Negotiated(2001, set(), set(), peer_is_relay=True),
}


@aio
async def test_one_open_peer_is_chosen_exactly_when_usable():
    srv = await server()
    cli = await client([("server.test.realm", srv.listen_ports[0])], request_timeout=5.0)
    peer = cli.peers["server.test.realm"]
    proto = peer.protocol
    real = peer.negotiated
    futures = []
    try:
        for (name, neg), app, congested, suspect in itertools.product(
                NEGOTIATED.items(), (4, 5, APP_COMMON), (False, True), (False, True)):
            peer.negotiated, proto.congested, peer.suspect = neg, congested, suspect
            usable = neg is not None and neg.supports(app) and not congested and not suspect
            # the general selection (select_peer) agrees with what is expected
            assert (cli._usable(peer.key, app) and not suspect) == usable
            data = app_request(app=app, e2e=0)
            try:
                futures.append(cli.request_future(data, raw=True))
                routed = True
            except NotRoutable:
                routed = False
            assert routed == usable, (name, app, congested, suspect)
    finally:
        peer.negotiated, proto.congested, peer.suspect = real, False, False
    # whatever was sent is answered (app 4 by the handler, the others with an error answer)
    answers = await asyncio.gather(*futures, return_exceptions=True)
    # usable, neither congested nor suspect: auth 4, acct 4 and auth 5 for two applications each
    # (theirs and the common one), the relay for all three
    assert len(answers) == 9 and all(isinstance(a, bytes) for a in answers)
    # a peer chosen by Destination-Host takes the general path
    fut = cli.request_future(app_request(dest_host="server.test.realm", e2e=0), raw=True)
    assert isinstance(await fut, bytes)
    await cli.stop()
    await srv.stop()


def _bad_answer(req) -> bytes:
    """An answer whose last AVP's length is shorter than an AVP header: it does not decode."""
    return A.message(FLAG_PROXYABLE, 272, 4, 0, 0, [A.text(263, "s;1"), A.u32(268, 2001),
                                                   bytes.fromhex("000001b4400000050000000000000000")])


@pytest.mark.parametrize("decoder", ["default", "custom"])
@aio
async def test_answers_decode_or_fail_the_future(decoder):
    srv = await server(handler=lambda req: _bad_answer(req) if req.cc_request_number == 2 else _good(req))
    seen = []

    def custom(data: bytes):
        seen.append(len(data))
        from diameter.message import Message
        return Message.from_bytes(data)
    kw = {"decode": custom} if decoder == "custom" else {}
    cli = await client([("server.test.realm", srv.listen_ports[0])], **kw)
    ok = await cli.request(app_request(e2e=0))
    assert ok.result_code == 2001 and ok.cc_request_number == 0
    with pytest.raises(NodeError, match="cannot decode answer"):
        await cli.request(_ccr_number(2))
    # raw requests get the answer's bytes, undecoded
    raw = await cli.request_bytes(_ccr_number(2))
    assert isinstance(raw, bytes) and raw[-16:] == bytes.fromhex("000001b4400000050000000000000000")
    assert len(seen) == (0 if decoder == "default" else 2)   # the good answer and the bad one
    await cli.stop()
    await srv.stop()


def _good(req):
    a = req.to_answer()
    a.session_id = req.session_id
    a.origin_host = b"server.test.realm"
    a.origin_realm = b"test.realm"
    a.result_code = 2001
    a.auth_application_id = 4
    a.cc_request_type = req.cc_request_type
    a.cc_request_number = req.cc_request_number
    return a


def _ccr_number(n: int) -> bytes:
    data = bytearray(app_request(e2e=0))
    # CC-Request-Number (415) is the last AVP app_request writes: set its value
    data[-4:] = n.to_bytes(4, "big")
    return bytes(data)
