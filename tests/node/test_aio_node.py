"""asyncio node over real loopback sockets."""
from __future__ import annotations

import asyncio
import functools

import pytest

from diameter.node.aio import NotRoutable, PeerFailed, RequestTimeout
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import (
    AVP_REDIRECT_HOST, AVP_RESULT_CODE, AVP_ROUTE_RECORD, CMD_DEVICE_WATCHDOG,
    DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_COMMAND_UNSUPPORTED, DIAMETER_ELECTION_LOST,
    DIAMETER_INVALID_HDR_BITS, DIAMETER_INVALID_MESSAGE_LENGTH, DIAMETER_LOOP_DETECTED,
    DIAMETER_REALM_NOT_SERVED, DIAMETER_REDIRECT_INDICATION, DIAMETER_SUCCESS,
    DIAMETER_UNABLE_TO_COMPLY, DIAMETER_UNABLE_TO_DELIVER, DIAMETER_UNKNOWN_PEER,
    DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU, DISCONNECT_REBOOTING, FLAG_ERROR, FLAG_REQUEST,
    FLAG_RETRANSMIT, REDIRECT_ALL_REALM)
from diameter.node.protocol.routing import RouteAction

from .aio_helpers import REALM, RawPeer, answer_for, ccr, client, has_ipv6, server
from .helpers import app_request, result_of


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


@pytest.mark.parametrize("host", ["127.0.0.1", pytest.param("::1", marks=pytest.mark.skipif(
    not has_ipv6(), reason="no IPv6 loopback on this machine"))])
@aio
async def test_cer_request_answer_dpr(host):
    srv = await server(host=host)
    cli = await client([("server.test.realm", srv.listen_ports[0])], host=host)
    peer = cli.peers["server.test.realm"]
    assert peer.capabilities.host_ip_addresses == [host]
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(50)))
    assert [a.result_code for a in answers] == [2001] * 50
    assert sorted(a.cc_request_number for a in answers) == list(range(50))
    st = peer.stats.cmd(272)
    assert st.requests_sent == 50 and st.answers_received == 50 and st.result_classes["2xxx"] == 50
    assert len(cli.pending) == 0
    await cli.stop()
    assert srv.peers["client.test.realm"].last_disconnect_cause == DISCONNECT_REBOOTING
    await srv.stop()


@aio
async def test_unknown_peer_gets_3010_and_close():
    srv = await server()
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("stranger.test.realm") == DIAMETER_UNKNOWN_PEER
    assert await raw.closed()
    await srv.stop()


@aio
async def test_unknown_peer_accepted_when_configured():
    srv = await server(accept_unknown_peers=True)
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("stranger.test.realm") == DIAMETER_SUCCESS
    raw.send(app_request(origin="stranger.test.realm", hbh=9, e2e=9))
    ans = await raw.recv()
    assert result_of(ans) == 2001 and int.from_bytes(ans[12:16], "big") == 9
    raw.close()
    await srv.stop()


@aio
async def test_dpr_do_not_want_to_talk_stops_reconnect_rebooting_reconnects():
    srv = await server()
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    peer = cli.peers["server.test.realm"]
    # server says REBOOTING: the client reconnects by itself
    srv.disconnect_peer("client.test.realm", DISCONNECT_REBOOTING)
    await asyncio.sleep(0.1)
    await cli.wait_open(peer, 5)
    assert peer.stats.connects == 2
    # server says DO_NOT_WANT_TO_TALK_TO_YOU: the client stays away
    srv.disconnect_peer("client.test.realm", DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU)
    await asyncio.sleep(1.0)
    assert not peer.is_open and peer.no_reconnect and peer.stats.connects == 2
    await cli.stop()
    await srv.stop()


