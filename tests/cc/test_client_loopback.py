"""CreditControlClient against CreditControlServer on real nodes over loopback (short timers)."""
from __future__ import annotations

import asyncio

import pytest

from diameter.cc import CCFH, DDFH, CCResult, FinalUnit, FinalUnitAction, Grant, RequestedAction, Units
from diameter.cc.client_core import ClientState, Decision, NoticeKind, Outcome, SessionStateError
from diameter.cc.types import ReportingReason, RequestType
from diameter.message.avp.grouped import InInformation, ServiceInformation
from tests.cc.loop import CLIENT, Net, run

RG = 100
MB = Units(total_octets=1000)


async def _never(req):
    await asyncio.sleep(30)


def test_full_session_initial_three_updates_termination():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect(tx=2)
        s = await cc.start(subscription_id="41780000001", requested=MB, rating_group=RG)
        assert s.outcome.decision is Decision.GRANTED and s.state is ClientState.OPEN
        assert s.quotas[RG].granted == MB
        for _ in range(3):
            o = await s.update(used=Units(total_octets=400), requested=MB)
            assert o.decision is Decision.GRANTED and o.result_code == 2001
        o = await s.terminate(used=Units(total_octets=10))
        assert o.decision is Decision.ENDED and o.result_code == 2001 and s.state is ClientState.IDLE
        got = [(c.request_type, c.request_number) for c in ocs.calls]
        assert got == [(RequestType.INITIAL, 0), (RequestType.UPDATE, 1), (RequestType.UPDATE, 2),
                       (RequestType.UPDATE, 3), (RequestType.TERMINATION, 4)]
        first = ocs.calls[0]
        assert first.subscription_ids == [(0, "41780000001")] and first.service_context_id == "32251@3gpp.org"
        assert first.origin_host == CLIENT and first.event_timestamp is not None
        assert ocs.calls[1].mscc[0].used == [Units(total_octets=400)] and ocs.calls[4].termination_cause == 1
        assert net.server().sessions == {} and cc.sessions == {}
    run(t)


def test_top_level_units_session():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        s = await cc.start(subscription_id="41780000001", requested=Units(time=60))
        assert s.outcome.decision is Decision.GRANTED and ocs.calls[0].top_level_units
        assert s.outcome.answer.message.granted_service_unit.cc_total_octets == 1000
        assert s.quotas[None].granted == MB
        assert (await s.terminate(used=Units(time=30))).decision is Decision.ENDED
        assert ocs.calls[1].mscc[0].used == [Units(time=30)]
    run(t)


@pytest.mark.parametrize("action", list(RequestedAction))
def test_events(action):
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        o = await cc.event(requested_action=action, subscription_id="41780000001",
                           requested=Units(service_specific=1), rating_group=RG)
        assert o.decision is Decision.GRANTED and o.result_code == 2001
        req = ocs.calls[0]
        assert req.request_type is RequestType.EVENT and req.requested_action == int(action)
        assert req.request_number == 0 and net.server().sessions == {}
    run(t)


