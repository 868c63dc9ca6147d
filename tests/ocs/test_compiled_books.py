"""The compiled charging decision writes exactly what its source writes: every table row
(ledger, balances, reservations, sessions, outcomes, CDRs) after random workloads of
session and event requests on several rating groups, unit kinds, tariffs and wallets,
with the money running out (final units, redirect and restrict), on SQLite (the cached,
decided-ahead path) and in memory; and the rating helpers give the same answers as the
arithmetic they stand for."""
from __future__ import annotations

SCENARIO = r"""
import asyncio, json, marshal, os, random, sqlite3, tempfile
from diameter.ocs import Engine, RechargeRequest, RequestKind, Target, open_storage
from diameter.ocs import ChargeRequest, ServiceUsage, UnitKind, rating
from diameter.ocs.model import Balance, BalanceType, RequestedAction
from diameter.ocs.tariff import tariff_from_dict

TARIFFS = [None, {"policy": {"final_unit_action": "redirect", "threshold_percent": 0, "share_wallet": False},
                  "rates": [{"unit": "octets", "price": 3, "per": 1000, "default_quota": 5000, "rating_group": 1},
                            {"unit": "octets", "price": 7, "per": 1 << 20, "default_quota": 3 << 20,
                             "max_quota": 2 << 20, "context": "32251@3gpp.org"},
                            {"unit": "time", "price": 2, "per": 10, "default_quota": 60, "service_identifier": 8},
                            {"unit": "octets", "free": True, "rating_group": 1000}]},
           {"policy": {"final_unit_action": "restrict", "validity_time": 90, "quota_holding_time": 30},
            "rates": [{"unit": "octets", "price": 1, "per": 1, "default_quota": 700}]}]
CONTEXTS = ["32251@3gpp.org", "32260@3gpp.org", "32274@3gpp.org", "x.32251@3gpp.org", None]

async def run(path, tariff, seed, out):
    rng = random.Random(seed)
    async with open_storage(path) as st:
        t = [1000.0]
        eng = Engine(st, tariff=tariff, clock=lambda: t[0]) if tariff else Engine(st, clock=lambda: t[0])
        for a in range(4):
            extra = []
            if a == 3:
                extra = [Balance(0, 0, UnitKind.OCTETS, 3 << 20, type_code=int(BalanceType.FREE_UNITS),
                                 rating_groups=(1,), priority=10)]
            await eng.create_account(f"a{a}", [(0, f"49{a}")], extra=extra,
                                     amount=rng.choice([0, 30, 400, 5000, 10 ** 12]))
        for s in range(60):
            sub = f"49{rng.randrange(4)}"
            ctx = rng.choice(CONTEXTS)
            if rng.random() < 0.15:
                action = rng.choice([None, *RequestedAction])
                req = ChargeRequest(f"e{s}", 0, RequestKind.EVENT, [(0, sub)], ctx,
                                    [ServiceUsage(rng.choice([1, 2, None]), rng.choice([None, 8]),
                                                  requested={UnitKind.EVENTS: rng.randrange(0, 4)})],
                                    action=action, peer="p")
                out.append((await eng.charge(req)).to_json())
                continue
            rgs = rng.sample([1, 2, 1000, None], rng.randrange(1, 3))
            for n in range(rng.randrange(1, 7)):
                t[0] += rng.choice([0.5, 1.0, 30.0, 900.0])
                kind = RequestKind.INITIAL if n == 0 else rng.choice([RequestKind.UPDATE] * 3 + [RequestKind.TERMINATION])
                services = []
                for rg in rgs:
                    used = {}
                    if n:
                        used[rng.choice([UnitKind.OCTETS, UnitKind.TIME])] = rng.choice([0, 1, 999, 1 << 20, 7 << 20])
                    services.append(ServiceUsage(rg, rng.choice([None, 8]),
                                                 requested={} if kind is not RequestKind.TERMINATION else None,
                                                 used=used, final=rng.random() < 0.1))
                req = ChargeRequest(f"s{seed}.{s}", n, kind, [(0, sub)], ctx, services, peer="peer")
                copies = 2 if rng.random() < 0.1 else 1
                for o in await asyncio.gather(*[eng.charge(req) for _ in range(copies)]):
                    out.append(o.to_json())
                if kind is RequestKind.TERMINATION:
                    break
            if rng.random() < 0.2:
                o = await eng.recharge(Target(subscriptions=((0, sub),)), RechargeRequest(rng.randrange(1, 300)))
                out.append(o.to_json())
            if rng.random() < 0.1:
                t[0] += 2000
                out.append(await eng.release_expired())
        for a in range(4):
            snap = await eng.account(Target(name=f"a{a}"))
            out.append([[b.id, b.amount] for b in snap.balances])
        out.append((await st.audit()).ok)


def tables(path):
    con = sqlite3.connect(path)
    got = {}
    for table in ("balances", "ledger", "reservations", "sessions", "outcomes", "cdrs"):
        rows = con.execute(f"SELECT * FROM {table}").fetchall()
        # a recorded outcome's bytes (marshal) depend on which of its values are shared
        # objects (reference counts): their values are compared
        got[table] = sorted(repr(tuple(marshal.loads(v) if isinstance(v, bytes) else v for v in r))
                            for r in rows)
    con.close()
    return got


async def main():
    from diameter.ocs import books, mapping, model, tariff
    from diameter.ocs.store import account_ops, sqlite_cache
    mods = (books, mapping, model, tariff, rating, account_ops, sqlite_cache)
    out = [all(m.__file__.endswith(".py") for m in mods)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, raw in enumerate(TARIFFS):
            tariff = tariff_from_dict(raw) if raw is not None else None
            for seed in (1, 2):
                path = os.path.join(tmp, f"ocs{i}.{seed}.sqlite3")
                await run(path, tariff, seed + 10 * i, out)
                out.append(tables(path))
            await run(":memory:", tariff, 99 + i, out)
    print(json.dumps(out))

asyncio.run(main())
"""

