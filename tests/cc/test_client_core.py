"""RFC 4006 §7 client state machines, transition by transition, with a fake clock (no sockets)."""
from __future__ import annotations

import pytest

from diameter.cc.client_core import (ClientEvent, ClientSession, ClientState, Decision, Notice, NoticeKind,
                                     Outcome, Send)
from diameter.cc.types import (CCFH, DDFH, FinalUnit, FinalUnitAction, Grant, ReportingReason,
                               RequestedAction, RequestType, Units)
from diameter.cc.wire import AnswerView, Usage

SID = "pgw;1;1"
RSU = [Usage(100, requested=Units(total_octets=1000))]


def ans(n: int, rc: int | None = 2001, rt: int = 1, sid: str = SID, grants=None, **kw) -> AnswerView:
    if grants is None:
        grants = [Grant(100, granted=Units(total_octets=1000))]
    return AnswerView(sid, rc, rt, n, "ocs1", grants, **kw)


def sends(actions) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def outcome(actions) -> Outcome:
    out = [a for a in actions if isinstance(a, Outcome)]
    assert out, actions
    return out[-1]


def notices(actions, kind: NoticeKind) -> list[Notice]:
    return [a for a in actions if isinstance(a, Notice) and a.kind is kind]


def opened(ccfh: CCFH = CCFH.TERMINATE, now: float = 0.0, **kw) -> ClientSession:
    s = ClientSession(SID, tx=2.0, ccfh=ccfh, **kw)
    s.start(now, RSU)
    s.on_answer(now + 0.1, 0, ans(0))
    assert s.state is ClientState.OPEN
    return s


def pending_u(ccfh: CCFH = CCFH.TERMINATE, **kw) -> ClientSession:
    s = opened(ccfh, **kw)
    s.update(1.0, [Usage(100, used=Units(total_octets=10))])
    assert s.state is ClientState.PENDING_U and s.number == 1
    return s


# ---------------------------------------------------------------- PendingI ---
def test_idle_start_sends_initial():
    s = ClientSession(SID, tx=2.0)
    out = s.start(10.0, RSU)
    (snd,) = sends(out)
    assert snd.request_type is RequestType.INITIAL and snd.number == 0 and not snd.retransmit
    assert snd.usages[0].requested == Units(total_octets=1000)
    assert s.state is ClientState.PENDING_I and s.deadline() == 12.0


def test_pending_i_success_opens():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    out = s.on_answer(0.5, 0, ans(0))
    assert outcome(out).decision is Decision.GRANTED
    assert s.state is ClientState.OPEN and s.deadline() is None  # Tx stopped
    assert s.quotas[100].granted == Units(total_octets=1000)


@pytest.mark.parametrize("how", ["send_failure", "temporary"])
def test_pending_i_send_failure_continue(how):
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.CONTINUE)
    s.start(0.0, RSU)
    out = s.on_send_failed(0.1, 0) if how == "send_failure" else s.on_answer(0.1, 0, ans(0, 3004))
    assert outcome(out).decision is Decision.CONTINUED and s.state is ClientState.IDLE


@pytest.mark.parametrize("ccfh", [CCFH.TERMINATE, CCFH.RETRY_AND_TERMINATE])
@pytest.mark.parametrize("how", ["send_failure", "temporary"])
def test_pending_i_send_failure_terminate(ccfh, how):
    s = ClientSession(SID, tx=2.0, ccfh=ccfh)
    s.start(0.0, RSU)
    out = s.on_send_failed(0.1, 0) if how == "send_failure" else s.on_answer(0.1, 0, ans(0, 4002))
    assert outcome(out).decision is Decision.TERMINATED and s.state is ClientState.IDLE


def test_pending_i_tx_continue():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.CONTINUE)
    s.start(0.0, RSU)
    assert s.on_timer(1.9) == []
    out = s.on_timer(2.0)
    assert outcome(out).decision is Decision.CONTINUED and s.state is ClientState.PENDING_I
    # the late answer still opens the session
    assert outcome(s.on_answer(3.0, 0, ans(0))).decision is Decision.GRANTED and s.state is ClientState.OPEN


