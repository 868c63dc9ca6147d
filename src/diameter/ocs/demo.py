"""`diameter ocs demo`: a whole OCS on a temporary SQLite file, driven by real clients.

Starts `OcsServer` on 127.0.0.1 (a free port), creates an account, plays a Gy session
(CCR-I, CCR-U, CCR-T) from a packet gateway and a Huawei balance query and recharge from
an OCG over loopback, printing each exchange and the balance after it, then the audit.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from ..cc import Units
from ..cc.wire import Usage, build_ccr, parse_cca
from ..message import Avp
from ..node.aio.node import DiameterNode
from . import huawei
from .server import OcsServer, PeerConfig, ServerConfig
from .store import Target

MSISDN = "491700000001"
REALM = "demo.example.net"
MIB = 1 << 20


def _money(minor: int | None) -> str:
    return "-" if minor is None else f"{minor / 100:.2f} EUR"


async def _client(identity: str, srv: OcsServer) -> DiameterNode:
    node = DiameterNode(identity, REALM, ip_addresses=["127.0.0.1"], vendor_ids=[10415, 2011])
    node.add_application(4)
    node.add_peer(srv.config.identity, addresses=["127.0.0.1"], port=srv.port, persistent=True,
                  reconnect_wait=0.2)
    await node.start()
    await node.wait_open(srv.config.identity, 10)
    return node


def _hw(code: int, value: Any) -> Any:
    return Avp.new(code, huawei.HUAWEI, value=value)


def _first(msg: Any, *path: tuple[int, int]) -> Any:
    found = msg.find_avps(*path)
    return found[0].value if found else None


async def run_demo(out: Callable[[str], None] = print, workdir: str | None = None) -> int:
    """Run the demo; returns 0 when every answer was as expected and the audit is clean."""
    with tempfile.TemporaryDirectory(prefix="ocs-demo-") as tmp:
        db = str(Path(workdir or tmp) / "ocs-demo.sqlite3")
        cfg = ServerConfig(identity="ocs.demo.example.net", realm=REALM, port=0, database=db,
                           peers=[PeerConfig("ocg.demo.example.net", dialect="huawei")])
        srv = OcsServer(cfg)
        await srv.start()
        clients: list[DiameterNode] = []
        try:
            return await _play(srv, clients, out)
        finally:
            for c in clients:
                await c.stop(1)
            await srv.stop()


async def _balance(srv: OcsServer) -> str:
    snap = await srv.engine.account(Target(subscriptions=((0, MSISDN),)))
    if snap is None:
        return "-"
    main = snap.balances[0].amount
    held = sum(h.amount for r in snap.reservations for h in r.holds)
    return f"{_money(main)} (+{_money(held)} reserved)"


async def _play(srv: OcsServer, clients: list[DiameterNode], out: Callable[[str], None]) -> int:
    ok = True
    out(f"OCS {srv.config.identity} on 127.0.0.1:{srv.port}, storage {srv.store.url}")
    aid = await srv.engine.create_account("demo", [(0, MSISDN)], amount=500)
    out(f"account {aid} 'demo', MSISDN {MSISDN}: {await _balance(srv)}")
    pgw = await _client("pgw.demo.example.net", srv)
    clients.append(pgw)
    sid = "pgw.demo.example.net;1;1"
    steps = [(1, Usage(1, requested=Units(total_octets=0)), "CCR-I  ask for quota"),
             (2, Usage(1, requested=Units(total_octets=0), used=Units(total_octets=7 * MIB)),
              "CCR-U  used 7 MiB"),
             (3, Usage(1, used=Units(total_octets=2 * MIB + 1)), "CCR-T  used 2 MiB + 1 octet")]
    out("\nGy session (32251@3gpp.org, rating group 1, 0.10 EUR per started MiB):")
    for n, (kind, usage, label) in enumerate(steps):
        ccr = build_ccr(session_id=sid, request_type=kind, request_number=n,
                        origin_host="pgw.demo.example.net", origin_realm=REALM,
                        destination_realm=REALM, destination_host=None,
                        service_context_id="32251@3gpp.org", subscription_ids=[(0, MSISDN)],
                        usages=[usage])
        a = parse_cca(await pgw.request(ccr, timeout=10))
        g = a.grants[0] if a.grants else None
        granted = g.granted.total_octets if g is not None and g.granted is not None else None
        what = f"granted {granted // MIB} MiB" if granted else "no more units"
        out(f"  {label:30s} -> {a.result_code} {what}; balance {await _balance(srv)}")
        ok = ok and a.result_code == 2001
    ocg = await _client("ocg.demo.example.net", srv)
    clients.append(ocg)
    out("\nHuawei DCC from ocg.demo.example.net (dialect huawei):")
    query = [_hw(huawei.IN_INFORMATION, [_hw(huawei.ACCOUNT_QUERY_METHOD, 1)])]
    for n, (label, extra, action) in enumerate([
            ("balance query", query, 2),
            ("recharge 10.00 EUR", [_hw(huawei.IN_INFORMATION, [_hw(huawei.RECHARGE_INFORMATION, [
                _hw(huawei.CHARGE_NUMBER, MSISDN.encode()),
                _hw(huawei.CHARGE_MONEY, [_hw(huawei.MONEY_VALUE, 1000)])]),
                _hw(huawei.CHARGE_CONFIRM_FLAG, 0)])], None),
            ("balance query", query, 2)]):
        ccr = build_ccr(session_id=f"ocg.demo.example.net;2;{n}", request_type=4, request_number=0,
                        origin_host="ocg.demo.example.net", origin_realm=REALM,
                        destination_realm=REALM, destination_host=None,
                        service_context_id="huawei.dcc@huawei.com", subscription_ids=[(0, MSISDN)],
                        requested_action=action, extra_avps=extra)
        ans: Any = await ocg.request(cast(Any, ccr), timeout=10)
        ok = ok and ans.result_code == 2001
        inf = (huawei.IN_INFORMATION, huawei.HUAWEI)
        if "query" in label:
            cur = _first(ans, inf, (huawei.BALANCE_INFO, huawei.HUAWEI), (huawei.CURRENT_BALANCE, huawei.HUAWEI))
            out(f"  {label:30s} -> {ans.result_code} Balance-Info Current-Balance {_money(cur)}")
        else:
            before = _first(ans, inf, (huawei.AMOUNT_BEFORE_RECHARGE, huawei.HUAWEI))
            new = _first(ans, inf, (huawei.RECHARGE_INFORMATION, huawei.HUAWEI),
                         (huawei.CHARGE_MONEY, huawei.HUAWEI), (huawei.NEW_MONEY, huawei.HUAWEI))
            out(f"  {label:30s} -> {ans.result_code} Amount-Before-Recharge {_money(before)}, "
                f"New-Money {_money(new)}")
    report = await srv.store.audit()
    out(f"\nbalance {await _balance(srv)}; audit: {report.balances} balance(s), "
        f"{report.ledger_rows} ledger rows, {'clean' if report.ok else report.problems}")
    cdrs = await srv.store.cdrs()
    out(f"CDRs: {len(cdrs)} (session charged {_money(cdrs[0][1]['charged']) if cdrs else '-'})")
    return 0 if ok and report.ok else 1


def main() -> int:
    return asyncio.run(run_demo())