@aio
async def test_failover_of_pending_requests_when_a_peer_dies_under_load():
    calls1, calls2 = [], []
    s1 = await server("s1.test.realm", handler=answer_for("s1.test.realm", calls1, delay=0.2))
    s2 = await server("s2.test.realm", handler=answer_for("s2.test.realm", calls2))
    cli = await client([("s1.test.realm", s1.listen_ports[0]), ("s2.test.realm", s2.listen_ports[0])],
                       request_timeout=10)
    futs = [cli.request_future(ccr("client.test.realm", i)) for i in range(200)]
    await asyncio.sleep(0.05)
    assert cli.pending.count("s1.test.realm") > 0
    # kill s1 abruptly: no DPR, transports aborted
    for p in list(s1.protocols):
        p.abort()
    results = await asyncio.gather(*futs, return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len(ok) == 200, [r for r in results if isinstance(r, Exception)][:3]
    assert any(a.origin_host == b"s2.test.realm" for a in ok)
    # the requests moved to s2 carried the T flag
    assert any(m.header.is_retransmit for m in calls2)
    assert len(cli.pending) == 0
    await cli.stop()
    await s1.stop()
    await s2.stop()


@aio
async def test_pending_requests_fail_explicitly_without_alternate():
    srv = await server(handler=answer_for("server.test.realm", delay=5))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    futs = [cli.request_future(ccr("client.test.realm", i)) for i in range(20)]
    await asyncio.sleep(0.05)
    for p in list(srv.protocols):
        p.abort()
    results = await asyncio.gather(*futs, return_exceptions=True)
    assert all(isinstance(r, PeerFailed) for r in results)
    with pytest.raises(NotRoutable):
        cli.request_future(ccr("client.test.realm", 99))
    await cli.stop()
    await srv.stop()


@aio
async def test_request_timeout_is_explicit():
    srv = await server(handler=answer_for("server.test.realm", delay=3))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    with pytest.raises(RequestTimeout):
        await cli.request(ccr("client.test.realm", 1), timeout=0.2)
    assert len(cli.pending) == 0
    assert cli.peers["server.test.realm"].stats.cmd(272).timeouts == 1
    await cli.stop()
    await srv.stop()


@aio
async def test_garbage_gets_error_or_close_and_other_peers_are_served():
    srv = await server(clients=("client.test.realm", "raw1.test.realm", "raw2.test.realm"))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    raw1 = await RawPeer.connect(srv.listen_ports[0])
    assert await raw1.cer("raw1.test.realm") == 2001
    bad = bytearray(app_request(origin="raw1.test.realm"))
    bad[1:4] = (30).to_bytes(3, "big")
    raw1.send(bytes(bad))
    ans = await raw1.recv()
    assert ans is None or result_of(ans) == DIAMETER_INVALID_MESSAGE_LENGTH
    assert await raw1.closed()
    # truncated message then silence on another connection: nothing breaks
    raw2 = await RawPeer.connect(srv.listen_ports[0])
    assert await raw2.cer("raw2.test.realm") == 2001
    raw2.send(app_request(origin="raw2.test.realm")[:30])
    # an AVP with a bad length inside a well-framed message gets an error answer
    raw3 = bytearray(app_request(origin="raw2.test.realm", hbh=77, e2e=77))
    raw3[20 + 5:20 + 8] = (4000).to_bytes(3, "big")
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(20)))
    assert all(a.result_code == 2001 for a in answers)
    raw2.close()
    raw4 = await RawPeer.connect(srv.listen_ports[0])
    assert await raw4.cer("raw2.test.realm") == 2001
    raw4.send(bytes(raw3))
    err = await raw4.recv()
    while err[5:8] == CMD_DEVICE_WATCHDOG.to_bytes(3, "big"):  # raw2's reset was a failure: REOPEN's DWR first
        err = await raw4.recv()
    assert err[4] & FLAG_ERROR or result_of(err) >= 3000
    raw4.close()
    await cli.stop()
    await srv.stop()


