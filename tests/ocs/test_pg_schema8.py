"""Schema version 8 on PostgreSQL: the ledger keeps one B-tree, its primary key on (account_id, id)."""

from __future__ import annotations

import asyncio

import pytest

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.store import schema

from .helpers import MIB, gy, migrations_at


def test_the_ledger_statements_of_migration_8_are_postgres_only():
    """(Version 8 may hold SQLite statements too: each dialect runs its own.)"""
    mine = ["ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_pkey",
            "DROP INDEX IF EXISTS ledger_account",
            "ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (account_id, id)"]
    pg = schema.statements(8, schema.POSTGRES_TYPES)
    assert [s for s in pg if s in mine] == mine
    assert not set(mine) & set(schema.statements(8, schema.SQLITE_TYPES))


def test_a_version_7_database_keeps_its_ledger_and_reads_it_by_the_new_index(pg_cluster, monkeypatch):
    import asyncpg

    url = pg_cluster.new_database()
    seven = migrations_at(7)
    assert max(v for v, _ in seven if v < 8) == 7 and schema.LATEST >= 8

    async def indexes() -> dict[str, str]:
        conn = await asyncpg.connect(url)
        try:
            return {r[0]: r[1] for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ledger'")}
        finally:
            await conn.close()

    async def main():
        monkeypatch.setattr(schema, "MIGRATIONS", seven)
        async with open_storage(url) as st:
            eng = Engine(st)
            for i in range(2):
                await eng.create_account(f"m{i}", [(0, f"49170000080{i}")], amount=1000)
                await eng.charge(gy(f"m{i}", 0, RequestKind.INITIAL, msisdn=f"49170000080{i}"))
                await eng.charge(gy(f"m{i}", 1, RequestKind.UPDATE, used=2 * MIB,
                                    msisdn=f"49170000080{i}"))
        assert set(await indexes()) == {"ledger_pkey", "ledger_account"}
        monkeypatch.undo()
        async with open_storage(url) as st:
            eng = Engine(st)
            before = {i: await st.ledger((await st.account(Target(name=f"m{i}"))).account.id)
                      for i in range(2)}
            for i in range(2):
                end = await eng.charge(gy(f"m{i}", 2, RequestKind.TERMINATION, used=MIB,
                                          requested=None, msisdn=f"49170000080{i}"))
                assert end.result_code == 2001 and end.balance == 1000 - 30
            for i in range(2):
                snap = await st.account(Target(name=f"m{i}"))
                rows = await st.ledger(snap.account.id)
                assert rows[:len(before[i])] == before[i] and len(rows) > len(before[i])
                assert {r.account_id for r in rows} == {snap.account.id}
                assert [r.balance_after for r in rows][-1] == 1000 - 30
                assert len(await st.ledger(snap.account.id, limit=2)) == 2
            report = await st.audit()
            assert report.ok and report.balances == 2, report.problems
        idx = await indexes()
        assert set(idx) == {"ledger_pkey"}, idx
        assert idx["ledger_pkey"].endswith("USING btree (account_id, id)")
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version") == schema.LATEST
            # an account's ledger, newest first, is read from the index alone
            await conn.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(
                "EXPLAIN SELECT * FROM ledger WHERE account_id = 1 ORDER BY id DESC LIMIT 5"))
            assert "Index Scan Backward using ledger_pkey" in plan and "Sort" not in plan, plan
            ids = [r[0] for r in await conn.fetch("SELECT id FROM ledger ORDER BY id")]
            assert len(ids) == len(set(ids))  # ids still from their sequence
            # the primary key refuses a copy of a row's (account, id)
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute("INSERT INTO ledger SELECT * FROM ledger LIMIT 1")
        finally:
            await conn.close()
    asyncio.run(main())
