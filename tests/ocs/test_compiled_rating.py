"""The OCS rating core may be compiled (mypyc, setup.py's OCS_COMPILED_MODULES): the build
is all or nothing, and the compiled modules decide exactly as their Python source does."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from diameter import ocs
from diameter.ocs import store

SRC = str(Path(__file__).resolve().parents[2] / "src")

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


def _run(pure: bool) -> list:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("DIAMETER_PURE_PYTHON", None)
    if pure:
        env["DIAMETER_PURE_PYTHON"] = "1"
    out = subprocess.run([sys.executable, "-c", SCENARIO], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_build_is_all_compiled_or_all_source():
    mods = [importlib.import_module(f"diameter.ocs.{name}") for name in ocs._COMPILED_MODULES]
    mods += [importlib.import_module(f"diameter.ocs.store.{name}") for name in store._COMPILED_MODULES]
    kinds = {m.__file__.endswith(".py") for m in mods}
    assert len(kinds) == 1, [m.__file__ for m in mods]  # a stale partial build mixes
    if os.environ.get("DIAMETER_PURE_PYTHON"):
        assert kinds == {True}
    elif os.environ.get("DIAMETER_EXPECT_COMPILED"):
        assert kinds == {False}


def test_the_running_rating_decides_as_its_source():
    source, running = _run(pure=True), _run(pure=False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py files
    assert [x for x in source if x is True] == [True] * 3 and len(source) > 120  # clean audits (both files)
    assert running[1:] == source[1:]