# ---------------------------------------------------------------- CCFH ---
@pytest.mark.parametrize("ccfh", list(CCFH))
def test_ccfh_unanswered_server(ccfh):
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.behave = _never
        cc = await net.connect(tx=0.2, ccfh=ccfh, request_timeout=1.2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        took = loop.time() - t0
        if ccfh is CCFH.TERMINATE:  # Tx expired: terminate at once
            assert s.outcome.decision is Decision.TERMINATED and took < 0.9 and s.state is ClientState.IDLE
        elif ccfh is CCFH.CONTINUE:  # Tx expired: service granted, still waiting in PendingI
            assert s.outcome.decision is Decision.CONTINUED and took < 0.9 and s.state is ClientState.PENDING_I
            await asyncio.sleep(1.2)  # then the request fails: grant service, Idle
            assert s.state is ClientState.IDLE
        else:  # RETRY_AND_TERMINATE: service granted at Tx expiry; terminated when the request fails
            assert s.outcome.decision is Decision.CONTINUED and took < 0.9 and s.state is ClientState.PENDING_I
            await asyncio.sleep(1.2)
            assert s.state is ClientState.IDLE
            assert [o.decision for o in s.history if isinstance(o, Outcome)] == [Decision.CONTINUED,
                                                                                 Decision.TERMINATED]
    run(t)


@pytest.mark.parametrize("ccfh,decision", [(CCFH.TERMINATE, Decision.TERMINATED), (CCFH.CONTINUE, Decision.CONTINUED),
                                           (CCFH.RETRY_AND_TERMINATE, Decision.TERMINATED)])
def test_ccfh_failing_server(ccfh, decision):
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect(tx=1, ccfh=ccfh)
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        ocs.behave = lambda req: CCResult(5012)  # the session's CCR-U fails
        o = await s.update(used=Units(total_octets=1))
        assert o.decision is decision and o.result_code == 5012 and s.state is ClientState.IDLE
    run(t)


def test_handler_exception_is_5012_for_that_request_only():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect(ccfh=CCFH.CONTINUE)

        def boom(req):
            if req.request_type is RequestType.INITIAL and len(ocs.calls) == 1:
                raise RuntimeError("db down")
        ocs.behave = boom
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert s.outcome.result_code == 5012 and s.outcome.decision is Decision.CONTINUED
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert s.outcome.decision is Decision.GRANTED
    run(t)


# ---------------------------------------------------------------- DDFH ---
def test_ddfh_terminate_or_buffer_unanswered_then_stored_and_resent():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        gate = asyncio.Event()

        async def stuck(req):
            await gate.wait()
        ocs.behave = stuck
        cc = await net.connect(tx=0.2, request_timeout=0.5, ddfh=DDFH.TERMINATE_OR_BUFFER)
        o = await cc.event(subscription_id="1", requested=Units(service_specific=1), rating_group=RG)
        assert o.decision is Decision.CONTINUED and o.reason == "Tx expired"  # service granted at Tx expiry
        await asyncio.sleep(0.5)  # then the request fails: stored with the T flag
        assert len(cc.stored) == 1 and cc.stored[0].core.stored.retransmit
        gate.set()  # the server finishes the debit (its answer is lost: the client gave up)
        await asyncio.sleep(0.05)
        (o,) = await cc.send_stored()  # the stored copy (T flag) gets the same answer; debited once
        assert o.decision is Decision.GRANTED and o.result_code == 2001 and cc.stored == []
        assert len(ocs.calls) == 1 and ocs.calls[0].request_type is RequestType.EVENT
    run(t)


@pytest.mark.parametrize("ddfh,decision", [(DDFH.TERMINATE_OR_BUFFER, Decision.TERMINATED),
                                           (DDFH.CONTINUE, Decision.CONTINUED)])
def test_ddfh_failing_server(ddfh, decision):
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.behave = lambda req: CCResult(5012)
        cc = await net.connect(tx=1, ddfh=ddfh)
        o = await cc.event(subscription_id="1", requested=Units(service_specific=1), rating_group=RG)
        assert o.decision is decision and o.result_code == 5012 and cc.stored == []
    run(t)


def test_ddfh_continue_unanswered():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.behave = _never
        cc = await net.connect(tx=0.2, request_timeout=0.4, ddfh=DDFH.CONTINUE)
        o = await cc.event(subscription_id="1", requested=Units(service_specific=1), rating_group=RG)
        assert o.decision is Decision.CONTINUED
        await asyncio.sleep(0.4)
        assert cc.stored == []  # CONTINUE never buffers
    run(t)


def test_refund_unanswered_is_stored_and_the_store_is_bounded():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.behave = _never
        cc = await net.connect(tx=0.2, request_timeout=0.4, max_stored=2)
        outs = await asyncio.gather(*(cc.event(requested_action=RequestedAction.REFUND_ACCOUNT, subscription_id="1",
                                               used=Units(service_specific=n), rating_group=RG) for n in range(3)))
        assert [o.decision for o in outs] == [Decision.BUFFERED] * 3
        assert len(cc.stored) == 2 and cc.dropped_stored == 1
    run(t)


# ------------------------------------------------------------- failover ---
def test_failover_to_second_server_with_t_flag():
    async def t(net: Net):
        ocs1 = await net.add_server("ocs1.test.realm")
        ocs2 = await net.add_server("ocs2.test.realm")
        ocs1.behave = _never
        cc = await net.connect(tx=0.2, ccfh=CCFH.RETRY_AND_TERMINATE, failover=True,
                               servers=["ocs1.test.realm", "ocs2.test.realm"])
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert s.outcome.decision is Decision.CONTINUED  # Tx expired: service granted, request failed over
        async for o in s.events():
            if isinstance(o, Outcome) and o.decision is Decision.GRANTED:
                break
        assert o.answer.origin_host == "ocs2.test.realm" and s.state is ClientState.OPEN
        assert [c.request_number for c in ocs1.calls] == [0] and not ocs1.calls[0].retransmitted
        assert [(c.request_number, c.retransmitted) for c in ocs2.calls] == [(0, True)]
        assert any(n.kind is NoticeKind.FAILOVER for n in s.notices)
        o = await s.update(used=Units(total_octets=1))  # the session stays on the second server
        assert o.decision is Decision.GRANTED and [c.request_number for c in ocs2.calls] == [0, 1]
        assert not ocs2.calls[1].retransmitted and "ocs2.test.realm" == s.core.server
    run(t)


def test_retransmitted_ccr_answered_once():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        # resend the CCR-I with the T flag, as a client that lost the answer would
        from diameter.cc.wire import Usage, build_ccr, parse_cca
        again = build_ccr(session_id=s.session_id, request_type=1, request_number=0, origin_host=CLIENT,
                          origin_realm="test.realm", destination_realm="test.realm", destination_host=None,
                          service_context_id="32251@3gpp.org", usages=[Usage(RG, requested=MB)], retransmit=True)
        a = parse_cca(await net.client.request(again))
        assert a.result_code == 2001 and a.grants == s.outcome.answer.grants and len(ocs.calls) == 1
    run(t)


# ------------------------------------------------------- server pushes ---
def test_rar_from_server():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert await net.server().re_auth(s.session_id) == 2001
        async for ev in s.events():
            if getattr(ev, "kind", None) is NoticeKind.RE_AUTH:
                break
        for _ in range(100):
            if len(ocs.calls) == 2:
                break
            await asyncio.sleep(0.02)
        u = ocs.calls[1]
        assert u.request_type is RequestType.UPDATE and ReportingReason.FORCED_REAUTHORISATION in u.mscc[0].reporting_reasons
        assert u.mscc[0].requested is not None
    run(t)


def test_asr_from_server():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        seen = []
        cc = await net.connect(on_notice=lambda sess, item: seen.append(item))
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert await net.server().abort(s.session_id) == 2001
        for _ in range(100):
            if s.state is ClientState.IDLE:
                break
            await asyncio.sleep(0.02)
        assert s.state is ClientState.IDLE and ocs.calls[-1].request_type is RequestType.TERMINATION
        assert ocs.calls[-1].termination_cause == 4 and net.server().sessions == {}
        assert any(getattr(x, "kind", None) is NoticeKind.ABORT for x in seen)
        # a RAR/ASR for a session the client does not know: 5002
        net.server().core.sessions[s.session_id] = net.server().core.sessions.get(s.session_id) or \
            __import__("diameter.cc.server_core", fromlist=["x"]).ServerSession(s.session_id, CLIENT, CLIENT,
                                                                                  "test.realm", "3gpp")
        assert await net.server().re_auth(s.session_id) == 5002
    run(t)


def test_tcc_expiry_on_server_with_silent_client():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm", tcc=0.3)
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert s.session_id in net.server().sessions
        await asyncio.sleep(0.6)
        assert net.server().sessions == {} and ocs.closed == [(s.session_id, "tcc_expired")]
    run(t)


def test_validity_time_expiry():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.grant = {"validity_time": 1}
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        s.consume(Units(total_octets=100))
        kinds = []
        async for ev in s.events():
            kinds.append(getattr(ev, "kind", None) or ev.decision)
            if ev.__class__.__name__ == "Outcome" and ev.request_type is RequestType.UPDATE:
                break
        assert NoticeKind.VALIDITY_EXPIRED in kinds
        u = ocs.calls[1]
        assert u.request_type is RequestType.UPDATE and u.mscc[0].reporting_reasons == [ReportingReason.VALIDITY_TIME]
        assert u.mscc[0].used == [Units(total_octets=100)]
        await s.terminate()
    run(t, timeout=10)


@pytest.mark.parametrize("action", list(FinalUnitAction))
def test_final_unit_indication(action):
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        fu = {FinalUnitAction.TERMINATE: FinalUnit(FinalUnitAction.TERMINATE),
              FinalUnitAction.REDIRECT: FinalUnit(FinalUnitAction.REDIRECT, 2, "http://topup.example.net"),
              FinalUnitAction.RESTRICT_ACCESS: FinalUnit(FinalUnitAction.RESTRICT_ACCESS, filter_ids=("topup",))}[action]
        ocs.behave = lambda req: CCResult(grants=[Grant(RG, granted=Units(total_octets=500), final_unit=fu)]) \
            if req.request_type is RequestType.INITIAL else None
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        got = [n for n in s.notices if n.kind is NoticeKind.FINAL_UNIT]
        assert got and got[0].detail == fu and got[0].rating_group == RG
        s.consume(Units(total_octets=500))  # the final units are used up
        assert [n.detail for n in s.notices if n.kind is NoticeKind.FINAL_UNIT_ACTION] == [fu]
        for _ in range(100):
            if len(ocs.calls) == 2 and s.state is not ClientState.PENDING_U and s.state is not ClientState.PENDING_T:
                break
            await asyncio.sleep(0.02)
        last = ocs.calls[1]
        assert last.mscc[0].used == [Units(total_octets=500)]
        if action is FinalUnitAction.TERMINATE:
            assert last.request_type is RequestType.TERMINATION and s.state is ClientState.IDLE
        else:  # redirect / restrict: report with a CCR-U, no new units asked
            assert last.request_type is RequestType.UPDATE and last.mscc[0].requested is None
            assert last.mscc[0].reporting_reasons == [ReportingReason.FINAL]
    run(t)


def test_per_mscc_result_code_4012():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        ocs.behave = lambda req: CCResult(grants=[Grant(100, granted=MB, result_code=2001),
                                                  Grant(200, result_code=4012)])
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested={100: MB, 200: Units(time=60)})
        assert s.outcome.decision is Decision.GRANTED and s.quotas[200].blocked and not s.quotas[100].blocked
        assert [n.rating_group for n in s.notices if n.kind is NoticeKind.QUOTA_DENIED] == [200]
        assert {m.rating_group for m in ocs.calls[0].mscc} == {100, 200}
    run(t)