@aio
async def test_peer_that_stops_reading_is_bounded():
    # the client sends big requests to a raw peer that never reads: its write
    # buffer must stay bounded, the connection is dropped and requests fail
    cli_node = None
    srv_sock = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv_sock.sockets[0].getsockname()[1]
    accepted: list = []

    async def on_conn(reader, writer):
        accepted.append(writer)
        raw = RawPeer(reader, writer)
        cer = await raw.recv()
        from diameter.node.protocol.capabilities import Capabilities
        c = Capabilities("sink.test.realm", REALM, ["127.0.0.1"], 0, "sink", 1, set(), {4})
        avps = c.avps()
        avps.insert(2, A.u32(AVP_RESULT_CODE, 2001))
        writer.write(A.message(0, 257, 0, int.from_bytes(cer[12:16], "big"),
                               int.from_bytes(cer[16:20], "big"), avps))
        await asyncio.sleep(30)  # never read again
    srv_sock.close()
    sink = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = sink.sockets[0].getsockname()[1]
    from diameter.node.aio import DiameterNode
    cli_node = DiameterNode("client.test.realm", REALM, write_buffer_high=64 * 1024, request_timeout=20, tw=0.5)
    cli_node.add_application(4)
    cli_node.add_peer("sink.test.realm", addresses=["127.0.0.1"], port=port, persistent=True, reconnect_wait=5)
    await cli_node.start()
    await cli_node.wait_open("sink.test.realm")
    proto = cli_node.peers["sink.test.realm"].protocol
    big = A.avp(1, b"x" * 16000, vendor=99999, mandatory=False)
    futs = []
    max_buffered = 0
    refused = False
    for i in range(2000):
        if proto.transport.is_closing():
            break
        try:
            futs.append(cli_node.request_future(app_request(origin="client.test.realm", e2e=i + 1,
                                                            extra=[big]), timeout=20))
        except NotRoutable:
            refused = True  # back-pressure: a congested peer takes no more requests
            break
        max_buffered = max(max_buffered, proto.transport.get_write_buffer_size())
        if i % 20 == 0:
            await asyncio.sleep(0)
    assert refused and max_buffered <= cli_node.write_buffer_hard_limit + 20000
    # the watchdog gets no DWA from a peer that does not read: its requests fail over (and fail)
    results = await asyncio.gather(*futs, return_exceptions=True)
    assert results and all(isinstance(r, PeerFailed) for r in results)
    for w in accepted:
        w.transport.abort()
    sink.close()
    await cli_node.stop()


@aio
async def test_half_open_connection_found_by_watchdog():
    srv = await server(clients=("ghost.test.realm",), tw=0.4)
    states = []
    srv.on_peer_state.append(lambda p, what: states.append(what))
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("ghost.test.realm") == 2001
    # the peer never answers DWR: OKAY -> SUSPECT -> DOWN, connection closed
    assert await raw.closed(timeout=10)
    assert any("SUSPECT" in s for s in states) and any("watchdog" in s for s in states)
    await srv.stop()


@aio
async def test_retransmitted_request_gets_cached_answer_handler_called_once():
    calls = []
    srv = await server(clients=("raw.test.realm",), handler=answer_for("server.test.realm", calls))
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("raw.test.realm") == 2001
    req = app_request(origin="raw.test.realm", hbh=1, e2e=4242)
    raw.send(req)
    a1 = await raw.recv()
    again = bytearray(req)
    again[4] |= FLAG_RETRANSMIT
    again[12:16] = (2).to_bytes(4, "big")
    raw.send(bytes(again))
    a2 = await raw.recv()
    assert len(calls) == 1
    assert a1[16:] == a2[16:] and int.from_bytes(a2[12:16], "big") == 2
    raw.close()
    await srv.stop()