def test_pending_i_tx_terminate():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.TERMINATE)
    s.start(0.0, RSU)
    out = s.on_timer(2.0)
    assert outcome(out).decision is Decision.TERMINATED and s.state is ClientState.IDLE
    assert notices(s.on_answer(3.0, 0, ans(0)), NoticeKind.LATE_ANSWER)


def test_pending_i_tx_retry_and_terminate():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.RETRY_AND_TERMINATE)
    s.start(0.0, RSU)
    out = s.on_timer(2.0)  # grant service while the request may still be answered
    assert outcome(out).decision is Decision.CONTINUED and s.state is ClientState.PENDING_I
    assert outcome(s.on_send_failed(5.0, 0)).decision is Decision.TERMINATED and s.state is ClientState.IDLE


@pytest.mark.parametrize("rc", [4010, 5030])
def test_pending_i_denied(rc):
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.CONTINUE)  # even with CONTINUE
    s.start(0.0, RSU)
    o = outcome(s.on_answer(0.1, 0, ans(0, rc)))
    assert o.decision is Decision.TERMINATED and o.result_code == rc and s.state is ClientState.IDLE


def test_pending_i_not_applicable():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    assert outcome(s.on_answer(0.1, 0, ans(0, 4011))).decision is Decision.CONTINUED
    assert s.state is ClientState.IDLE


def test_pending_i_failed_answer_continue():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.CONTINUE)
    s.start(0.0, RSU)
    assert outcome(s.on_answer(0.1, 0, ans(0, 5012))).decision is Decision.CONTINUED
    assert s.state is ClientState.IDLE


@pytest.mark.parametrize("ccfh", [CCFH.TERMINATE, CCFH.RETRY_AND_TERMINATE])
def test_pending_i_failed_answer_terminate(ccfh):
    s = ClientSession(SID, tx=2.0, ccfh=ccfh)
    s.start(0.0, RSU)
    assert outcome(s.on_answer(0.1, 0, ans(0, 5031))).decision is Decision.TERMINATED
    assert s.state is ClientState.IDLE


def test_answer_ccfh_overrides_configured():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.TERMINATE)
    s.start(0.0, RSU)
    s.on_answer(0.1, 0, ans(0, ccfh=int(CCFH.CONTINUE)))
    s.update(1.0)
    assert outcome(s.on_timer(3.0)).decision is Decision.CONTINUED and s.state is ClientState.PENDING_U


def test_pending_i_queues_termination():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    assert s.terminate(0.1, [Usage(100, used=Units(total_octets=5))]) == []  # queued
    assert s.state is ClientState.PENDING_I
    out = s.on_answer(0.2, 0, ans(0))
    (t,) = sends(out)  # Open: service terminated in queue -> CCR-T
    assert t.request_type is RequestType.TERMINATION and t.number == 1 and t.usages[0].used == Units(total_octets=5)
    assert s.state is ClientState.PENDING_T


def test_pending_i_queues_update():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    assert s.update(0.1, [Usage(100, used=Units(time=3))], ReportingReason.RATING_CONDITION_CHANGE) == []
    out = s.on_answer(0.2, 0, ans(0))
    (u,) = sends(out)  # Open: change in rating condition in queue -> CCR-U
    assert u.request_type is RequestType.UPDATE and u.number == 1
    assert u.usages[0].reporting_reason == ReportingReason.RATING_CONDITION_CHANGE
    assert s.state is ClientState.PENDING_U


# -------------------------------------------------------------------- Open ---
def test_open_units_elapse_update():
    s = opened()
    assert s.consume(1.0, 100, Units(total_octets=600)) == []
    out = s.consume(1.5, 100, Units(total_octets=400))
    (u,) = sends(out)
    assert u.request_type is RequestType.UPDATE and u.usages[0].used == Units(total_octets=1000)
    assert u.usages[0].reporting_reason == ReportingReason.QUOTA_EXHAUSTED and u.usages[0].requested is not None
    assert s.state is ClientState.PENDING_U


