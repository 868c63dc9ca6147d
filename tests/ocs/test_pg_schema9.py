"""Schema version 9 on PostgreSQL: session ids that key outcomes, reservations and sessions
compare bytewise (collation "C"); open sessions and recorded outcomes survive the change."""

from __future__ import annotations

import asyncio

import pytest

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.store import schema

from .helpers import MIB, gy

KEYED = {"outcomes", "reservations", "sessions"}


def test_the_collation_statements_of_migration_9_are_postgres_only():
    pg = schema.statements(9, schema.POSTGRES_TYPES)
    assert {s.split()[2] for s in pg} == KEYED and all('COLLATE "C"' in s for s in pg)
    assert schema.statements(9, schema.SQLITE_TYPES) == []


def test_a_version_8_database_keeps_its_sessions_and_outcomes(pg_cluster, monkeypatch):
    import asyncpg

    url = pg_cluster.new_database()
    eight = [m for m in schema.MIGRATIONS if m[0] <= 8]
    assert eight[-1][0] == 8 and schema.LATEST >= 9
    msisdn = "491700000901"

    async def collations(conn) -> dict[str, str | None]:
        return {r[0]: r[1] for r in await conn.fetch(
            "SELECT table_name, collation_name FROM information_schema.columns "
            "WHERE column_name = 'session_id' AND table_name = ANY($1::text[])", sorted(KEYED))}

    async def main():
        monkeypatch.setattr(schema, "MIGRATIONS", eight)
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("c", [(0, msisdn)], amount=1000)
            await eng.charge(gy("s9", 0, RequestKind.INITIAL, msisdn=msisdn))
            first = await eng.charge(gy("s9", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
        conn = await asyncpg.connect(url)
        try:
            assert set((await collations(conn)).values()) == {None}  # the database's own
        finally:
            await conn.close()
        monkeypatch.undo()
        async with open_storage(url) as st:  # migrated; a fresh cache on a new instance
            eng = Engine(st)
            again = await eng.charge(gy("s9", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
            assert again.replayed and again.balance == first.balance  # found by its key
            end = await eng.charge(gy("s9", 2, RequestKind.TERMINATION, used=MIB, requested=None,
                                      msisdn=msisdn))
            assert end.result_code == 2001 and end.balance == 1000 - 30
            snap = await st.account(Target(name="c"))
            assert not snap.reservations
            report = await st.audit()
            assert report.ok, report.problems
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version") == schema.LATEST
            assert await collations(conn) == {t: "C" for t in KEYED}
            # the primary keys still refuse a copy, and serve lookups by a parameter
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute("INSERT INTO outcomes SELECT * FROM outcomes LIMIT 1")
            await conn.execute("SET enable_seqscan = off")
            for table in sorted(KEYED):
                plan = "\n".join(r[0] for r in await conn.fetch(
                    f"EXPLAIN SELECT * FROM {table} WHERE session_id = ANY($1::text[])", ["s9"]))
                assert f"{table}_pkey" in plan, plan
        finally:
            await conn.close()
    asyncio.run(main())
