"""The node's decisions as pure functions (no sockets): dispatch of a received request, the peer
a sent request goes to, failover, and the answers and forwarded requests the node builds."""
from __future__ import annotations

from types import SimpleNamespace

from diameter.node.protocol import avps as A
from diameter.node.protocol.answers import RelayError, error_answer, parse_redirect, redirect_avps, relayed
from diameter.node.protocol.connection import Collision, PeerState, cer_collision
from diameter.node.protocol.constants import (
    AVP_ERROR_MESSAGE, AVP_PROXY_INFO, AVP_ROUTE_RECORD, AVP_SESSION_ID,
    DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_COMMAND_UNSUPPORTED, DIAMETER_INVALID_HDR_BITS,
    DIAMETER_LOOP_DETECTED, DIAMETER_REDIRECT_INDICATION, DIAMETER_UNABLE_TO_COMPLY,
    DIAMETER_UNABLE_TO_DELIVER, DISCONNECT_BUSY, DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU, FLAG_ERROR,
    FLAG_PROXYABLE, FLAG_REQUEST, REDIRECT_ALL_REALM)
from diameter.node.protocol.connection import Closed
from diameter.node.protocol.reconnect import after_close, reconnect_wait_after
from diameter.node.protocol.dispatch import Step, dispatch_request, local_refusal
from diameter.node.protocol.framing import parse_header
from diameter.node.protocol.routing import Balancer, RedirectCache, Route, RouteAction, RoutingTable
from diameter.node.protocol.selection import may_fail_over, select_peer
from diameter.node.protocol.unanswered import UnansweredRequests

from .helpers import app_request, result_of


def _dispatch(flags=FLAG_REQUEST | FLAG_PROXYABLE, app_id=4, local_app=True, local_only=False, peer_supports=True,
              dest_host=None, dest_realm="test.realm", table=None, usable=("p1",)):
    return dispatch_request(flags=flags, app_id=app_id, local_app=local_app, local_only=local_only,
                            peer_supports=peer_supports, dest_host=dest_host, dest_realm=dest_realm,
                            local_host="me.test.realm", local_realm="test.realm",
                            local_apps={4} if local_app else set(), table=table or RoutingTable(),
                            usable=lambda p, a: p in usable, balancer=Balancer(), pending=lambda p: 0,
                            came_from="client.test.realm")


def test_dispatch_of_received_requests():
    assert _dispatch(local_only=True).step is Step.LOCAL
    e = _dispatch(flags=FLAG_REQUEST | FLAG_ERROR, local_only=True)
    assert (e.step, e.result_code) == (Step.ERROR, DIAMETER_INVALID_HDR_BITS)
    assert _dispatch(peer_supports=False).result_code == DIAMETER_APPLICATION_UNSUPPORTED
    assert _dispatch(app_id=99, local_app=False).result_code == DIAMETER_APPLICATION_UNSUPPORTED
    t = RoutingTable()
    t.add(Route("other.realm", RouteAction.RELAY, ["p1"]))
    relay = _dispatch(dest_realm="other.realm", table=t)
    assert relay.step is Step.RELAY and relay.decision.peer == "p1"
    not_proxiable = _dispatch(flags=FLAG_REQUEST, dest_realm="other.realm", table=t)
    assert (not_proxiable.result_code, not_proxiable.message) == (DIAMETER_UNABLE_TO_DELIVER,
                                                                   "request is not proxiable")
    assert _dispatch(dest_realm="other.realm", table=t, usable=()).result_code == DIAMETER_UNABLE_TO_DELIVER
    t.add(Route("moved.realm", RouteAction.REDIRECT, ["new.moved.realm"]))
    r = _dispatch(dest_realm="moved.realm", table=t)
    assert r.step is Step.REDIRECT and r.decision.redirect_hosts == ["new.moved.realm"]


def test_local_refusal():
    assert local_refusal(272, None, True) is None
    assert local_refusal(272, {271}, True).result_code == DIAMETER_COMMAND_UNSUPPORTED
    assert local_refusal(272, None, False).result_code == DIAMETER_UNABLE_TO_COMPLY


def _peer(key, realm="test.realm"):
    return SimpleNamespace(key=key, realm=realm)


def _select(exclude=(), dest_host=None, dest_realm=None, usable=("a", "b"), open_peers=None, routes=None,
            redirects=None, client_routes=None):
    return select_peer(app_id=4, dest_realm=dest_realm, dest_host=dest_host, local_realm="test.realm",
                       exclude=set(exclude), usable=lambda k, app: k in usable,
                       open_peers=open_peers if open_peers is not None else [_peer("a"), _peer("b")],
                       redirects=redirects or RedirectCache(), client_routes=client_routes or {},
                       routes=routes or RoutingTable(), balancer=Balancer(),
                       pending={"a": 3, "b": 1}.get, weight=lambda k: 1, now=0.0)


def test_peer_selection():
    assert _select() == "b"                       # least pending among the realm's open peers
    assert _select(exclude={"b"}) == "a"          # failover: tried peers are left out
    assert _select(exclude={"a", "b"}) is None
    assert _select(dest_host="A") == "a"          # Destination-Host first
    assert _select(dest_realm="far.realm", open_peers=[_peer("a", "far.realm"), _peer("b")]) == "a"
    t = RoutingTable()
    t.add(Route("far.realm", RouteAction.PROXY, ["b"]))
    assert _select(dest_realm="far.realm", routes=t) == "b"
    rc = RedirectCache()
    rc.store(["a"], REDIRECT_ALL_REALM, 60, 0.0, realm="test.realm", app=4)
    assert _select(redirects=rc) == "a"
    assert _select(client_routes={("test.realm", 4): ["a"]}) == "a"


