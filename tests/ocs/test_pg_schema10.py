"""Schema version 10 on PostgreSQL: the tables charging writes are autovacuumed and analysed
after many more changes (no re-plan of the batch statements at every launcher visit); a
version 9 database is upgraded in place and keeps charging exactly."""

from __future__ import annotations

import asyncio

from diameter.ocs.store import schema

from .helpers import charged_across_upgrade

HOT = {"accounts", "balances", "reservations", "sessions", "ledger", "outcomes", "cdrs"}
WANT = {"autovacuum_analyze_threshold=1000000", "autovacuum_vacuum_threshold=20000",
        "autovacuum_vacuum_insert_threshold=1000000"}


def test_the_autovacuum_settings_of_migration_10_are_postgres_only():
    pg = schema.statements(10, schema.POSTGRES_TYPES)
    assert {s.split()[2] for s in pg} == HOT and all("SET (autovacuum_" in s for s in pg)
    assert schema.statements(10, schema.SQLITE_TYPES) == []


def test_a_version_9_database_gets_the_settings_and_keeps_charging(pg_cluster, monkeypatch):
    async def options(conn) -> dict[str, set[str]]:
        rows = await conn.fetch("SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[])",
                                sorted(HOT))
        return {r[0]: set(r[1] or ()) for r in rows}

    async def before(conn) -> None:
        assert not any(WANT & opts for opts in (await options(conn)).values())

    async def after(conn) -> None:
        got = await options(conn)
        assert set(got) == HOT and all(WANT <= opts for opts in got.values()), got
        # fillfactors set by migrations 6 (accounts) and 12 (sessions) are kept beside them
        assert "fillfactor=50" in got["accounts"] and "fillfactor=50" in got["sessions"]

    asyncio.run(charged_across_upgrade(pg_cluster.new_database(), monkeypatch, 9, "491700001001",
                                       before, after))