def test_open_threshold_update():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    s.on_answer(0.1, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=1000), volume_quota_threshold=200)]))
    assert s.consume(1.0, 100, Units(total_octets=700)) == []
    out = s.consume(1.1, 100, Units(total_octets=100))
    assert notices(out, NoticeKind.THRESHOLD) and sends(out)[0].usages[0].reporting_reason == ReportingReason.THRESHOLD


def test_open_final_unit_terminate():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    fu = FinalUnit(FinalUnitAction.TERMINATE)
    out = s.on_answer(0.1, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=100), final_unit=fu)]))
    assert notices(out, NoticeKind.FINAL_UNIT)[0].detail == fu
    out = s.consume(1.0, 100, Units(total_octets=100))
    assert notices(out, NoticeKind.FINAL_UNIT_ACTION)[0].detail == fu
    assert outcome(out).decision is Decision.TERMINATED
    (t,) = sends(out)
    assert t.request_type is RequestType.TERMINATION and t.usages[0].used == Units(total_octets=100)
    assert s.state is ClientState.PENDING_T


@pytest.mark.parametrize("action", [FinalUnitAction.REDIRECT, FinalUnitAction.RESTRICT_ACCESS])
def test_open_final_unit_redirect_or_restrict(action):
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    fu = FinalUnit(action, 2, "http://topup.example") if action is FinalUnitAction.REDIRECT \
        else FinalUnit(action, restriction_filter_rules=(b"permit out ip from any to 10.0.0.1",))
    s.on_answer(0.1, 0, ans(0, grants=[Grant(100, granted=Units(time=60), final_unit=fu)]))
    out = s.consume(1.0, 100, Units(time=60))
    assert notices(out, NoticeKind.FINAL_UNIT_ACTION)[0].detail == fu
    (u,) = sends(out)  # the session goes on: CCR-U reporting the final units, no RSU
    assert u.request_type is RequestType.UPDATE and u.usages[0].reporting_reason == ReportingReason.FINAL
    assert u.usages[0].requested is None


def test_open_validity_time_update():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    s.on_answer(1.0, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=1000), validity_time=30)]))
    assert s.deadline() == 31.0 and s.on_timer(30.0) == []
    out = s.on_timer(31.0)
    assert notices(out, NoticeKind.VALIDITY_EXPIRED)[0].rating_group == 100
    (u,) = sends(out)
    assert u.usages[0].reporting_reason == ReportingReason.VALIDITY_TIME and s.state is ClientState.PENDING_U


def test_open_quota_holding_time_update():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, RSU)
    s.on_answer(0.0, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=1000), quota_holding_time=10)]))
    s.consume(5.0, 100, Units(total_octets=1))  # traffic restarts the QHT
    assert s.on_timer(10.0) == []
    out = s.on_timer(15.0)
    assert notices(out, NoticeKind.QHT_EXPIRED) and sends(out)[0].usages[0].reporting_reason == ReportingReason.QHT


def test_open_rating_condition_update():
    s = opened()
    out = s.update(1.0, [Usage(100, used=Units(total_octets=3))], ReportingReason.RATING_CONDITION_CHANGE)
    (u,) = sends(out)
    assert u.number == 1 and s.state is ClientState.PENDING_U and s.deadline() == 3.0
    out = s.on_answer(1.5, 1, ans(1, rt=2))  # PendingU: successful answer -> Open, Tx stopped
    assert outcome(out).decision is Decision.GRANTED and s.state is ClientState.OPEN and s.deadline() is None


def test_open_terminate():
    s = opened()
    (t,) = sends(s.terminate(1.0, [Usage(100, used=Units(total_octets=7))]))
    assert t.request_type is RequestType.TERMINATION and t.number == 1 and s.state is ClientState.PENDING_T
    out = s.on_answer(1.2, 1, ans(1, rt=3))
    assert outcome(out).decision is Decision.ENDED and s.state is ClientState.IDLE


def test_open_rar():
    s = opened()
    code, out = s.on_rar(1.0)
    assert code == 2001 and notices(out, NoticeKind.RE_AUTH)
    (u,) = sends(out)
    assert u.request_type is RequestType.UPDATE
    assert all(x.reporting_reason == ReportingReason.FORCED_REAUTHORISATION for x in u.usages)
    assert s.state is ClientState.PENDING_U