@aio
async def test_relay_adds_route_record_and_detects_loops():
    seen = []
    srv = await server("server.other.realm", clients=("relay.test.realm",),
                       handler=answer_for("server.other.realm", seen))
    from diameter.node.aio import DiameterNode
    relay = DiameterNode("relay.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"], is_relay=True)
    relay.add_peer("client.test.realm")
    relay.add_peer("server.other.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True)
    relay.add_route("other.realm", ["server.other.realm"], RouteAction.RELAY)
    await relay.start()
    await relay.wait_open("server.other.realm")
    cli = await client([("relay.test.realm", relay.listen_ports[0])])
    ans = await cli.request(ccr("client.test.realm", 1, dest_realm="other.realm"))
    assert ans.result_code == 2001 and ans.origin_host == b"server.other.realm"
    rr = [a.value for a in seen[0].find_avps((AVP_ROUTE_RECORD, 0))]
    assert rr == [b"client.test.realm"]
    # loop: the request already went through the relay
    loop_req = ccr("client.test.realm", 2, dest_realm="other.realm")
    from diameter.message import Avp
    loop_req.append_avp(Avp.new(AVP_ROUTE_RECORD, 0, value=b"relay.test.realm"))
    ans = await cli.request(loop_req)
    assert ans.result_code == DIAMETER_LOOP_DETECTED and ans.header.is_error
    # realm nobody serves -> 3003, served realm without open peer -> 3002
    ans = await cli.request(ccr("client.test.realm", 3, dest_realm="nowhere.realm"))
    assert ans.result_code == DIAMETER_REALM_NOT_SERVED
    relay.add_route("down.realm", ["absent.down.realm"], RouteAction.RELAY)
    ans = await cli.request(ccr("client.test.realm", 4, dest_realm="down.realm"))
    assert ans.result_code == DIAMETER_UNABLE_TO_DELIVER
    await cli.stop()
    await relay.stop()
    await srv.stop()


@aio
async def test_redirect_agent_answer_is_followed_and_cached():
    srv = await server("server.test.realm", clients=("client.test.realm",))
    from diameter.node.aio import DiameterNode
    redir = DiameterNode("redirect.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"], is_relay=True)
    redir.add_peer("client.test.realm")
    redir.add_route("other.realm", ["server.test.realm"], RouteAction.REDIRECT,
                    redirect_usage=REDIRECT_ALL_REALM, redirect_max_cache_time=60)
    await redir.start()
    cli = await client([("redirect.test.realm", redir.listen_ports[0]), ("server.test.realm", srv.listen_ports[0])])
    cli.add_route("other.realm", ["redirect.test.realm"])
    ans = await cli.request(ccr("client.test.realm", 1, dest_realm="other.realm"))
    assert ans.result_code == 2001 and ans.origin_host == b"server.test.realm"
    assert cli.peers["redirect.test.realm"].stats.cmd(272).result_classes["3xxx"] == 1
    # cached: the next request goes straight to the server
    ans = await cli.request(ccr("client.test.realm", 2, dest_realm="other.realm"))
    assert ans.result_code == 2001
    assert cli.peers["redirect.test.realm"].stats.cmd(272).requests_sent == 1
    await cli.stop()
    await redir.stop()
    await srv.stop()


@aio
async def test_application_unsupported_3007():
    srv = await server(clients=("raw.test.realm",))
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("raw.test.realm", apps=(4, 16777238)) == 2001
    raw.send(app_request(app=16777238, origin="raw.test.realm"))
    ans = await raw.recv()
    assert result_of(ans) == DIAMETER_APPLICATION_UNSUPPORTED and ans[4] & FLAG_ERROR
    raw.close()
    await srv.stop()


@aio
async def test_least_pending_and_round_robin_balance_over_two_servers():
    s1 = await server("s1.test.realm")
    s2 = await server("s2.test.realm")
    from diameter.node.protocol.routing import Balancing
    cli = await client([("s1.test.realm", s1.listen_ports[0]), ("s2.test.realm", s2.listen_ports[0])],
                       balancing=Balancing.ROUND_ROBIN)
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(40)))
    hosts = [a.origin_host for a in answers]
    assert hosts.count(b"s1.test.realm") == 20 and hosts.count(b"s2.test.realm") == 20
    await cli.stop()
    await s1.stop()
    await s2.stop()