HELPERS = r"""
import json, random
from diameter.ocs.model import UnitKind
from diameter.ocs.rating import _top_level, _units_key
from diameter.ocs.model import Grant, RequestKind
from diameter.ocs.tariff import DEFAULT_TARIFF, Rate, tariff_from_dict
from diameter.ocs import tariff as tariff_mod

rng = random.Random(11)
out = [tariff_mod.__file__.endswith(".py")]
rates = [Rate(UnitKind.OCTETS, price=rng.choice([0, 1, 7, 10, 3 ** 30, -1]), per=rng.choice([1, 6, 1 << 20, 1 << 31, 3 ** 40]))
         for _ in range(40)]
moneys = [-5, 0, 1, 9, 10, 11, (1 << 30) - 1, 1 << 30, (1 << 31) + 3, 10 ** 12, 10 ** 18, 1 << 62, 10 ** 30]
out.append([[r.affordable(m) for m in moneys] for r in rates])
out.append([[(max(0, m) // r.price) * r.per if r.price else 1 << 62 for m in moneys] for r in rates])
tariff = tariff_from_dict({"rates": [{"unit": "octets", "per": 1, "rating_group": 1},
                                     {"unit": "time", "per": 2, "service_identifier": 8},
                                     {"unit": "events", "per": 3, "context": "32274@3gpp.org"},
                                     {"unit": "time", "per": 4}]})
names = []
for _ in range(3000):  # more than the memo keeps: it is emptied and filled again
    ctx = rng.choice([None, "32274@3gpp.org", "a.32274@3gpp.org", f"c{rng.randrange(40)}"])
    rg, sid = rng.choice([None, 1, 2, rng.randrange(600)]), rng.choice([None, 8, rng.randrange(40)])
    names.append([tariff.rate_for(ctx, rg, sid).per, DEFAULT_TARIFF.rate_for(ctx, rg, sid).per])
out.append(names)
codes = [[rng.choice([2001, 4012, 5031]) for _ in range(rng.randrange(4))] for _ in range(200)]
out.append([[_top_level(k, [Grant(1, c) for c in cs]) for k in RequestKind] for cs in codes])
out.append([_units_key(rng.choice([None, 1, 7, rng.randrange(9000)]), rng.choice(["octets", "time", "unpaid"]))
            for _ in range(9000)])
print(json.dumps(out))
"""


def test_the_running_decision_writes_as_its_source(run_scenario):
    source, running = run_scenario(SCENARIO, True), run_scenario(SCENARIO, False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py files
    audits = [x for x in source if x is True or x is False]
    assert audits == [True] * 10  # the flag, then 3 tariffs x 3 runs, all audited clean
    dumps = [x for x in source if isinstance(x, dict)]
    assert len(dumps) == 6 and all(d["ledger"] and d["outcomes"] for d in dumps)
    assert any(d["cdrs"] for d in dumps) and any(d["reservations"] for d in dumps)
    assert any('"http://top-up.example.net/"' in x for x in source if isinstance(x, str))  # redirect
    assert any("permit out 17" in x for x in source if isinstance(x, str))  # restrict
    assert running[1:] == source[1:]


def test_the_running_rating_helpers_answer_as_their_source(run_scenario):
    source, running = run_scenario(HELPERS, True), run_scenario(HELPERS, False)
    assert source[0] is True
    assert source[1] == source[2]  # affordable() is the arithmetic it stands for
    assert len(source[3]) == 3000 and len(source[5]) == 9000
    assert running[1:] == source[1:]