def test_failover_choice():
    assert may_fail_over({"a"}, 2) and may_fail_over({"a", "b"}, 2)
    assert not may_fail_over({"a", "b", "c"}, 2)


def test_error_answer_copies_session_and_proxy_info():
    proxy = A.avp(AVP_PROXY_INFO, A.text(280, "px") + A.avp(33, b"s"))  # Proxy-Host, Proxy-State
    req = app_request(hbh=7, e2e=8, extra=[proxy])
    hdr = parse_header(req)
    out = error_answer(hdr, req, DIAMETER_UNABLE_TO_DELIVER, "me.test.realm", "test.realm", "request is not proxiable")
    h = parse_header(out)
    assert (h.hop_by_hop_identifier, h.end_to_end_identifier) == (7, 8) and not h.is_request
    assert h.flags & FLAG_ERROR and result_of(out) == DIAMETER_UNABLE_TO_DELIVER
    assert A.find(out, AVP_SESSION_ID) == A.find(req, AVP_SESSION_ID)
    assert A.find_all(out, AVP_PROXY_INFO) == A.find_all(req, AVP_PROXY_INFO)
    assert A.find(out, AVP_ERROR_MESSAGE) == b"request is not proxiable"
    assert not parse_header(error_answer(hdr, req, 5012, "me", "r")).flags & FLAG_ERROR


def test_relayed_request_and_loop_detection():
    req = app_request()
    out = relayed(req, "client.test.realm", "me.test.realm")
    assert isinstance(out, bytearray) and A.find_all(bytes(out), AVP_ROUTE_RECORD) == [b"client.test.realm"]
    assert int.from_bytes(out[1:4], "big") == len(out)
    looped = relayed(bytes(out), "other.test.realm", "client.test.realm")
    assert looped == RelayError(DIAMETER_LOOP_DETECTED, None)


def test_redirect_avps_round_trip():
    hdr = parse_header(app_request())
    out = error_answer(hdr, app_request(), DIAMETER_REDIRECT_INDICATION, "me", "test.realm",
                       extra=redirect_avps(["a.test.realm", "b.test.realm"], REDIRECT_ALL_REALM, 60))
    r = parse_redirect(out)
    assert r.hosts == ["a.test.realm", "b.test.realm"] and r.usage == REDIRECT_ALL_REALM and r.max_cache_time == 60
    assert parse_redirect(app_request()) is None


def test_unanswered_requests_are_reported_once_past_their_deadline():
    u = UnansweredRequests(timeout=10)
    u.waiting("a", 0.0, 272, app_request(e2e=1))
    u.waiting("b", 1.0, 271, app_request(e2e=2, command=271))
    u.waiting("a", 2.0, 272, app_request(e2e=1))   # waiting again: new deadline, after b
    u.answered("c")                                # unknown: nothing happens
    assert u.overdue(11.5) == [(271, "a.test.realm;1;2")]
    assert u.overdue(11.9) == [] and len(u) == 1
    u.answered("a")
    assert u.overdue(100.0) == [] and len(u) == 0


def test_cer_collisions():
    def c(local, remote, state, known=1, new=1):
        return cer_collision(local_host=local, remote_host=remote, other_state=state, known_state_id=known,
                             new_state_id=new)
    assert c("b.realm", "a.realm", PeerState.WAIT_I_CEA) is Collision.WIN       # higher identity wins
    assert c("a.realm", "B.realm", PeerState.WAIT_I_CEA) is Collision.REJECT    # case-insensitive
    assert c("b.realm", "a.realm", PeerState.OPEN) is Collision.REJECT          # already open
    assert c("a.realm", "b.realm", PeerState.OPEN, known=1, new=2) is Collision.REPLACE  # peer restarted
    assert c("a.realm", "b.realm", PeerState.OPEN, known=None, new=2) is Collision.REJECT


def test_reconnect_decisions():
    lost = Closed("transport closed", failure=True)
    worked = after_close(lost, open_for=60.0, tw=30, backoff=8.0, reconnect_wait=1.0)
    assert worked.failed and worked.backoff == 0.0 and not worked.no_reconnect
    flapping = after_close(lost, open_for=0.2, tw=30, backoff=8.0, reconnect_wait=1.0)
    assert flapping.backoff == 8.0
    bye = after_close(Closed("DPR received", DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU), open_for=60.0, tw=30,
                      backoff=0.0, reconnect_wait=1.0)
    assert bye.no_reconnect and not bye.failed
    busy = after_close(Closed("DPR received", DISCONNECT_BUSY), open_for=60.0, tw=30, backoff=0.0, reconnect_wait=3.0)
    assert busy.backoff == 3.0 and not busy.no_reconnect
    assert reconnect_wait_after(0.0, 2.0, 300.0) == (0.05, 2.0)
    assert reconnect_wait_after(2.0, 2.0, 300.0) == (2.0, 4.0)
    assert reconnect_wait_after(200.0, 2.0, 300.0) == (200.0, 300.0)
