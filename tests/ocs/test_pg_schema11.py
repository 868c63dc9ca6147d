"""Schema versions 11 and 12 on PostgreSQL: a recorded outcome is written as the marshal
dump of its row (``outcomes.recorded``, as SQLite records it) instead of JSON text, and
outcomes recorded as JSON before the upgrade are still replayed, by every path that reads
them; reservations and sessions get fillfactor 50."""

from __future__ import annotations

import asyncio
import marshal

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.model import Outcome
from diameter.ocs.store import pg_fast, schema

from .helpers import MIB, gy

MSISDN = "491700001101"
SID = "upgrade-to-11"


def test_migrations_11_and_12_are_postgres_only():
    pg = schema.statements(11, schema.POSTGRES_TYPES)
    assert len(pg) == 1 and "ADD COLUMN recorded BYTEA" in pg[0] and "DROP NOT NULL" in pg[0]
    assert schema.statements(12, schema.POSTGRES_TYPES) == [
        f"ALTER TABLE {t} SET (fillfactor = 50)" for t in ("reservations", "sessions")]
    assert schema.statements(11, schema.SQLITE_TYPES) == schema.statements(12, schema.SQLITE_TYPES) == []


async def _to_version_10(url: str) -> None:
    """Turn a database charged at the latest version into what version 10 was: each
    recorded outcome as its JSON text (`Outcome.to_json`, as the code before wrote it), the
    column gone, ``outcome`` NOT NULL, fillfactor 70, versions 11 and 12 not
    applied."""
    import asyncpg
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for sid, num, dump in await conn.fetch("SELECT session_id, request_number, recorded FROM outcomes"):
                text = Outcome.from_json(dump).to_json()
                await conn.execute("UPDATE outcomes SET outcome = $3 WHERE session_id = $1 "
                                   "AND request_number = $2", sid, num, text)
            await conn.execute("ALTER TABLE outcomes DROP COLUMN recorded, "
                               "ALTER COLUMN outcome SET NOT NULL")
            await conn.execute("ALTER TABLE reservations SET (fillfactor = 70)")
            await conn.execute("ALTER TABLE sessions SET (fillfactor = 70)")
            await conn.execute("DELETE FROM schema_version WHERE version > 10")
    finally:
        await conn.close()


def test_outcomes_recorded_as_json_before_11_are_replayed_after_it(pg_cluster):
    import asyncpg
    url = pg_cluster.new_database()

    def never(_snap):
        raise AssertionError("a recorded request was decided again")

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("c", [(0, MSISDN)], amount=1000)
            first = await eng.charge(gy(SID, 0, RequestKind.INITIAL, msisdn=MSISDN))
            second = await eng.charge(gy(SID, 1, RequestKind.UPDATE, used=2 * MIB, msisdn=MSISDN))
        await _to_version_10(url)
        async with open_storage(url) as st:  # migrated; a fresh cache, as on a new instance
            eng = Engine(st)
            # the batch's read (LOAD), the read alone and the locking fallback's read
            again = await eng.charge(gy(SID, 1, RequestKind.UPDATE, used=2 * MIB, msisdn=MSISDN))
            assert again.replayed and again.balance == second.balance
            alone = await st.recorded((SID, 0))
            assert alone is not None and alone.replayed and alone.to_row() == first.to_row()
            async with st._conn() as conn, conn.transaction():
                locked = await pg_fast.transact(conn, Target(subscriptions=((0, MSISDN),)), never,
                                                (SID, 1), 1e9, SID, st._drive)
            assert locked.replayed and locked.to_row() == second.to_row()
            end = await eng.charge(gy(SID, 2, RequestKind.TERMINATION, used=MIB, requested=None,
                                      msisdn=MSISDN))
            assert end.result_code == 2001 and end.balance == 1000 - 30
            assert not (await st.account(Target(name="c"))).reservations
            assert (await st.audit()).ok
            replayed_end = await st.recorded((SID, 2))
            assert replayed_end is not None and replayed_end.to_row() == end.to_row()
        async with open_storage(url) as st:  # another fresh cache: the new record through LOAD
            again_end = await Engine(st).charge(gy(SID, 2, RequestKind.TERMINATION, used=MIB,
                                                   requested=None, msisdn=MSISDN))
            assert again_end.replayed and again_end.to_row() == end.to_row() and (await st.audit()).ok
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version") == schema.LATEST
            # migration 12: room for HOT updates of the rows every request updates, beside
            # the settings of migration 10
            opts = {r[0]: set(r[1]) for r in await conn.fetch(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN ('reservations', 'sessions')")}
            assert all({"fillfactor=50", "autovacuum_vacuum_threshold=20000"} <= o for o in opts.values())
            rows = {r[0]: (r[1], r[2]) for r in await conn.fetch(
                "SELECT request_number, outcome, recorded FROM outcomes WHERE session_id = $1", SID)}
            # the two of before as JSON, the new one as the marshal dump of its row
            assert rows[0][0] is not None and rows[0][1] is None and rows[1][1] is None
            assert rows[2][0] is None and marshal.loads(rows[2][1]) == end.to_row()
        finally:
            await conn.close()

    asyncio.run(main())
