"""The OCS over loopback: a real Diameter client against `OcsServer`."""

from __future__ import annotations

import asyncio

from diameter.message import Avp
from diameter.message.avp import grouped as G
from diameter.ocs import Target

from .netsupport import PeerConfig, ccr, parse_cca, start_client, start_server

MIB = 1 << 20
HW = 2011


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_gy_session_charges_exactly_and_cea_advertises_3gpp_vendor_application(tmp_path):
    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"))
        c = None
        try:
            await srv.engine.create_account("alice", [(0, "491700000001")], amount=1000)
            c = await start_client(srv)
            caps = c.peers["ocs.example.net"].capabilities
            assert (10415, 4, None) in caps.vendor_specific_application_ids
            assert 4 not in caps.auth_application_ids
            a = parse_cca(await c.request(ccr("s1", 1, 0, requested=0)))
            assert a.result_code == 2001 and a.grants[0].granted.total_octets == 10 * MIB
            assert a.grants[0].validity_time == 600 and a.grants[0].volume_quota_threshold == 2 * MIB
            a = parse_cca(await c.request(ccr("s1", 2, 1, requested=0, used=3 * MIB)))
            assert a.result_code == 2001 and a.grants[0].result_code == 2001
            a = parse_cca(await c.request(ccr("s1", 3, 2, used=MIB + 1)))
            assert a.result_code == 2001 and a.grants[0].granted is None
            snap = await srv.engine.account(Target(name="alice"))
            assert snap.balances[0].amount == 1000 - 30 - 20
            assert (await srv.store.audit()).ok
            # unknown subscriber, free rating group, no rate
            a = parse_cca(await c.request(ccr("s2", 1, 0, requested=0, msisdn="999")))
            assert a.result_code == 5030
            a = parse_cca(await c.request(ccr("s3", 1, 0, requested=0, rg=1000)))
            assert a.grants[0].result_code == 4011
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_clients_that_bend_the_grammar_are_charged(tmp_path):
    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"))
        c = None
        try:
            await srv.engine.create_account("bob", [(0, "491700000002"), (3, "bob@example.net")],
                                            amount=100)
            c = await start_client(srv)
            # IMS client: operator-prefixed Ro context, time units at the top level,
            # no Auth-Application-Id, Subscription-Id only inside Service-Information
            r = ccr("ims1", 1, 0, msisdn="", context="ext.01.001.8.32260@3gpp.org", rg=None,
                    top_level=True)
            r.requested_service_unit = G.RequestedServiceUnit(cc_time=120)
            r.auth_application_id = None
            r.service_information = G.ServiceInformation(
                subscription_id=[G.SubscriptionId(0, "491700000002")])
            a = parse_cca(await c.request(r))
            assert a.result_code == 2001 and a.grants[0].granted.time == 120
            assert not a.message.multiple_services_credit_control
            # User-Name as the only identity; used units rounded up to the started block
            r = ccr("ims1", 3, 1, msisdn="", context="ext.01.001.8.32260@3gpp.org", rg=None,
                    top_level=True, user_name="bob@example.net")
            r.used_service_unit = [G.UsedServiceUnit(cc_time=61)]
            a = parse_cca(await c.request(r))
            assert a.result_code == 2001
            snap = await srv.engine.account(Target(name="bob"))
            assert snap.balances[0].amount == 100 - 11  # 11 started 6 s blocks
            # SMS event, direct debit of one message
            r = ccr("sms1", 4, 0, context="32274@3gpp.org", msisdn="491700000002", rg=None,
                    top_level=True, requested_action=0)
            r.requested_service_unit = G.RequestedServiceUnit(cc_service_specific_units=1)
            a = parse_cca(await c.request(r))
            assert a.result_code == 2001 and a.message.cost_information.unit_value.value_digits == 5
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_too_busy_above_the_in_progress_limit(tmp_path):
    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"), max_in_progress=0)
        c = None
        try:
            c = await start_client(srv)
            a = parse_cca(await c.request(ccr("b", 1, 0, requested=0)))
            assert a.result_code == 3004
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def _in_info(*children):
    return Avp.new(20300, HW, value=list(children))


def _hw(code, value):
    return Avp.new(code, HW, value=value)


def _find(msg, *path):
    found = msg.find_avps(*path)
    return found[0].value if found else None


