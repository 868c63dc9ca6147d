"""Our message classes end to end: node -> freeDiameter relay -> node, then tshark.

Unlike ``test_freediameter_node.py`` (hand-built bytes), these requests and
answers are ``diameter.message`` objects encoded and decoded by our codec, so
freeDiameter (which parses every relayed message against its dcca
dictionary) and Wireshark both judge our encoder's output.
"""

from __future__ import annotations

import asyncio

import pytest

from diameter.message import Message
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.node.aio.node import DiameterNode

from .freediameter import ConnectPeer, free_tcp_port
from .tshark import dissect

pytestmark = pytest.mark.interop

DCCA = 4


def make_ccr(session: str, number: int) -> CreditControlRequest:
    req = CreditControlRequest()
    req.session_id = session
    req.origin_host = b"client.c.test"
    req.origin_realm = b"c.test"
    req.destination_realm = b"a.test"
    req.auth_application_id = DCCA
    req.service_context_id = "32251@3gpp.org"
    req.cc_request_type = 1 if number == 0 else 2
    req.cc_request_number = number
    return req


def test_credit_control_objects_through_freediameter_relay(freediameter):
    port = free_tcp_port()
    handled: list[CreditControlRequest] = []
    wire_log: list[bytes] = []

    async def handle(req: CreditControlRequest) -> CreditControlAnswer:
        handled.append(req)
        ans = req.to_answer()  # copies the header only, as in python-diameter
        ans.session_id = req.session_id
        ans.result_code = 2001
        ans.origin_host = b"srv.a.test"
        ans.origin_realm = b"a.test"
        ans.auth_application_id = DCCA
        ans.cc_request_type = req.cc_request_type
        ans.cc_request_number = req.cc_request_number
        wire_log.append(ans.as_bytes())
        return ans

    async def scenario() -> list[Message]:
        server = DiameterNode("srv.a.test", "a.test", ip_addresses=["127.0.0.1"], tcp_port=port,
                              listen_addresses=["127.0.0.1"])
        server.add_application(DCCA, handle)
        server.add_peer("relay.relay.test", "relay.test")
        client = DiameterNode("client.c.test", "c.test", ip_addresses=["127.0.0.1"])
        client.add_application(DCCA)
        await server.start()
        await client.start()
        try:
            relay = await asyncio.to_thread(
                freediameter, "relay.relay.test", "relay.test", dump_messages=True,
                allow=["*.c.test"], peers=[ConnectPeer("srv.a.test", port, realm="a.test")],
                routes=['dr="a.test" : rlm="a.test" += 100 ;'])
            await server.wait_open("relay.relay.test", timeout=15)
            # Our side is open once it sent the CEA; the relay routes to us only
            # after it has read that CEA (CI once saw a ROUTING ERROR in between).
            await asyncio.to_thread(relay.wait_peer_state, "srv.a.test", "STATE_OPEN")
            hop = client.add_peer("relay.relay.test", "relay.test", ["127.0.0.1"], port=relay.port)
            await client.connect(hop, timeout=10)
            client.add_route("a.test", ["relay.relay.test"])
            answers = []
            for n in range(3):
                req = make_ccr("client.c.test;42", n)
                answers.append(await client.request(req, timeout=10))
                wire_log.append(req.as_bytes())
        finally:
            await client.stop(timeout=3)
            await server.stop(timeout=3)
        log = relay.log()
        assert "PARSING ERROR" not in log and "ROUTING ERROR" not in log, log
        assert log.count("FORWARDING:") >= 6, log  # 3 requests and 3 answers relayed
        return answers

    answers = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert [type(a) for a in answers] == [CreditControlAnswer] * 3
    assert [a.result_code for a in answers] == [2001] * 3
    assert [a.cc_request_number for a in answers] == [0, 1, 2]
    assert [a.origin_host for a in answers] == [b"srv.a.test"] * 3
    assert [a.session_id for a in answers] == ["client.c.test;42"] * 3
    assert [type(r) for r in handled] == [CreditControlRequest] * 3
    assert [r.cc_request_type for r in handled] == [1, 2, 2]
    assert [r.destination_realm for r in handled] == [b"a.test"] * 3

    # Wireshark's view of exactly the bytes our codec produced.
    for d in dissect(wire_log):
        assert d.errors == [], d
        assert d.warnings == [], d
        assert d.command_code == 272 and d.application_id == DCCA
        assert d.find("Session-Id")[0].value == "client.c.test;42"
        assert d.find("Auth-Application-Id")[0].value == str(DCCA)