def test_open_rar_for_one_rating_group():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, [Usage(100, requested=Units(total_octets=1)), Usage(200, requested=Units(time=1))])
    s.on_answer(0.1, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=9)), Grant(200, granted=Units(time=9))]))
    code, out = s.on_rar(1.0, 200)
    (u,) = sends(out)
    reasons = {x.rating_group: x.reporting_reason for x in u.usages}
    assert code == 2001 and reasons[200] == ReportingReason.FORCED_REAUTHORISATION and reasons.get(100) is None


def test_open_asr():
    s = opened()
    code, out = s.on_asr(1.0)
    assert code == 2001 and notices(out, NoticeKind.ABORT) and outcome(out).decision is Decision.TERMINATED
    (t,) = sends(out)
    assert t.request_type is RequestType.TERMINATION and t.termination_cause == 4 and s.state is ClientState.PENDING_T


def test_idle_rar_asr_unknown_session():
    s = ClientSession(SID)
    assert s.on_rar(0.0)[0] == 5002 and s.on_asr(0.0)[0] == 5002


def test_per_mscc_result_code():
    s = ClientSession(SID, tx=2.0)
    s.start(0.0, [Usage(100, requested=Units(total_octets=1)), Usage(200, requested=Units(time=60))])
    out = s.on_answer(0.1, 0, ans(0, grants=[Grant(100, granted=Units(total_octets=1000), result_code=2001),
                                             Grant(200, result_code=4012)]))
    assert s.state is ClientState.OPEN
    assert [n.rating_group for n in notices(out, NoticeKind.QUOTA_DENIED)] == [200]
    assert s.quotas[200].blocked and not s.quotas[100].blocked
    (u,) = sends(s.update(1.0, [Usage(100, used=Units(total_octets=5))]))
    by_rg = {x.rating_group: x for x in u.usages}
    assert by_rg[100].requested is not None and (200 not in by_rg or by_rg[200].requested is None)


# ---------------------------------------------------------------- PendingU ---
@pytest.mark.parametrize("ccfh,decision", [(CCFH.CONTINUE, Decision.CONTINUED), (CCFH.TERMINATE, Decision.TERMINATED),
                                           (CCFH.RETRY_AND_TERMINATE, Decision.TERMINATED)])
@pytest.mark.parametrize("how", ["send_failure", "temporary"])
def test_pending_u_send_failure(ccfh, decision, how):
    s = pending_u(ccfh)
    out = s.on_send_failed(1.1, 1) if how == "send_failure" else s.on_answer(1.1, 1, ans(1, 3002, rt=2))
    assert outcome(out).decision is decision and s.state is ClientState.IDLE


@pytest.mark.parametrize("ccfh,state", [(CCFH.CONTINUE, ClientState.PENDING_U), (CCFH.TERMINATE, ClientState.IDLE),
                                        (CCFH.RETRY_AND_TERMINATE, ClientState.PENDING_U)])
def test_pending_u_tx(ccfh, state):
    """Tx expired: TERMINATE terminates; CONTINUE and RETRY_AND_TERMINATE grant service and wait."""
    s = pending_u(ccfh)
    out = s.on_timer(3.0)
    assert s.state is state
    if ccfh is CCFH.TERMINATE:
        assert outcome(out).decision is Decision.TERMINATED
    else:  # CONTINUE and RETRY_AND_TERMINATE: grant service, keep waiting
        assert outcome(out).decision is Decision.CONTINUED


def test_pending_u_denied():
    s = pending_u(CCFH.CONTINUE)
    assert outcome(s.on_answer(1.1, 1, ans(1, 4010, rt=2))).decision is Decision.TERMINATED
    assert s.state is ClientState.IDLE


def test_pending_u_not_applicable():
    s = pending_u()
    assert outcome(s.on_answer(1.1, 1, ans(1, 4011, rt=2))).decision is Decision.CONTINUED
    assert s.state is ClientState.IDLE


@pytest.mark.parametrize("ccfh,decision", [(CCFH.CONTINUE, Decision.CONTINUED), (CCFH.TERMINATE, Decision.TERMINATED),
                                           (CCFH.RETRY_AND_TERMINATE, Decision.TERMINATED)])
