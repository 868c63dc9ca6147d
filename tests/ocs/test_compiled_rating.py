"""The OCS rating core may be compiled (mypyc, setup.py's OCS_COMPILED_MODULES): the build
is all or nothing, and the compiled modules decide exactly as their Python source does."""
from __future__ import annotations

import importlib

from diameter import ocs
from diameter.ocs import store


SCENARIO = r"""
import asyncio, json, os, random, tempfile
from diameter.ocs import Engine, RechargeRequest, RequestKind, Target, open_storage
from diameter.ocs import ChargeRequest, ServiceUsage, UnitKind, rating

async def run(path, out):
    rng = random.Random(7)
    async with open_storage(path) as st:
        t = [0.0]
        eng = Engine(st, clock=lambda: t[0])
        for a in range(3):
            await eng.create_account(f"a{a}", [(0, f"49{a}")], amount=rng.choice([0, 50, 400, 5000]))
        for s in range(40):
            sub = f"49{rng.randrange(3)}"
            for n in range(rng.randrange(1, 6)):
                t[0] += rng.choice([1.0, 30.0, 900.0])
                kind = RequestKind.INITIAL if n == 0 else rng.choice([RequestKind.UPDATE, RequestKind.TERMINATION])
                used = {UnitKind.OCTETS: rng.choice([0, 1, 1 << 20, 7 << 20])} if n else {}
                req = ChargeRequest(f"s{s}", n, kind, [(0, sub)], "32251@3gpp.org",
                                    [ServiceUsage(rng.choice([1, 2, None]),
                                                  requested={} if kind is not RequestKind.TERMINATION else None,
                                                  used=used, final=rng.random() < 0.1)])
                copies = 2 if rng.random() < 0.15 else 1  # a retransmission: replayed, not charged
                for o in await asyncio.gather(*[eng.charge(req) for _ in range(copies)]):
                    out.append(o.to_json())
                if kind is RequestKind.TERMINATION:
                    break
            if rng.random() < 0.2:
                o = await eng.recharge(Target(subscriptions=((0, sub),)), RechargeRequest(rng.randrange(1, 300)))
                out.append(o.to_json())
        t[0] += 10_000
        await eng.release_expired()
        for a in range(3):
            snap = await eng.account(Target(name=f"a{a}"))
            out.append([b.amount for b in snap.balances])
        out.append((await st.audit()).ok)


async def main():
    from diameter.ocs.store import sqlite_cache
    out = [rating.__file__.endswith(".py") and sqlite_cache.__file__.endswith(".py")]
    with tempfile.TemporaryDirectory() as tmp:  # one batch at a time, then decided ahead of the writer
        for path in (":memory:", os.path.join(tmp, "ocs.sqlite3")):
            await run(path, out)
    print(json.dumps(out))

asyncio.run(main())
"""


FRONT = r"""
import asyncio, json, random
from diameter.cc import Units
from diameter.cc.wire import Usage, build_ccr, parse_ccr
from diameter.message import Message
from diameter.ocs import Engine, open_storage
from diameter.ocs.front import OcsFront

async def main():
    rng = random.Random(3)
    from diameter.ocs import mapping
    out = [mapping.__file__.endswith(".py")]
    async with open_storage(":memory:") as st:
        eng = Engine(st, clock=lambda: 1000.0)
        await eng.create_account("a", [(0, "491")], amount=rng.choice([0, 50, 5000]))
        front = OcsFront(eng)
        for s in range(30):
            last = rng.randrange(1, 5)
            top = rng.random() < 0.3
            for n in range(last + 1):
                kind = 4 if last == 1 and rng.random() < 0.3 else (1 if n == 0 else (3 if n == last else 2))
                usages = [Usage(rng.choice([None, 1, 2]), rng.sample([7, 8], rng.randrange(2)),
                                Units(total_octets=rng.choice([0, 1 << 20])) if kind != 3 else None,
                                Units(input_octets=rng.choice([5, 1 << 20]), output_octets=3) if n else None,
                                rng.choice([None, 2]))
                          for _ in range(1 if top else rng.randrange(3))]
                raw = build_ccr(session_id=f"s;{s}", request_type=kind, request_number=n, origin_host="h",
                                origin_realm="r", destination_realm="r", destination_host=None,
                                service_context_id=rng.choice(["32251@3gpp.org", "unknown"]),
                                subscription_ids=[(0, rng.choice(["491", "492"]))] if rng.random() < 0.9 else [],
                                user_name=rng.choice([None, "491"]), requested_action=rng.choice([None, 0, 2, 9]),
                                usages=usages, top_level=top).as_bytes()
                req = parse_ccr(Message.from_bytes(raw), raw=raw)
                on = {1: front.on_initial, 2: front.on_update, 3: front.on_termination, 4: front.on_event}[kind]
                out.append(repr(await on(req)))
                if kind == 4:
                    break
        out.append((await st.audit()).ok)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_build_is_all_compiled_or_all_source(assert_one_build):
    mods = [importlib.import_module(f"diameter.ocs.{name}") for name in ocs._COMPILED_MODULES]
    mods += [importlib.import_module(f"diameter.ocs.store.{name}") for name in store._COMPILED_MODULES]
    assert_one_build(mods)


def test_the_running_rating_decides_as_its_source(run_scenario):
    source, running = run_scenario(SCENARIO, True), run_scenario(SCENARIO, False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py files
    assert [x for x in source if x is True] == [True] * 3 and len(source) > 120  # clean audits (both files)
    assert running[1:] == source[1:]


def test_the_running_front_maps_as_its_source(run_scenario):
    source, running = run_scenario(FRONT, True), run_scenario(FRONT, False)
    assert source[0] is True and source[-1] is True and len(source) > 60
    assert any("result_code=4012" in x for x in source[1:-1])  # the money runs out on the way
    assert running[1:] == source[1:]


def test_microseconds_are_rounded_as_round_does():
    import random

    from diameter.ocs.store.sqlite_cache import _us

    rng = random.Random(5)
    times = [rng.uniform(0, 4e9) for _ in range(20000)] + [n / 4e6 for n in range(20000)]
    times += [(n + 0.5) / 1e6 for n in range(0, 1 << 30, 1 << 14)] + [0.0, 5e9, 1e300, -1.5, 1796555773.1454036]
    halves = sum(1 for t in times if (t * 1e6) % 1 == 0.5)
    assert halves > 1000  # ties, where half-to-even matters, are there
    assert [_us(t) for t in times] == [round(t * 1_000_000) for t in times]


def test_recorded_outcome_lists_every_field_in_order():
    import dataclasses

    from diameter.ocs.model import _OUTCOME_FIELDS, Grant, Outcome

    g = Grant(1, 4012, 7, "octets", 5, 1, "http://x/", ["permit out ip"], ["f"], 600, 30, 100, 200, 9)
    out = Outcome(2001, [g, Grant(5)], 3, 90, -10, 978, 12, 0, 100, ["s1"], "e", False)
    assert set(_OUTCOME_FIELDS) == {f.name for f in dataclasses.fields(Outcome)} - {"grants", "replayed"}
    assert out.to_row() == [2, *(getattr(out, f) for f in _OUTCOME_FIELDS),
                            [tuple(getattr(x, f.name) for f in dataclasses.fields(Grant)) for x in out.grants]]
    back = Outcome.from_json(out.to_json())
    back.replayed = out.replayed
    assert back == out