def test_huawei_balance_query_recharge_and_reauth_of_final_units_session(tmp_path):
    async def main():
        rars = []
        srv = await start_server(str(tmp_path / "ocs.db"),
                                 peers=[PeerConfig("ocg.example.net", dialect="huawei")])
        c = None
        try:
            await srv.engine.create_account("carol", [(0, "491700000003")], amount=15)
            c = await start_client(srv, identity="ocg.example.net")

            async def on_rar(req):
                rars.append(req.session_id)
                a = req.to_answer()
                a.session_id, a.result_code = req.session_id, 2001
                a.origin_host, a.origin_realm = b"ocg.example.net", b"example.net"
                return a
            c.apps[4].handler, c.apps[4].is_coro = on_rar, True
            kw = dict(origin="ocg.example.net", msisdn="491700000003")
            # the last units carry a Final-Unit-Indication, and huawei peers get Account-Change-Info
            a = parse_cca(await c.request(ccr("h1", 1, 0, requested=0, **kw)))
            assert a.grants[0].granted.total_octets == MIB and a.grants[0].final_unit.action == 0
            assert _find(a.message, (20300, HW), (20349, HW), (20350, HW)) == 5
            # balance query
            q = ccr("q1", 4, 0, requested_action=2, extra_avps=[_in_info(_hw(20346, 1))], **kw)
            a = await c.request(q)
            assert a.result_code == 2001
            assert _find(a, (20300, HW), (60001, HW), (60006, HW)) == 5
            assert _find(a, (20300, HW), (20356, HW), (20372, HW)) == 2000
            # recharge 500: amount before and after; the FUI'd session gets a RAR
            rch = _hw(20341, [_hw(20326, b"491700000003"), _hw(20344, [_hw(20328, 500)])])
            r = ccr("r1", 4, 0, extra_avps=[_in_info(rch, _hw(20347, 0))], **kw)
            a = await c.request(r)
            assert a.result_code == 2001
            assert _find(a, (20300, HW), (20914, HW)) == 5
            assert _find(a, (20300, HW), (20341, HW), (20344, HW), (22995, HW)) == 505
            for _ in range(100):
                if rars:
                    break
                await asyncio.sleep(0.02)
            assert rars == ["h1"]
            # the retransmitted recharge is not credited twice
            a = await c.request(ccr("r1", 4, 0, extra_avps=[_in_info(rch)], retransmit=True, **kw))
            assert _find(a, (20300, HW), (20341, HW), (20344, HW), (22995, HW)) == 505
            # after the RAR the client's update gets full units again
            a = parse_cca(await c.request(ccr("h1", 2, 1, requested=0, used=MIB, **kw)))
            assert a.grants[0].granted.total_octets == 10 * MIB and a.grants[0].final_unit is None
            snap = await srv.engine.account(Target(name="carol"))
            assert snap.balances[0].amount == 505 + 10 - 10 - 100  # hold released, 1 MiB debited
            assert (await srv.store.audit()).ok
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_retransmission_to_another_instance_on_postgres_is_not_charged_twice(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        a_srv = await start_server(url, identity="ocs-a.example.net")
        b_srv = await start_server(url, identity="ocs-b.example.net")
        c = None
        try:
            await a_srv.engine.create_account("dan", [(0, "491700000004")], amount=1000)
            c = await start_client(a_srv, b_srv)
            kw = dict(msisdn="491700000004")
            await c.request(ccr("p1", 1, 0, requested=0, dest="ocs-a.example.net", **kw))
            first = parse_cca(await c.request(ccr("p1", 2, 1, requested=0, used=4 * MIB,
                                                  dest="ocs-a.example.net", **kw)))
            again = parse_cca(await c.request(ccr("p1", 2, 1, requested=0, used=4 * MIB,
                                                  dest="ocs-b.example.net", retransmit=True, **kw)))
            assert first.grants == again.grants and again.origin_host == "ocs-b.example.net"
            end = await c.request(ccr("p1", 3, 2, used=MIB, dest="ocs-b.example.net", **kw))
            assert end.result_code == 2001
            snap = await b_srv.engine.account(Target(name="dan"))
            assert snap.balances[0].amount == 1000 - 40 - 10 and not snap.reservations
            assert (await b_srv.store.audit()).ok
        finally:
            if c is not None:
                await c.stop(1)
            await a_srv.stop()
            await b_srv.stop()
    run(main())


def test_prometheus_metrics_count_requests_by_type_and_result(tmp_path, free_tcp_port):
    import urllib.request

    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"), metrics_port=free_tcp_port,
                                 sweep_interval=0.05)
        c = None
        try:
            await srv.engine.create_account("mia", [(0, "491700000009")], amount=100)
            c = await start_client(srv)
            await c.request(ccr("m1", 1, 0, requested=0, msisdn="491700000009"))
            await c.request(ccr("m2", 1, 0, requested=0, msisdn="000"))
            url = f"http://127.0.0.1:{free_tcp_port}/metrics"
            for _ in range(100):
                text = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: urllib.request.urlopen(url, timeout=5).read().decode())
                if "ocs_reservations 1.0" in text:
                    break
                await asyncio.sleep(0.05)
            assert 'ocs_requests_total{result="2001",type="initial"} 1.0' in text
            assert 'ocs_requests_total{result="5030",type="initial"} 1.0' in text
            assert "ocs_open_sessions 1.0" in text
            assert "ocs_reservations 1.0" in text and "ocs_reserved_minor_units 100.0" in text
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_requests_that_cannot_be_charged_safely_are_refused_and_cost_nothing(tmp_path):
    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"),
                                 peers=[PeerConfig("ocg.example.net", dialect="huawei")])
        c = None
        try:
            await srv.engine.create_account("ned", [(0, "491700000010")], amount=100)
            c = await start_client(srv, identity="ocg.example.net")
            r = ccr("n1", 1, 0, requested=0, origin="ocg.example.net", msisdn="491700000010")
            r.cc_request_number = None  # no idempotency key: cannot be charged exactly once
            a = parse_cca(await c.request(r))
            assert a.result_code == 5005
            # recharge of a number nobody has; reversal below the floor
            rch = _hw(20341, [_hw(20326, b"000"), _hw(20344, [_hw(20328, 50)])])
            a = await c.request(ccr("r9", 4, 0, extra_avps=[_in_info(rch)], origin="ocg.example.net",
                                    msisdn=""))
            assert a.result_code == 5030
            rev = _hw(20341, [_hw(20326, b"491700000010"), _hw(20344, [_hw(20328, 500)]),
                              _hw(30336, 1)])
            a = await c.request(ccr("r10", 4, 0, extra_avps=[_in_info(rev)], origin="ocg.example.net",
                                    msisdn=""))
            assert a.result_code == 4012
            # storage gone: that request gets 5012, the connection stays up
            await srv.store.close()
            a = parse_cca(await c.request(ccr("n2", 1, 0, requested=0, origin="ocg.example.net",
                                              msisdn="491700000010")))
            assert a.result_code == 5012
            await srv.store.open()
            a = parse_cca(await c.request(ccr("n3", 1, 0, requested=0, origin="ocg.example.net",
                                              msisdn="491700000010")))
            assert a.result_code == 2001
            snap = await srv.engine.account(Target(name="ned"))
            assert snap.balances[0].amount == 100 - 100  # only n3's reservation
            assert (await srv.store.audit()).ok
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_restrict_access_final_units_carry_the_configured_filter_rules(tmp_path):
    from diameter.ocs.model import FinalAction
    from diameter.ocs.tariff import DEFAULT_TARIFF, Policy, Tariff

    rules = ("permit out 6 from any to 192.0.2.10 443", "permit in 6 from 192.0.2.10 443 to any")
    tariff = Tariff(DEFAULT_TARIFF.rates, Policy(final_unit_action=FinalAction.RESTRICT_ACCESS,
                                                 restriction_filter_rules=rules, filter_ids=("walled",)))

    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"), tariff=tariff)
        c = None
        try:
            await srv.engine.create_account("carol", [(0, "491700000001")], amount=15)  # 1.5 MiB
            c = await start_client(srv)
            wire = await c.request(ccr("r1", 1, 0, requested=0))
            a = parse_cca(wire)
            fu = a.grants[0].final_unit
            assert a.result_code == 2001 and a.grants[0].granted.total_octets == MIB
            assert fu.action == 2 and fu.redirect_server_address is None
            assert [r.decode() for r in fu.restriction_filter_rules] == list(rules)
            assert list(fu.filter_ids) == ["walled"]
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_a_dead_sqlite_writer_process_costs_its_requests_5012_not_a_hang(tmp_path):
    import os
    import signal

    async def main():
        srv = await start_server(str(tmp_path / "ocs.db"))
        c = None
        try:
            await srv.engine.create_account("dw", [(0, "491700000001")], amount=1000)
            c = await start_client(srv)
            a = parse_cca(await c.request(ccr("d1", 1, 0, requested=0)))
            assert a.result_code == 2001
            writer = srv.store._writer.proc.pid
            os.kill(writer, signal.SIGSTOP)  # the next request's batch stays with it
            pending = asyncio.ensure_future(c.request(ccr("d1", 2, 1, requested=0, used=MIB)))
            await asyncio.sleep(0.2)
            assert not pending.done()  # not answered before its commit
            os.kill(writer, signal.SIGKILL)
            a = parse_cca(await asyncio.wait_for(pending, 20))
            assert a.result_code == 5012  # may or may not be committed: the client retries
            a = parse_cca(await c.request(ccr("d1", 2, 1, requested=0, used=MIB)))  # its retry
            assert a.result_code == 2001  # a new writer process
            snap = await srv.engine.account(Target(name="dw"))
            assert snap.balances[0].amount == 1000 - 10 - 100 and (await srv.store.audit()).ok
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())