def test_pending_u_failed_answer(ccfh, decision):
    s = pending_u(ccfh)
    assert outcome(s.on_answer(1.1, 1, ans(1, 5012, rt=2))).decision is decision and s.state is ClientState.IDLE


def test_pending_u_queues():
    s = pending_u()
    assert s.update(1.1, [Usage(100, used=Units(total_octets=1))]) == []  # change in rating condition: queued
    assert s.terminate(1.2) == []  # user service terminated: queued
    out = s.on_answer(1.3, 1, ans(1, rt=2))
    (t,) = sends(out)  # the queued termination wins
    assert t.request_type is RequestType.TERMINATION and t.number == 2


def test_pending_u_rar():
    s = pending_u()
    code, out = s.on_rar(1.1)
    assert code == 2001 and sends(out) == [] and s.state is ClientState.PENDING_U


# ---------------------------------------------------------------- PendingT ---
@pytest.mark.parametrize("how", ["send_failure", "temporary", "failed", "tx"])
def test_pending_t_failure(how):
    s = opened()
    s.terminate(1.0)
    if how == "send_failure":
        out = s.on_send_failed(1.1, 1)
    elif how == "tx":
        out = s.on_timer(3.0)
    else:
        out = s.on_answer(1.1, 1, ans(1, 3004 if how == "temporary" else 5012, rt=3))
    assert outcome(out).decision is Decision.ENDED and s.state is ClientState.IDLE


def test_pending_t_ignores_update():
    s = opened()
    s.terminate(1.0)
    assert s.update(1.1) == [] and s.state is ClientState.PENDING_T


def test_pending_t_rar():
    s = opened()
    s.terminate(1.0)
    code, out = s.on_rar(1.1)
    assert code == 2001 and sends(out) == [] and s.state is ClientState.PENDING_T


# ------------------------------------------------------------- failover, bad answers ---
def test_failover_resends_with_t_flag_same_number():
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.RETRY_AND_TERMINATE, failover=True, servers=["ocs1", "ocs2"])
    (i,) = sends(s.start(0.0, RSU))
    assert i.server == "ocs1" and not i.retransmit
    out = s.on_timer(2.0)  # Tx expired: move to the alternate server
    (r,) = sends(out)
    assert r.server == "ocs2" and r.retransmit and r.number == 0 and notices(out, NoticeKind.FAILOVER)
    out = s.on_answer(2.5, 0, AnswerView(SID, 2001, 1, 0, "ocs2", [Grant(100, granted=Units(time=5))]))
    assert outcome(out).decision is Decision.GRANTED and s.server == "ocs2"
    (u,) = sends(s.update(3.0))
    assert u.server == "ocs2" and not u.retransmit


def test_failover_on_send_failure_and_without_support():
    s = ClientSession(SID, tx=2.0, failover=True, servers=["ocs1", "ocs2"])
    s.start(0.0, RSU)
    (r,) = sends(s.on_send_failed(0.1, 0))
    assert r.server == "ocs2" and r.retransmit
    assert outcome(s.on_send_failed(0.2, 0)).decision is Decision.TERMINATED  # no third server
    s = ClientSession(SID, tx=2.0, failover=False, servers=["ocs1", "ocs2"])
    s.start(0.0, RSU)
    assert outcome(s.on_send_failed(0.1, 0)).decision is Decision.TERMINATED


def test_cc_session_failover_from_answer():
    s = ClientSession(SID, tx=2.0, failover=False, servers=["ocs1", "ocs2"])
    s.start(0.0, RSU)
    s.on_answer(0.1, 0, ans(0, failover=1))
    s.update(1.0)
    (r,) = sends(s.on_send_failed(1.1, 1))
    assert r.retransmit and r.number == 1 and r.server == "ocs2"


@pytest.mark.parametrize("bad", ["number", "session", "result"])
def test_bad_answer_reported_and_session_decides(bad):
    s = ClientSession(SID, tx=2.0, ccfh=CCFH.RETRY_AND_TERMINATE)
    s.start(0.0, RSU)
    view = {"number": ans(7), "session": ans(0, sid="other;1;1"), "result": ans(0, None)}[bad]
    out = s.on_answer(0.1, 0, view)
    assert notices(out, NoticeKind.BAD_ANSWER)
    assert outcome(out).decision is Decision.TERMINATED and s.state is ClientState.IDLE  # never left hanging