# ------------------------------------------------------------ bad answers ---
@pytest.mark.parametrize("bad", ["number", "session", "no_result"])
def test_bad_cca_is_reported_and_never_hangs(bad):
    async def t(net: Net):
        from diameter.node.aio import DiameterNode
        n = DiameterNode("bad.test.realm", "test.realm", tcp_port=0, listen_addresses=["127.0.0.1"],
                         ip_addresses=["127.0.0.1"])

        async def answer(req):
            a = req.to_answer()
            a.session_id = "someone;else;1" if bad == "session" else req.session_id
            a.origin_host = b"bad.test.realm"
            a.origin_realm = b"test.realm"
            a.auth_application_id = 4
            a.cc_request_type = req.cc_request_type
            a.cc_request_number = req.cc_request_number + (5 if bad == "number" else 0)
            if bad != "no_result":
                a.result_code = 2001
            return a
        n.add_application(4, answer, validate=False)
        n.add_peer(CLIENT)
        await n.start()
        net.servers.append((n, type("S", (), {"close": staticmethod(lambda: asyncio.sleep(0))})(), None))
        cc = await net.connect(tx=5, ccfh=CCFH.RETRY_AND_TERMINATE)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert loop.time() - t0 < 2  # decided on the bad answer, not at Tx
        assert s.outcome.decision is Decision.TERMINATED and s.state is ClientState.IDLE
        assert [n.kind for n in s.notices] == [NoticeKind.BAD_ANSWER]
    run(t)


