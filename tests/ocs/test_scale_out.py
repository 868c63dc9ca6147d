"""Two OCS instances on one PostgreSQL behind a relay (this package's, freeDiameter's): balances exact."""

from __future__ import annotations

import asyncio

import pytest

from diameter.node.aio import DiameterNode
from diameter.node.protocol.routing import Balancing, RouteAction
from diameter.ocs import Target

from tests.interop.freediameter import EXTENSION_DIR, ConnectPeer, FreeDiameter, have_freediameter
from .netsupport import REALM, ccr, parse_cca, start_server

OCS_REALM = "ocs.example.org"
MIB = 1 << 20


def test_sessions_alternate_between_instances_and_balances_stay_exact(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        a = await start_server(url, identity="ocs-a.ocs.example.org", realm=OCS_REALM)
        b = await start_server(url, identity="ocs-b.ocs.example.org", realm=OCS_REALM)
        relay = DiameterNode("relay.example.net", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                             ip_addresses=["127.0.0.1"], is_relay=True, balancing=Balancing.ROUND_ROBIN)
        relay.add_peer("pgw.example.net")
        for s in (a, b):
            relay.add_peer(s.config.identity, realm=OCS_REALM, addresses=["127.0.0.1"], port=s.port,
                           persistent=True, reconnect_wait=0.2)
        relay.add_route(OCS_REALM, [a.config.identity, b.config.identity], RouteAction.RELAY)
        client = DiameterNode("pgw.example.net", REALM, ip_addresses=["127.0.0.1"])
        client.add_application(4)
        try:
            await relay.start()
            await relay.wait_open(a.config.identity, 10)
            await relay.wait_open(b.config.identity, 10)
            client.add_peer("relay.example.net", addresses=["127.0.0.1"], port=relay.listen_ports[0],
                            persistent=True, reconnect_wait=0.2)
            await client.start()
            await client.wait_open("relay.example.net", 10)
            for i in range(4):
                await a.engine.create_account(f"acc{i}", [(0, f"49170000100{i}")], amount=400)

            async def session(n: int) -> set[str]:
                kw = dict(msisdn=f"49170000100{n % 4}", realm=OCS_REALM)
                sid = f"pgw.example.net;relay;{n}"
                hosts = set()
                ans = parse_cca(await client.request(ccr(sid, 1, 0, requested=0, **kw), timeout=20))
                hosts.add(ans.origin_host)
                for k in range(1, 4):
                    ans = parse_cca(await client.request(ccr(sid, 2, k, requested=0, used=3 * MIB, **kw),
                                                         timeout=20))
                    hosts.add(ans.origin_host)
                ans = parse_cca(await client.request(ccr(sid, 3, 4, used=MIB, **kw), timeout=20))
                hosts.add(ans.origin_host)
                assert ans.result_code == 2001
                return hosts

            seen = await asyncio.gather(*(session(n) for n in range(12)))
            assert any(len(h) == 2 for h in seen)  # one session's requests on both instances
            assert sum(a.front.stats.values()) > 0 and sum(b.front.stats.values()) > 0
            for i in range(4):
                snap = await b.engine.account(Target(name=f"acc{i}"))
                # 3 sessions per account, each 3 x 3 MiB + 1 MiB at 10 per MiB
                assert snap.balances[0].amount == 400 - 3 * 100 and not snap.reservations
            assert (await a.store.audit()).ok
        finally:
            await client.stop(1)
            await relay.stop(1)
            await a.stop()
            await b.stop()
    asyncio.run(asyncio.wait_for(main(), 120))


class _BalancingRelay(FreeDiameter):
    """freeDiameterd as a relay with Debian's load-balancing routing extensions."""

    def write_config(self):
        path = super().write_config()
        with open(path, "a") as fh:
            for ext in ("rt_load_balance.fdx", "rt_randomize.fdx"):
                fh.write(f'LoadExtension = "{EXTENSION_DIR / ext}";\n')
        return path


@pytest.mark.interop
def test_two_instances_behind_freediameter_load_balancing_relay(pg_cluster, tmp_path):
    if not have_freediameter():
        pytest.fail("freeDiameterd missing: apt-get install freediameterd freediameter-extensions openssl")
    url = pg_cluster.new_database()

    async def main():
        a = await start_server(url, identity="ocs-a.ocs.example.org", realm=OCS_REALM)
        b = await start_server(url, identity="ocs-b.ocs.example.org", realm=OCS_REALM)
        relay = _BalancingRelay(tmp_path / "relay", "relay.relay.example.com", "relay.example.com",
                                allow=["*.example.net"],
                                peers=[ConnectPeer(s.config.identity, s.port, realm=OCS_REALM) for s in (a, b)])
        client = DiameterNode("pgw.example.net", REALM, ip_addresses=["127.0.0.1"])
        client.add_application(4)
        try:
            await asyncio.to_thread(relay.start)
            for s in (a, b):
                await asyncio.to_thread(relay.wait_peer_state, s.config.identity, "STATE_OPEN", 15)
            await client.start()
            hop = client.add_peer("relay.relay.example.com", "relay.example.com", ["127.0.0.1"],
                                  port=relay.port)
            await client.connect(hop, timeout=10)
            client.add_route(OCS_REALM, ["relay.relay.example.com"])
            await a.engine.create_account("fd", [(0, "491700002000")], amount=1000)

            async def session(n: int) -> None:
                kw = dict(msisdn="491700002000", realm=OCS_REALM)
                sid = f"pgw.example.net;fd;{n}"
                await client.request(ccr(sid, 1, 0, requested=0, **kw), timeout=20)
                for k in (1, 2):
                    await client.request(ccr(sid, 2, k, requested=0, used=2 * MIB, **kw), timeout=20)
                ans = parse_cca(await client.request(ccr(sid, 3, 3, used=MIB, **kw), timeout=20))
                assert ans.result_code == 2001
            await asyncio.gather(*(session(n) for n in range(8)))
            assert sum(a.front.stats.values()) > 0 and sum(b.front.stats.values()) > 0
            snap = await a.engine.account(Target(name="fd"))
            assert snap.balances[0].amount == 1000 - 8 * 50 and not snap.reservations
            assert (await b.store.audit()).ok
        finally:
            await client.stop(1)
            await asyncio.to_thread(relay.stop)
            await a.stop()
            await b.stop()
    asyncio.run(asyncio.wait_for(main(), 120))