@aio
async def test_restarted_peer_with_new_origin_state_id_replaces_stale_connection():
    srv = await server(clients=("raw.test.realm",))
    from diameter.node.protocol.capabilities import Capabilities
    old = await RawPeer.connect(srv.listen_ports[0])
    assert await old.cer("raw.test.realm") == 2001
    # same identity, same state id: the open connection stays, the new one is refused
    dup = await RawPeer.connect(srv.listen_ports[0])
    assert await dup.cer("raw.test.realm") == DIAMETER_ELECTION_LOST
    # a new Origin-State-Id means the peer rebooted: the stale connection is replaced
    new = await RawPeer.connect(srv.listen_ports[0])
    c = Capabilities("raw.test.realm", REALM, ["127.0.0.1"], 0, "raw", 2, set(), {4})
    new.send(A.message(FLAG_REQUEST, 257, 0, 1, 1, c.avps()))
    assert result_of(await new.recv()) == 2001
    assert await old.closed()
    new.send(app_request(origin="raw.test.realm", hbh=5, e2e=5))
    assert result_of(await new.recv()) == 2001
    new.close()
    await srv.stop()


@aio
async def test_redirect_to_a_configured_peer_not_yet_connected():
    srv = await server("server.test.realm", clients=("client.test.realm",))
    from diameter.node.aio import DiameterNode
    redir = DiameterNode("redirect.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"], is_relay=True)
    redir.add_peer("client.test.realm")
    redir.add_route("other.realm", ["server.test.realm"], RouteAction.REDIRECT)
    await redir.start()
    cli = await client([("redirect.test.realm", redir.listen_ports[0])])
    cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0])  # not persistent
    cli.add_route("other.realm", ["redirect.test.realm"])
    assert not cli.peers["server.test.realm"].is_open
    ans = await cli.request(ccr("client.test.realm", 1, dest_realm="other.realm"))
    assert ans.result_code == 2001 and ans.origin_host == b"server.test.realm"
    # a redirect to a host nobody knows is handed back to the caller as the 3006 answer
    redir.add_route("lost.realm", ["unknown.lost.realm"], RouteAction.REDIRECT)
    cli.add_route("lost.realm", ["redirect.test.realm"])
    ans = await cli.request(ccr("client.test.realm", 2, dest_realm="lost.realm"))
    assert ans.result_code == DIAMETER_REDIRECT_INDICATION
    assert [a.value for a in ans.find_avps((AVP_REDIRECT_HOST, 0))] == ["aaa://unknown.lost.realm"]
    await cli.stop()
    await redir.stop()
    await srv.stop()


