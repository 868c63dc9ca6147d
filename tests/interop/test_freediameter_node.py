"""Our asyncio node against a real freeDiameterd: client, server and through a relay.

Requests and answers are hand-built bytes (``wire``) and the node runs with a
pass-through ``decode`` so these tests exercise the node's transport, peer
state machine and routing, not the message classes.
"""

from __future__ import annotations

import asyncio

import pytest

from diameter.node.aio.node import DiameterNode

from . import wire
from .freediameter import ConnectPeer, free_tcp_port

pytestmark = pytest.mark.interop

DCCA = 4
CCR = 272
SERVICE_CONTEXT_ID = 461
CC_REQUEST_TYPE = 416
CC_REQUEST_NUMBER = 415


def node(identity: str, realm: str, **kw) -> DiameterNode:
    kw.setdefault("ip_addresses", ["127.0.0.1"])
    kw.setdefault("decode", bytes)
    return DiameterNode(identity, realm, **kw)


def ccr(origin_host: str, origin_realm: str, dest_realm: str, session: str) -> bytes:
    """A minimal Credit-Control-Request (RFC 4006), proxiable, Destination-Realm only."""
    return wire.message(CCR, [
        wire.avp_str(wire.SESSION_ID, session),
        wire.avp_str(wire.ORIGIN_HOST, origin_host),
        wire.avp_str(wire.ORIGIN_REALM, origin_realm),
        wire.avp_str(wire.DESTINATION_REALM, dest_realm),
        wire.avp_u32(wire.AUTH_APPLICATION_ID, DCCA),
        wire.avp_str(SERVICE_CONTEXT_ID, "32251@3gpp.org"),
        wire.avp_u32(CC_REQUEST_TYPE, 1),
        wire.avp_u32(CC_REQUEST_NUMBER, 0),
    ], proxiable=True, app_id=DCCA, hop_by_hop=0, end_to_end=0)  # 0: the node assigns them


def cca_handler(identity: str, realm: str, seen: list[wire.RawMessage]):
    """A DCCA handler answering every CCR with DIAMETER_SUCCESS, recording requests."""
    def handle(data: bytes) -> bytes:
        req = wire.parse_message(data)
        seen.append(req)
        return wire.message(CCR, [
            wire.avp(wire.SESSION_ID, req.one(wire.SESSION_ID).data),
            wire.avp_u32(wire.RESULT_CODE, wire.DIAMETER_SUCCESS),
            wire.avp_str(wire.ORIGIN_HOST, identity),
            wire.avp_str(wire.ORIGIN_REALM, realm),
            wire.avp_u32(wire.AUTH_APPLICATION_ID, DCCA),
            wire.avp_u32(CC_REQUEST_TYPE, req.one(CC_REQUEST_TYPE).u32()),
            wire.avp_u32(CC_REQUEST_NUMBER, req.one(CC_REQUEST_NUMBER).u32()),
        ], request=False, proxiable=True, app_id=DCCA,
            hop_by_hop=req.hop_by_hop, end_to_end=req.end_to_end)
    return handle


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def assert_no_parse_errors(fd, *, unroutable_sessions: tuple[str, ...] = ()) -> None:
    """freeDiameter parsed everything we sent and routed all but the expected sessions."""
    log = fd.log()
    assert "PARSING ERROR" not in log, log
    for line in log.splitlines():
        if "ROUTING ERROR" in line:
            assert any(f'Session-Id(263)[-M]="{s}"' in line for s in unroutable_sessions), line


# -- (a) our client to a freeDiameterd server ---------------------------------------

