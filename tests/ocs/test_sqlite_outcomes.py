"""SQLite schema version 7: recorded outcomes without an index on their time.

The index went (every outcome cost a third B-tree insert); recorded outcomes are pruned in
the order they were written, up to the first one that is not old enough. Times travel from
the event loop to the writer as seconds in whole microseconds and are stored as such."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from diameter.ocs import Engine, RequestKind, open_storage
from diameter.ocs.store import schema
from diameter.ocs.store.sqlite_cache import _secs, _us

from .helpers import MIB, MSISDN, gy


def _indexes(path: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_migration_7_is_sqlite_only():
    mine = [s for s in schema.MIGRATIONS if s[0] == 7][0][1]
    sqlite_only = [s[1] for s in mine if isinstance(s, tuple) and s[0] == "sqlite"]
    assert schema.statements(7, schema.SQLITE_TYPES)[:len(sqlite_only)] == sqlite_only
    assert sqlite_only[0] == "DROP INDEX IF EXISTS outcomes_ts"
    assert not set(sqlite_only) & set(schema.statements(7, schema.POSTGRES_TYPES))


def test_a_version_6_file_loses_the_index_and_keeps_answering_retransmissions(tmp_path, monkeypatch):
    path = str(tmp_path / "ocs.sqlite3")
    six = [m for m in schema.MIGRATIONS if m[0] <= 6]

    async def before():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("a", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL, requested=MIB))
            await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB, requested=MIB))

    monkeypatch.setattr(schema, "MIGRATIONS", six)
    asyncio.run(before())
    assert "outcomes_ts" in _indexes(path)
    monkeypatch.undo()

    async def after():
        async with open_storage(path) as st:
            eng = Engine(st)
            first = await eng.charge(gy("s", 2, RequestKind.UPDATE, used=MIB, requested=MIB))
            again = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB, requested=MIB))
            assert again.replayed and not first.replayed
            assert (await st.audit()).ok
            assert await st.prune_outcomes(time.time() + 1) == 3

    asyncio.run(after())
    assert "outcomes_ts" not in _indexes(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == schema.LATEST
        assert conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 1


def test_outcomes_are_pruned_oldest_first_up_to_the_first_young_one(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            clock = [100.0]
            eng = Engine(st, clock=lambda: clock[0])
            await eng.create_account("a", [(0, MSISDN)], amount=10**6)
            # written in this order, with these times (the fourth out of order)
            times = [100.0, 200.0, 300.0, 1000.0, 250.0, 2000.0]
            for n, t in enumerate(times):
                kind = RequestKind.INITIAL if n == 0 else RequestKind.UPDATE
                clock[0] = t
                out = await eng.charge(gy("s", n, kind, used=MIB if n else 0, requested=MIB))
                assert out.result_code == 2001
            rows = await st._run(lambda: (yield ("SELECT request_number, ts FROM outcomes ORDER BY rowid",
                                                 (), "all")))
            assert [(int(n), ts) for n, ts in rows] == list(enumerate(times))
            assert await st.prune_outcomes(50.0) == 0  # none is old enough
            assert await st.prune_outcomes(301.0, limit=2) == 2  # at most `limit`
            assert await st.prune_outcomes(301.0) == 1  # stops at the young one (1000)
            assert await st.recorded(("s", 4)) is not None  # older, but written after it
            assert await st.prune_outcomes(1500.0) == 2  # 1000, then 250
            left = await st._run(lambda: (yield ("SELECT request_number FROM outcomes", (), "all")))
            assert [int(r[0]) for r in left] == [5]
            replay = await eng.charge(gy("s", 5, RequestKind.UPDATE, used=MIB, requested=MIB))
            assert replay.replayed
            assert (await st.audit()).ok

    asyncio.run(main())


def test_times_are_stored_in_whole_microseconds(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")
    now = 1796555773.1454036  # not a whole number of microseconds

    async def main():
        async with open_storage(path) as st:
            clock = [now]
            eng = Engine(st, clock=lambda: clock[0])
            await eng.create_account("a", [(0, MSISDN)], amount=10**6)
            await eng.charge(gy("s", 0, RequestKind.INITIAL, requested=MIB))
            clock[0] = now + 1
            await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB, requested=MIB))
            clock[0] = now + 2
            await eng.charge(gy("s", 2, RequestKind.TERMINATION, used=MIB, requested=None))

    asyncio.run(main())
    want = {_us(now + k) / 1e6 for k in range(3)}
    assert want == {_secs(now + k) for k in range(3)} and now not in want
    with sqlite3.connect(path) as conn:
        ledger = {r[0] for r in conn.execute("SELECT ts FROM ledger WHERE op <> 'create'")}
        outcomes = {r[0] for r in conn.execute("SELECT ts FROM outcomes")}
        cdrs = {r[0] for r in conn.execute("SELECT ts FROM cdrs")}
    assert ledger == outcomes == want and cdrs == {_secs(now + 2)}
    for t in (0.0, 1.5, 1796555773.1454036, 1e300, -2.25):
        assert _secs(t) == round(t * 1e6) / 1e6


SECONDS = """
import json, random
from diameter.ocs.store import sqlite_cache
rng = random.Random(7)
times = [rng.uniform(0, 4e9) for _ in range(5000)] + [(n + 0.5) / 1e6 for n in range(0, 1 << 24, 1 << 12)]
times += [0.0, -1.5, 1e300, 1796555773.1454036]
print(json.dumps([sqlite_cache.__file__.endswith(".py")] + [repr(sqlite_cache._secs(t)) for t in times]))
"""


def test_the_running_times_are_the_sources(run_scenario):
    source, running = run_scenario(SECONDS, True), run_scenario(SECONDS, False)
    assert source[0] is True and len(source) > 5000
    assert running[1:] == source[1:]
