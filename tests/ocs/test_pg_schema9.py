"""Schema version 9 on PostgreSQL: session ids that key outcomes, reservations and sessions
compare bytewise (collation "C"); open sessions and recorded outcomes survive the change."""

from __future__ import annotations

import asyncio

import pytest

from diameter.ocs.store import schema

from .helpers import charged_across_upgrade

KEYED = {"outcomes", "reservations", "sessions"}


def test_the_collation_statements_of_migration_9_are_postgres_only():
    pg = schema.statements(9, schema.POSTGRES_TYPES)
    assert {s.split()[2] for s in pg} == KEYED and all('COLLATE "C"' in s for s in pg)
    assert schema.statements(9, schema.SQLITE_TYPES) == []


def test_a_version_8_database_keeps_its_sessions_and_outcomes(pg_cluster, monkeypatch):
    import asyncpg

    async def collations(conn) -> dict[str, str | None]:
        return {r[0]: r[1] for r in await conn.fetch(
            "SELECT table_name, collation_name FROM information_schema.columns "
            "WHERE column_name = 'session_id' AND table_name = ANY($1::text[])", sorted(KEYED))}

    async def before(conn) -> None:
        assert set((await collations(conn)).values()) == {None}  # the database's own

    async def after(conn) -> None:
        assert await collations(conn) == {t: "C" for t in KEYED}
        # the primary keys still refuse a copy, and serve lookups by a parameter
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO outcomes SELECT * FROM outcomes LIMIT 1")
        await conn.execute("SET enable_seqscan = off")
        for table in sorted(KEYED):
            plan = "\n".join(r[0] for r in await conn.fetch(
                f"EXPLAIN SELECT * FROM {table} WHERE session_id = ANY($1::text[])",
                ["upgrade-from-8"]))
            assert f"{table}_pkey" in plan, plan

    asyncio.run(charged_across_upgrade(pg_cluster.new_database(), monkeypatch, 8, "491700000901",
                                       before, after))