def test_client_cer_dwr_dpr_with_freediameter_server(freediameter):
    fd = freediameter("server.fd.test", "fd.test", dump_messages=True)

    async def scenario() -> None:
        n = node("client.fd.test", "fd.test", tw=1.0)
        n.add_application(DCCA)
        peer = n.add_peer("server.fd.test", "fd.test", ["127.0.0.1"], port=fd.port)
        await n.start()
        try:
            await n.connect(peer, timeout=10)
            assert peer.is_open
            assert peer.capabilities.origin_host == "server.fd.test"
            assert peer.negotiated.peer_is_relay  # freeDiameter without apps is a relay
            await asyncio.to_thread(fd.wait_peer_state, "client.fd.test", "STATE_OPEN")

            # The node's own watchdog (Tw = 1 s +- jitter) sends DWRs that freeDiameter answers.
            rcv = r"RCV from 'client\.fd\.test': Device-Watchdog-Request\(280\)\[R---\]"
            snd = r"SND to 'client\.fd\.test': Device-Watchdog-Answer\(280\).*DIAMETER_SUCCESS"
            for _ in range(2):
                mark = fd.log_size()
                await asyncio.to_thread(fd.wait_for_log, rcv, 8, start=mark)
                await asyncio.to_thread(fd.wait_for_log, snd, 8, start=mark)
            assert peer.is_open
        finally:
            await n.stop(timeout=5)
        assert not peer.is_open

    run(scenario())
    fd.wait_for_log(r"Peer 'client\.fd\.test' sent a DPR with cause: REBOOTING")
    fd.wait_peer_state("client.fd.test", "STATE_ZOMBIE")
    cer = fd.wait_for_log(r"Connected to 'client\.fd\.test'.*\n.*Capabilities-Exchange-Request.*")
    assert "Host-IP-Address(257)[-M]=127.0.0.1" in cer.group(0)
    assert "Auth-Application-Id(258)[-M]=4 " in cer.group(0)
    assert_no_parse_errors(fd)


def test_freediameter_server_shutdown_sends_dpr_to_our_client(freediameter):
    fd = freediameter("server.fd.test", "fd.test", dump_messages=True)

    async def scenario() -> None:
        n = node("client.fd.test", "fd.test")
        n.add_application(DCCA)
        peer = n.add_peer("server.fd.test", "fd.test", ["127.0.0.1"], port=fd.port)
        states: list[str] = []
        n.on_peer_state.append(lambda p, what: states.append(what))
        await n.start()
        try:
            await n.connect(peer, timeout=10)
            # SIGTERM: freeDiameter sends DPR and exits only after our DPA (or 16 s).
            rc = await asyncio.to_thread(fd.stop, 10)
            assert rc == 0
            for _ in range(100):
                if not peer.is_open:
                    break
                await asyncio.sleep(0.05)
            assert not peer.is_open, peer.state
            assert peer.last_disconnect_cause == 0  # REBOOTING
            assert "closed: DPR received" in states, states
        finally:
            await n.stop(timeout=2)

    run(scenario())
    fd.wait_for_log(r"SND to 'client\.fd\.test': Disconnect-Peer-Request\(282\)\[R---\]")
    fd.wait_for_log(r"RCV from 'client\.fd\.test': Disconnect-Peer-Answer\(282\).*DIAMETER_SUCCESS")
    assert_no_parse_errors(fd)


# -- (b) freeDiameterd connecting to our server ---------------------------------------

def test_freediameter_client_connects_to_our_server(freediameter):
    port = free_tcp_port()

    async def scenario() -> None:
        n = node("server.ours.test", "ours.test", tcp_port=port, listen_addresses=["127.0.0.1"],
                 tw=30.0)
        n.add_application(DCCA)
        peer = n.add_peer("client.fd.test", "fd.test")
        await n.start()
        try:
            fd = await asyncio.to_thread(
                freediameter, "client.fd.test", "fd.test", dump_messages=True,
                peers=[ConnectPeer("server.ours.test", port)])
            await n.wait_open(peer, timeout=15)
            assert peer.capabilities.origin_host == "client.fd.test"
            assert peer.capabilities.origin_realm == "fd.test"
            await asyncio.to_thread(fd.wait_peer_state, "server.ours.test", "STATE_OPEN")
            cea = await asyncio.to_thread(
                fd.wait_for_log, r"Connected to 'server\.ours\.test'.*\n.*Capabilities-Exchange-Answer.*")
            assert "DIAMETER_SUCCESS" in cea.group(0)
            assert "Auth-Application-Id(258)[-M]=4 " in cea.group(0)

            # freeDiameter's watchdog (TwTimer 6 s, +-2 s jitter) probes our idle node.
            await asyncio.to_thread(
                fd.wait_for_log, r"SND to 'server\.ours\.test': Device-Watchdog-Request", 12)
            await asyncio.to_thread(
                fd.wait_for_log,
                r"RCV from 'server\.ours\.test': Device-Watchdog-Answer.*DIAMETER_SUCCESS", 5)
            assert peer.is_open
        finally:
            await n.stop(timeout=5)
        await asyncio.to_thread(
            fd.wait_for_log, r"Peer 'server\.ours\.test' sent a DPR with cause: REBOOTING")
        assert_no_parse_errors(fd)

    run(scenario())


