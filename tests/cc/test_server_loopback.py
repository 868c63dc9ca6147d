"""CreditControlServer on a real node over loopback (client side driven with raw CCRs)."""
from __future__ import annotations

import asyncio

import pytest

from diameter.cc import CCFH, CCRequest, CCResult, CreditControlServer, Grant, Units, UnknownSession
from diameter.cc.client_core import Decision
from diameter.cc.wire import Usage, build_ccr, parse_cca
from diameter.message.commands import SessionTerminationRequest
from tests.cc.loop import Net
from tests.cc.loop import run as run_net
from tests.node.aio_helpers import REALM, client, server


class Ocs:
    def __init__(self) -> None:
        self.calls: list[CCRequest] = []
        self.closed: list[tuple[str, str]] = []
        self.fail_next = False

    async def _grant(self, req: CCRequest) -> CCResult:
        self.calls.append(req)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("boom")
        return CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=1000)) for m in req.mscc])

    on_initial = on_update = on_termination = on_event = _grant

    def on_session_closed(self, sid: str, reason: str) -> None:
        self.closed.append((sid, reason))


def ccr(n: int, rtype: int, sid: str = "client.test.realm;1;1", retransmit: bool = False, used: int | None = None):
    return build_ccr(session_id=sid, request_type=rtype, request_number=n, origin_host="client.test.realm",
                     origin_realm=REALM, destination_realm=REALM, destination_host=None,
                     service_context_id="32251@3gpp.org", subscription_ids=[(0, "41780000001")],
                     usages=[Usage(100, requested=Units(total_octets=1000),
                                   used=Units(total_octets=used) if used is not None else None)],
                     retransmit=retransmit)


async def _pair(ocs, **kw):
    s = await server(handler=None)
    srv = CreditControlServer(s, ocs, **kw)
    c = await client([("server.test.realm", s.listen_ports[0])])
    return s, srv, c


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_session_open_update_terminate_and_duplicates():
    async def main():
        ocs = Ocs()
        s, srv, c = await _pair(ocs)
        try:
            a = parse_cca(await c.request(ccr(0, 1)))
            assert a.result_code == 2001 and a.request_number == 0 and a.request_type == 1
            assert a.grants[0].rating_group == 100 and a.grants[0].granted == Units(total_octets=1000)
            assert "client.test.realm;1;1" in srv.sessions
            assert ocs.calls[0].subscription_ids == [(0, "41780000001")]
            a = parse_cca(await c.request(ccr(1, 2, used=500)))
            assert a.result_code == 2001 and ocs.calls[1].mscc[0].used == [Units(total_octets=500)]
            # the same CCR-U again with the T flag (new end-to-end id): answered from the cache
            a2 = parse_cca(await c.request(ccr(1, 2, used=500, retransmit=True)))
            assert a2.result_code == 2001 and a2.request_number == 1 and len(ocs.calls) == 2
            a = parse_cca(await c.request(ccr(2, 3, used=10)))
            assert a.result_code == 2001 and srv.sessions == {}
        finally:
            await c.stop(1)
            await srv.close()
            await s.stop(1)
    run(main())


def test_handler_failure_answers_5012_and_tcc_closes():
    async def main():
        ocs = Ocs()
        s, srv, c = await _pair(ocs, tcc=0.2)
        try:
            ocs.fail_next = True
            a = parse_cca(await c.request(ccr(0, 1)))
            assert a.result_code == 5012 and a.request_type == 1
            a = parse_cca(await c.request(ccr(0, 1, sid="client.test.realm;1;2")))
            assert a.result_code == 2001
            await asyncio.sleep(0.5)
            assert srv.sessions == {} and ocs.closed == [("client.test.realm;1;2", "tcc_expired")]
        finally:
            await c.stop(1)
            await srv.close()
            await s.stop(1)
    run(main())


# ---- with the credit-control client on the other side -----------------------------------

MB = Units(total_octets=1000)


def test_max_in_progress_answers_too_busy_without_the_handler():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm", max_in_progress=1)
        gate = asyncio.Event()

        async def slow(req):
            await gate.wait()
        ocs.behave = slow
        cc = await net.connect(tx=2, ccfh=CCFH.TERMINATE)
        first = asyncio.ensure_future(cc.start(subscription_id="1", requested=MB, rating_group=1))
        await asyncio.sleep(0.1)
        second = await cc.start(subscription_id="2", requested=MB, rating_group=1)
        assert second.outcome.result_code == 3004 and second.outcome.decision is Decision.TERMINATED
        assert len(ocs.calls) == 1  # the busy answer never reached the handler
        gate.set()
        assert (await first).outcome.decision is Decision.GRANTED
    run_net(t)


def test_unknown_request_type_and_str_for_unknown_session():
    async def t(net: Net):
        await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        odd = ccr(0, 9, sid="client.test.realm;1;77")
        a = await net.client.request(odd)
        assert a.result_code == 5004 and a.session_id == "client.test.realm;1;77"
        r = SessionTerminationRequest()
        r.header.application_id = 4
        r.session_id, r.origin_host, r.origin_realm = "client.test.realm;1;78", b"client.test.realm", REALM.encode()
        r.destination_realm, r.auth_application_id, r.termination_cause = REALM.encode(), 4, 1
        assert (await net.client.request(r)).result_code == 5002
        assert cc.sessions == {}
    run_net(t)


def test_abort_not_acknowledged_closes_the_session():
    async def t(net: Net):
        ocs = await net.add_server("ocs1.test.realm")
        cc = await net.connect()
        s = await cc.start(subscription_id="1", requested=MB, rating_group=1)
        cc.sessions.pop(s.session_id)  # the client forgot it (a restart): the ASR gets 5002
        assert await net.server().abort(s.session_id) == 5002
        assert net.server().sessions == {} and ocs.closed == [(s.session_id, "abort")]
        with pytest.raises(UnknownSession):
            await net.server().re_auth(s.session_id)
    run_net(t)


@pytest.mark.parametrize("first_fails", [False, True])
def test_copy_arriving_while_the_first_is_in_the_handler(first_fails):
    async def main():
        ocs = Ocs()
        gate = asyncio.Event()
        orig = ocs._grant

        seen = []

        async def slow(req):
            seen.append(req.retransmitted)
            await gate.wait()
            if first_fails:
                raise RuntimeError("db down")
            return await orig(req)
        ocs.on_initial = slow
        s, srv, c = await _pair(ocs)
        try:
            first = asyncio.ensure_future(c.request(ccr(0, 1)))
            await asyncio.sleep(0.1)
            again = asyncio.ensure_future(c.request(ccr(0, 1, retransmit=True)))
            await asyncio.sleep(0.1)
            gate.set()
            a1, a2 = parse_cca(await first), parse_cca(await again)
            want = 5012 if first_fails else 2001
            assert a1.result_code == a2.result_code == want and a1.request_number == a2.request_number == 0
            assert seen == [False]  # the handler ran once, for the first copy
        finally:
            await c.stop(1)
            await srv.close()
            await s.stop(1)
    run(main())