# ------------------------------------------------------------ Huawei DCC ---
def test_huawei_dcc_peer():
    async def t(net: Net):
        ocs = await net.add_server("cbp.test.realm", dialect="huawei")
        cc = await net.connect()
        si = ServiceInformation(in_information=InInformation(account_query_method=7))
        o = await cc.event(requested_action=RequestedAction.CHECK_BALANCE, subscription_id="8613900000000",
                           fields={"service_information": si}, service_context_id="voice@huawei.com")
        assert o.decision is Decision.GRANTED
        req = ocs.calls[0]
        assert req.dialect == "huawei" and req.service_context_id == "voice@huawei.com"
        assert req.message.service_information.in_information.account_query_method == 7
    run(t)


def test_session_termination_for_a_session_ended_outside_credit_control():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect(tx=0.2, ccfh=CCFH.CONTINUE, request_timeout=0.4)
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        gate = asyncio.Event()

        async def stuck(req):
            await gate.wait()
        ocs.behave = stuck
        o = await s.update(used=Units(total_octets=1))  # Tx expiry: CONTINUE grants the service
        assert o.decision is Decision.CONTINUED
        await asyncio.sleep(0.4)  # the CCR-U fails: credit control ends, the service goes on
        assert s.state is ClientState.IDLE and s.session_id in net.server().sessions
        assert await s.session_termination() == 2001  # the service ends: STR
        assert net.server().sessions == {} and ocs.closed == [(s.session_id, "session_termination")]
        gate.set()
        await asyncio.sleep(0.05)
        assert net.server().sessions == {}  # the CCR-U that ends late does not reopen it
        with pytest.raises(SessionStateError):
            await s.update(used=Units(total_octets=1))
    run(t)


def test_usage_reporter_fills_server_triggered_updates():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        asked = []

        def report(session_id, rating_group):
            asked.append((session_id, rating_group))
            return Units(total_octets=321)
        cc = await net.connect(usage_reporter=report)
        s = await cc.start(subscription_id="1", requested=MB, rating_group=RG)
        assert await net.server().re_auth(s.session_id, rating_group=RG) == 2001
        for _ in range(100):
            if len(ocs.calls) == 2:
                break
            await asyncio.sleep(0.02)
        assert asked == [(s.session_id, RG)] and ocs.calls[1].mscc[0].used == [Units(total_octets=321)]
    run(t)