# -- (c) our client -> freeDiameter relay -> our servers --------------------------------

def test_requests_routed_by_realm_through_freediameter_relay(freediameter):
    port_a = free_tcp_port()
    port_b = free_tcp_port()
    seen_a: list[wire.RawMessage] = []
    seen_b: list[wire.RawMessage] = []

    async def scenario() -> None:
        srv_a = node("srv.a.test", "a.test", tcp_port=port_a, listen_addresses=["127.0.0.1"])
        srv_a.add_application(DCCA, cca_handler("srv.a.test", "a.test", seen_a))
        srv_a.add_peer("relay.relay.test", "relay.test")
        srv_b = node("srv.b.test", "b.test", tcp_port=port_b, listen_addresses=["127.0.0.1"])
        srv_b.add_application(DCCA, cca_handler("srv.b.test", "b.test", seen_b))
        srv_b.add_peer("relay.relay.test", "relay.test")
        client = node("client.c.test", "c.test")
        client.add_application(DCCA)
        await srv_a.start()
        await srv_b.start()
        await client.start()
        try:
            relay = await asyncio.to_thread(
                freediameter, "relay.relay.test", "relay.test", dump_messages=True,
                allow=["*.c.test"],
                peers=[ConnectPeer("srv.a.test", port_a, realm="a.test"),
                       ConnectPeer("srv.b.test", port_b, realm="b.test")],
                routes=['dr="a.test" : rlm="a.test" += 100 ;',
                        'dr="b.test" : rlm="b.test" += 100 ;'])
            await srv_a.wait_open("relay.relay.test", timeout=15)
            await srv_b.wait_open("relay.relay.test", timeout=15)
            await asyncio.to_thread(relay.wait_peer_state, "srv.a.test", "STATE_OPEN")
            await asyncio.to_thread(relay.wait_peer_state, "srv.b.test", "STATE_OPEN")

            hop = client.add_peer("relay.relay.test", "relay.test", ["127.0.0.1"], port=relay.port)
            await client.connect(hop, timeout=10)
            client.add_route("a.test", ["relay.relay.test"])
            client.add_route("b.test", ["relay.relay.test"])

            answers = await asyncio.gather(*(
                client.request_bytes(ccr("client.c.test", "c.test", realm, f"client.c.test;{i}"),
                                     timeout=10)
                for i, realm in enumerate(["a.test", "b.test", "a.test", "b.test", "a.test"])))
            for i, raw in enumerate(answers):
                ans = wire.parse_message(raw)
                assert ans.command == CCR and not ans.is_request
                assert ans.one(wire.RESULT_CODE).u32() == wire.DIAMETER_SUCCESS
                assert ans.one(wire.SESSION_ID).text() == f"client.c.test;{i}"
                expected = "srv.a.test" if i % 2 == 0 else "srv.b.test"
                assert ans.one(wire.ORIGIN_HOST).text() == expected

            # Unknown realm: freeDiameter answers with an error itself (UNABLE_TO_DELIVER).
            client.add_route("nowhere.test", ["relay.relay.test"])
            err = wire.parse_message(await client.request_bytes(
                ccr("client.c.test", "c.test", "nowhere.test", "client.c.test;x"), timeout=10))
            assert err.flags & wire.FLAG_ERROR
            assert err.one(wire.RESULT_CODE).u32() == 3002
            assert err.one(wire.ORIGIN_HOST).text() == "relay.relay.test"
        finally:
            await client.stop(timeout=3)
            await srv_a.stop(timeout=3)
            await srv_b.stop(timeout=3)
        assert_no_parse_errors(relay, unroutable_sessions=("client.c.test;x",))

    run(scenario(), 90)
    assert [r.one(wire.SESSION_ID).text() for r in seen_a] == \
        ["client.c.test;0", "client.c.test;2", "client.c.test;4"]
    assert [r.one(wire.SESSION_ID).text() for r in seen_b] == ["client.c.test;1", "client.c.test;3"]
    for req in seen_a + seen_b:
        # RFC 6733 6.1.9: the relay records the peer it received the request from.
        assert [r.text() for r in req.find(wire.ROUTE_RECORD)] == ["client.c.test"]
        assert req.one(wire.ORIGIN_HOST).text() == "client.c.test"