def test_start_twice_is_an_error():
    s = ClientSession(SID)
    s.start(0.0, RSU)
    with pytest.raises(RuntimeError):
        s.start(0.0, RSU)
    with pytest.raises(RuntimeError):
        ClientSession(SID).update(0.0)


# -------------------------------------------------------------- event based ---
def event(action: RequestedAction, ddfh: DDFH = DDFH.TERMINATE_OR_BUFFER) -> ClientEvent:
    e = ClientEvent(SID, action, tx=2.0, ddfh=ddfh)
    (snd,) = sends(e.send(0.0, [Usage(None, requested=Units(service_specific=1))]))
    assert snd.request_type is RequestType.EVENT and snd.requested_action == int(action)
    assert e.state is ClientState.PENDING_E
    return e


def eans(rc: int | None) -> AnswerView:
    return AnswerView(SID, rc, 4, 0, "ocs1", [])


@pytest.mark.parametrize("action", list(RequestedAction))
def test_event_granted(action):
    e = event(action)
    assert outcome(e.on_answer(0.1, 0, eans(2001))).decision is Decision.GRANTED and e.state is ClientState.IDLE


@pytest.mark.parametrize("action", [RequestedAction.CHECK_BALANCE, RequestedAction.PRICE_ENQUIRY])
@pytest.mark.parametrize("how", ["send_failure", "temporary", "failed", "tx"])
def test_event_enquiry_errors(action, how):
    e = event(action)
    out = {"send_failure": lambda: e.on_send_failed(0.1), "temporary": lambda: e.on_answer(0.1, 0, eans(3004)),
           "failed": lambda: e.on_answer(0.1, 0, eans(5012)), "tx": lambda: e.on_timer(2.0)}[how]()
    assert outcome(out).decision is Decision.ERROR and e.state is ClientState.IDLE


@pytest.mark.parametrize("rc", [4010, 5030])
def test_event_denied(rc):
    e = event(RequestedAction.DIRECT_DEBITING, DDFH.CONTINUE)
    assert outcome(e.on_answer(0.1, 0, eans(rc))).decision is Decision.TERMINATED and e.state is ClientState.IDLE


def test_event_not_applicable():
    e = event(RequestedAction.DIRECT_DEBITING)
    assert outcome(e.on_answer(0.1, 0, eans(4011))).decision is Decision.CONTINUED


@pytest.mark.parametrize("how", ["temporary", "failed"])
def test_event_dd_terminate_or_buffer_failure(how):
    e = event(RequestedAction.DIRECT_DEBITING, DDFH.TERMINATE_OR_BUFFER)
    out = {"temporary": lambda: e.on_answer(0.1, 0, eans(3002)),
           "failed": lambda: e.on_answer(0.1, 0, eans(5012))}[how]()
    assert outcome(out).decision is Decision.TERMINATED and e.state is ClientState.IDLE and e.stored is None


def test_event_dd_terminate_or_buffer_send_failure():
    e = event(RequestedAction.DIRECT_DEBITING, DDFH.TERMINATE_OR_BUFFER)
    out = e.on_send_failed(0.1)  # failure to send: store with the T flag
    assert outcome(out).decision is Decision.BUFFERED and e.state is ClientState.IDLE and e.stored.retransmit


def test_event_dd_tx_expired():
    e = event(RequestedAction.DIRECT_DEBITING)
    assert outcome(e.on_timer(2.0)).decision is Decision.CONTINUED and e.state is ClientState.PENDING_E
    assert outcome(e.on_answer(3.0, 0, eans(2001))).decision is Decision.GRANTED and e.state is ClientState.IDLE


@pytest.mark.parametrize("rc", [5012, 4010])
def test_event_dd_failed_after_tx(rc):
    e = event(RequestedAction.DIRECT_DEBITING)
    e.on_timer(2.0)
    out = e.on_answer(3.0, 0, eans(rc))  # "-": the service was granted at Tx expiry
    assert outcome(out).decision is Decision.ENDED and e.state is ClientState.IDLE and e.stored is None