@aio
async def test_client_that_never_reads_answers_is_dropped_at_the_hard_limit(caplog):
    from diameter.node.aio import DiameterNode
    pad = A.avp(1, b"p" * 16000, vendor=99999, mandatory=False)

    def big_answer(data: bytes) -> bytes:
        ans = bytearray(data[:20] + A.u32(AVP_RESULT_CODE, 2001) + pad)
        ans[4] &= ~FLAG_REQUEST
        ans[1:4] = len(ans).to_bytes(3, "big")
        return bytes(ans)
    srv = DiameterNode("server.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                       write_buffer_high=32 * 1024, decode=lambda d: d)
    srv.add_application(4, big_answer)
    srv.add_peer("raw.test.realm")
    states = []
    srv.on_peer_state.append(lambda p, what: states.append(what))
    await srv.start()
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("raw.test.realm") == 2001
    raw.writer.transport.pause_reading()  # stop reading: answers pile up on the server
    for i in range(3000):
        raw.send(app_request(origin="raw.test.realm", hbh=i, e2e=i + 1))
        if i % 100 == 0:
            await asyncio.sleep(0)
            if any("closed" in s for s in states):
                break
    for _ in range(200):
        if any("closed" in s for s in states):
            break
        await asyncio.sleep(0.05)
    assert any("closed" in s for s in states)
    assert not srv.peers["raw.test.realm"].is_open
    assert any("stopped reading" in r.getMessage() for r in caplog.records)
    raw.close()
    await srv.stop()


@aio
async def test_strict_reopen_waits_for_three_dwas_after_a_failure():
    srv = await server(tw=0.3)
    cli = await client([("server.test.realm", srv.listen_ports[0])], tw=0.3, strict_reopen=True)
    peer = cli.peers["server.test.realm"]
    states = []
    cli.on_peer_state.append(lambda p, what: states.append(what))
    old = peer.protocol
    for p in list(srv.protocols):
        p.abort()  # transport failure: the next connection starts in REOPEN
    for _ in range(250):
        if peer.protocol not in (None, old) and peer.protocol.conn.is_open:
            break
        await asyncio.sleep(0.02)
    assert peer.protocol.conn.reopen and not peer.is_open
    with pytest.raises(NotRoutable):
        cli.request_future(ccr("client.test.realm", 1))
    await cli.wait_open(peer, 5)  # three DWAs later
    assert any("failback" in s for s in states)
    assert peer.stats.cmd(280).answers_received >= 3
    ans = await cli.request(ccr("client.test.realm", 2))
    assert ans.result_code == 2001
    await cli.stop()
    await srv.stop()


@aio
async def test_header_bits_and_command_checks():
    from diameter.node.aio import DiameterNode
    srv = DiameterNode("server.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"], is_relay=True)
    srv.add_application(4, answer_for("server.test.realm"), commands={272})
    srv.add_peer("raw.test.realm")
    srv.add_peer("far.other.realm")
    srv.add_route("other.realm", ["far.other.realm"])
    await srv.start()
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("raw.test.realm") == 2001
    # E bit on a request -> 3008
    raw.send(app_request(origin="raw.test.realm", hbh=1, e2e=1, flags=FLAG_REQUEST | FLAG_ERROR))
    assert result_of(await raw.recv()) == DIAMETER_INVALID_HDR_BITS
    # a command the application does not implement -> 3001
    raw.send(app_request(origin="raw.test.realm", hbh=2, e2e=2, command=271))
    assert result_of(await raw.recv()) == DIAMETER_COMMAND_UNSUPPORTED
    # a non-proxiable request for another realm cannot be relayed -> 3002
    raw.send(app_request(origin="raw.test.realm", hbh=3, e2e=3, dest_realm="other.realm", flags=FLAG_REQUEST))
    assert result_of(await raw.recv()) == DIAMETER_UNABLE_TO_DELIVER
    raw.close()
    await srv.stop()


@aio
async def test_coroutine_handlers_that_finish_at_once_suspend_or_raise():
    from diameter.node.aio import DiameterNode
    base = answer_for("server.test.realm")

    async def handler(req):
        n = req.cc_request_number
        if n == 1:
            raise ValueError("immediate failure")
        if n >= 2:
            await asyncio.sleep(0)
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, fut.set_result, None)
            await fut
        if n == 3:
            raise ValueError("failure after suspending")
        return await base(req)
    srv = DiameterNode("server.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"])
    srv.add_application(4, handler)
    srv.add_peer("client.test.realm")
    await srv.start()
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", n)) for n in (0, 1, 2, 3)))
    assert [a.result_code for a in answers] == [2001, DIAMETER_UNABLE_TO_COMPLY, 2001, DIAMETER_UNABLE_TO_COMPLY]
    assert srv.protocols and all(p.inflight == 0 for p in srv.protocols)
    await cli.stop()
    await srv.stop()


@aio
async def test_host_ip_address_defaults_to_the_connection_address():
    from diameter.node.aio import DiameterNode
    srv = await server()
    cli = DiameterNode("client.test.realm", REALM)  # no ip_addresses configured
    cli.add_application(4)
    cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True)
    await cli.start()
    await cli.wait_open("server.test.realm")
    assert srv.peers["client.test.realm"].capabilities.host_ip_addresses == ["127.0.0.1"]
    await cli.stop()
    await srv.stop()
