"""Schema version 10 on PostgreSQL: the tables charging writes are autovacuumed and analysed
after many more changes (no re-plan of the batch statements at every launcher visit); a
version 9 database is upgraded in place and keeps charging exactly."""

from __future__ import annotations

import asyncio

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.store import schema

from .helpers import MIB, gy

HOT = {"accounts", "balances", "reservations", "sessions", "ledger", "outcomes", "cdrs"}
WANT = {"autovacuum_analyze_threshold=1000000", "autovacuum_vacuum_threshold=20000",
        "autovacuum_vacuum_insert_threshold=1000000"}


def test_the_autovacuum_settings_of_migration_10_are_postgres_only():
    pg = schema.statements(10, schema.POSTGRES_TYPES)
    assert {s.split()[2] for s in pg} == HOT and all("SET (autovacuum_" in s for s in pg)
    assert schema.statements(10, schema.SQLITE_TYPES) == []


def test_a_version_9_database_gets_the_settings_and_keeps_charging(pg_cluster, monkeypatch):
    import asyncpg

    url = pg_cluster.new_database()
    nine = [m for m in schema.MIGRATIONS if m[0] <= 9]
    assert nine[-1][0] == 9 and schema.LATEST >= 10
    msisdn = "491700001001"

    async def options(conn) -> dict[str, set[str]]:
        rows = await conn.fetch("SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[])",
                                sorted(HOT))
        return {r[0]: set(r[1] or ()) for r in rows}

    async def main():
        monkeypatch.setattr(schema, "MIGRATIONS", nine)
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("c", [(0, msisdn)], amount=1000)
            await eng.charge(gy("s10", 0, RequestKind.INITIAL, msisdn=msisdn))
            first = await eng.charge(gy("s10", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
        conn = await asyncpg.connect(url)
        try:
            assert not any(WANT & opts for opts in (await options(conn)).values())
        finally:
            await conn.close()
        monkeypatch.undo()
        async with open_storage(url) as st:  # migrated
            eng = Engine(st)
            again = await eng.charge(gy("s10", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
            assert again.replayed and again.balance == first.balance
            end = await eng.charge(gy("s10", 2, RequestKind.TERMINATION, used=MIB, requested=None,
                                      msisdn=msisdn))
            assert end.result_code == 2001 and end.balance == 1000 - 30
            assert not (await st.account(Target(name="c"))).reservations
            report = await st.audit()
            assert report.ok, report.problems
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version") == schema.LATEST
            got = await options(conn)
            assert set(got) == HOT and all(WANT <= opts for opts in got.values()), got
            # fillfactors set by migration 6 are kept beside them
            assert "fillfactor=50" in got["accounts"] and "fillfactor=70" in got["sessions"]
        finally:
            await conn.close()
    asyncio.run(main())