@pytest.mark.parametrize("how", ["send_failure", "temporary"])
def test_event_dd_buffer_after_tx(how):
    e = event(RequestedAction.DIRECT_DEBITING, DDFH.TERMINATE_OR_BUFFER)
    e.on_timer(2.0)
    out = e.on_send_failed(3.0) if how == "send_failure" else e.on_answer(3.0, 0, eans(3002))
    assert outcome(out).decision is Decision.BUFFERED and e.state is ClientState.IDLE
    assert e.stored is not None and e.stored.retransmit


@pytest.mark.parametrize("how", ["send_failure", "temporary", "failed", "tx"])
def test_event_dd_continue(how):
    e = event(RequestedAction.DIRECT_DEBITING, DDFH.CONTINUE)
    out = {"send_failure": lambda: e.on_send_failed(0.1), "temporary": lambda: e.on_answer(0.1, 0, eans(3004)),
           "failed": lambda: e.on_answer(0.1, 0, eans(5012)), "tx": lambda: e.on_timer(2.0)}[how]()
    assert outcome(out).decision is Decision.CONTINUED and e.stored is None
    # Tx expiry keeps waiting in PendingE (the row above); a failure then grants and ends it
    assert e.state is (ClientState.PENDING_E if how == "tx" else ClientState.IDLE)
    if how == "tx":
        assert outcome(e.on_send_failed(3.0)).decision is Decision.CONTINUED and e.state is ClientState.IDLE
        assert e.stored is None


@pytest.mark.parametrize("how", ["send_failure", "temporary"])
def test_event_refund_stored(how):
    e = event(RequestedAction.REFUND_ACCOUNT)
    out = e.on_send_failed(0.1) if how == "send_failure" else e.on_answer(0.1, 0, eans(3004))
    assert outcome(out).decision is Decision.BUFFERED and e.state is ClientState.IDLE and e.stored.retransmit


def test_event_refund_failed_answer():
    e = event(RequestedAction.REFUND_ACCOUNT)
    assert outcome(e.on_answer(0.1, 0, eans(5012))).decision is Decision.ERROR and e.stored is None


def test_event_refund_tx():
    e = event(RequestedAction.REFUND_ACCOUNT)
    out = e.on_timer(2.0)
    assert outcome(out).decision is Decision.BUFFERED and e.state is ClientState.IDLE and e.stored.retransmit
    # a late answer is only reported; the stored copy (T flag) is answered from the server's cache
    assert notices(e.on_answer(3.0, 0, eans(2001)), NoticeKind.LATE_ANSWER) and e.stored is not None


def stored_event() -> ClientEvent:
    e = event(RequestedAction.REFUND_ACCOUNT)
    e.on_send_failed(0.1)
    assert e.stored is not None
    return e


def test_event_stored_sent():
    e = stored_event()
    (snd,) = sends(e.send_stored(5.0))
    assert snd.retransmit and e.state is ClientState.PENDING_B
    assert outcome(e.on_answer(5.1, 0, eans(2001))).decision is Decision.GRANTED
    assert e.state is ClientState.IDLE and e.stored is None


def test_event_stored_failed_answer():
    e = stored_event()
    e.send_stored(5.0)
    assert outcome(e.on_answer(5.1, 0, eans(5012))).decision is Decision.ERROR and e.stored is None


def test_event_stored_send_failure():
    e = stored_event()
    e.send_stored(5.0)
    assert outcome(e.on_send_failed(5.1)).decision is Decision.BUFFERED
    assert e.state is ClientState.IDLE and e.stored is not None  # kept for the next attempt


@pytest.mark.parametrize("bad", ["session", "result"])
def test_event_bad_answer(bad):
    e = event(RequestedAction.CHECK_BALANCE)
    out = e.on_answer(0.1, 0, AnswerView("x;1;1", 2001, 4, 0) if bad == "session" else eans(None))
    assert notices(out, NoticeKind.BAD_ANSWER) and outcome(out).decision is Decision.ERROR
