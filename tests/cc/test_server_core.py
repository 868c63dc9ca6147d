"""RFC 4006 §7 server state machine (Idle/Open, Tcc) with a fake clock, and the answer cache."""
from __future__ import annotations

from diameter.cc.server_core import CLOSED_FAILED, ServerCore, ServerState
from diameter.cc.types import CCRequest, CCResult, RequestType

SID = "pgw;1;1"


def req(n: int, rt: RequestType, sid: str = SID) -> CCRequest:
    return CCRequest(sid, rt, n, origin_host="pgw", origin_realm="r", peer="pgw")


def handle(core: ServerCore, r: CCRequest, rc: int, now: float) -> str | None:
    core.begin(r)
    return core.complete(r, CCResult(rc), b"answer%d" % r.request_number, now)


def test_server_initial_opens():
    c = ServerCore(tcc=10)
    assert handle(c, req(0, RequestType.INITIAL), 2001, 1.0) is None
    s = c.sessions[SID]
    assert s.state is ServerState.OPEN and s.deadline == 11.0 and c.next_deadline() == 11.0


def test_server_initial_failure_stays_idle():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 4010, 1.0)
    assert c.sessions == {} and c.next_deadline() is None


def test_server_update_in_idle_opens():
    c = ServerCore(tcc=10)  # a session failed over from another server
    handle(c, req(3, RequestType.UPDATE), 2001, 1.0)
    assert SID in c.sessions
    c2 = ServerCore(tcc=10)
    assert handle(c2, req(3, RequestType.UPDATE), 5030, 1.0) is None and c2.sessions == {}


def test_server_termination_in_idle():
    c = ServerCore(tcc=10)
    for rc in (2001, 5012):
        assert handle(c, req(rc, RequestType.TERMINATION), rc, 1.0) is None and c.sessions == {}


def test_server_update_restarts_tcc():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    handle(c, req(1, RequestType.UPDATE), 2001, 8.0)
    assert c.expire(10.0) == [] and c.sessions[SID].deadline == 18.0
    assert [s.session_id for s in c.expire(18.0)] == [SID]


def test_server_update_failure_closes():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    assert handle(c, req(1, RequestType.UPDATE), 4012, 1.0) == CLOSED_FAILED and c.sessions == {}


def test_server_termination_closes():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    assert handle(c, req(1, RequestType.TERMINATION), 2001, 1.0) is None and c.sessions == {}
    assert c.expire(100.0) == []  # Tcc stopped


def test_server_termination_failure_closes():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    handle(c, req(1, RequestType.TERMINATION), 5012, 1.0)
    assert c.sessions == {}


def test_server_tcc_expiry():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    handle(c, req(0, RequestType.INITIAL, "pgw;1;2"), 2001, 5.0)
    assert c.expire(9.99) == []
    assert [s.session_id for s in c.expire(10.0)] == [SID]
    assert list(c.sessions) == ["pgw;1;2"] and c.next_deadline() == 15.0


def test_server_event():
    c = ServerCore(tcc=10)
    assert handle(c, req(0, RequestType.EVENT), 2001, 0.0) is None
    assert handle(c, req(0, RequestType.EVENT, "pgw;1;3"), 4012, 0.0) is None
    assert c.sessions == {}  # event based: Idle -> Idle either way


def test_answers_cached_by_session_and_number_and_bounded():
    c = ServerCore(tcc=10, answer_cache=2)
    r = req(0, RequestType.INITIAL)
    c.begin(r)
    assert c.in_progress(SID, 0) and c.cached(SID, 0) is None
    c.complete(r, CCResult(), b"A", 0.0)
    assert not c.in_progress(SID, 0) and c.cached(SID, 0) == b"A"
    handle(c, req(1, RequestType.UPDATE), 2001, 1.0)
    handle(c, req(2, RequestType.UPDATE), 2001, 2.0)
    assert c.cached(SID, 0) is None and c.cached(SID, 2) == b"answer2"


def test_answer_cache_forgets_the_oldest_quarter_at_once_and_stays_bounded():
    c = ServerCore(tcc=10, answer_cache=8)
    for n in range(9):
        handle(c, req(n, RequestType.UPDATE), 2001, float(n))
    # the ninth answer overflowed 8: the oldest down to three quarters (6) are forgotten
    assert [c.cached(SID, n) is not None for n in range(9)] == [False] * 3 + [True] * 6
    assert c.cached(SID, 8) == b"answer8"
    for n in range(9, 100):
        handle(c, req(n, RequestType.UPDATE), 2001, float(n))
        assert len(c._answers) <= 8 and c.cached(SID, n) == f"answer{n}".encode()
    kept = [n for n in range(100) if c.cached(SID, n) is not None]
    assert kept == list(range(100 - len(kept), 100))  # the newest ones, in a run


def test_abandoned_request_leaves_state():
    c = ServerCore(tcc=10)
    r = req(0, RequestType.INITIAL)
    c.begin(r)
    c.abandon(r)
    assert not c.in_progress(SID, 0) and c.sessions == {} and c.cached(SID, 0) is None


def test_request_in_handler_while_closed_does_not_reopen():
    c = ServerCore(tcc=10)
    handle(c, req(0, RequestType.INITIAL), 2001, 0.0)
    u = req(1, RequestType.UPDATE)
    c.begin(u)
    assert c.close(SID) is not None  # STR while the CCR-U is in the handler
    c.complete(u, CCResult(2001), b"late", 1.0)
    assert c.sessions == {} and c.cached(SID, 1) == b"late"
    handle(c, req(2, RequestType.UPDATE), 2001, 2.0)  # later requests follow the normal table again
    assert SID in c.sessions
