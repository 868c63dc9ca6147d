"""PostgreSQL's batch write stores every value of every row exactly as decided: the rows go
to the database as typed arrays, some of the tables' own row types (`pg_batch_sql.WRITE`),
so NULLs, 64-bit integers, floats, unicode and quotes in session ids and nested JSON (holds,
session units; outcomes marshalled) must come back as the values the committer sent, through the
writer process and through the pool."""

from __future__ import annotations

import asyncio
import json
import marshal

import pytest

from diameter.ocs import Engine
from diameter.ocs.model import Hold, Reservation, SessionRow, UnitKind
from diameter.ocs.store import pg_batch_sql as pg_sql
from diameter.ocs.store.pg_cache import AccountWrites
from diameter.ocs.store.postgres import PostgresStorage

from .helpers import MSISDN

BIG = 2**62 + 12345  # beyond float precision: a value sent through a double would change
SID = "s'1 \"é\" ✓ \\ \U0001f600"  # quotes, a backslash, unicode beyond the BMP


def _json(value: object) -> str:
    """The text the column-array write stored for a nested value (compact JSON)."""
    return json.dumps(value, separators=(",", ":"))


def _writes(aid: int, version: int, bid: int) -> AccountWrites:
    w = AccountWrites(aid, version)
    w.state = "suspended"
    w.balances[bid] = -BIG
    w.ledger += [(None, 1712345678.123456, aid, bid, "debit", -BIG, -BIG, 0, None, None, None),
                 (None, 0.1, aid, bid, "it's \"x\"", 5, 7, BIG, SID, BIG, 4294967295)]
    w.res_put[(SID, 7)] = Reservation(SID, 7, aid, UnitKind.OCTETS, BIG, [Hold(bid, 5, 6), Hold(bid, BIG, 0)],
                                      1e10 + 0.5, BIG, True, 'peer "ü"')
    w.res_old.add((SID, 7))  # in the database: updated in place
    w.res_put[("del-r", 1)] = None
    w.ses_put[SID] = SessionRow(SID, aid, 1.5, 2.25, 3e9, BIG, {"7:octets": BIG, "é\"'": 1}, 3, "peer\\", True)
    w.ses_put["del-s"] = None
    w.cdrs += [(5.5, SID, aid, {"x": "é\"'", "a": [1, 2.5, None]}), (6.0, None, None, {})]
    w.outcomes += [(SID, BIG, 9.75, None, marshal.dumps([2001, "ok ✓", None, {"q": "\"'"}, BIG, 0.1], 4)),
                   ("plain", 0, 1.0, None, marshal.dumps("text 'q' \"d\"", 4))]
    return w


@pytest.mark.parametrize("writer_process", [True, False])
def test_a_batch_write_stores_every_value_of_every_row_exactly(pg_cluster, writer_process):
    url = pg_cluster.new_database()

    async def main():
        async with PostgresStorage(url, writer_process=writer_process) as st:
            await Engine(st).create_account("w", [(0, MSISDN)], amount=1000)
            async with st._conn() as conn:
                aid, version = await conn.fetchrow("SELECT id, version FROM accounts WHERE name = 'w'")
                bid = await conn.fetchval("SELECT id FROM balances WHERE account_id = $1", aid)
                # rows the batch deletes, and one it updates in place
                await conn.execute(
                    "INSERT INTO reservations (session_id, rating_group, account_id, unit, units, holds,"
                    " expires_at, request_number, final, peer) VALUES ('del-r', 1, $1, 'money', 1, '[]',"
                    " 1, 0, 0, ''), ($2, 7, $1, 'octets', 1, '[]', 1, 0, 0, 'peer \"ü\"')", aid, SID)
                await conn.execute(
                    "INSERT INTO sessions (session_id, account_id, started, updated, expires_at, charged,"
                    " units, requests, peer, final) VALUES ('del-s', $1, 1, 1, 1, 0, '{}', 0, '', 0)", aid)
            w = _writes(aid, version, bid)
            rows = await st.link.fetch(pg_sql.WRITE, *pg_sql.write_args([w]), json_args=pg_sql.WRITE_JSON_ARGS)
            assert [r[0] for r in rows] == [aid]
            # a second write on the version already bumped is refused whole
            stale = _writes(aid, version, bid)
            stale.outcomes = [("other", 1, 1.0, None, marshal.dumps("x", 4))]
            assert await st.link.fetch(pg_sql.WRITE, *pg_sql.write_args([stale]),
                                       json_args=pg_sql.WRITE_JSON_ARGS) == []
            async with st._conn() as conn:
                acc = await conn.fetchrow("SELECT version, state FROM accounts WHERE id = $1", aid)
                assert tuple(acc) == (version + 1, "suspended")
                assert await conn.fetchval("SELECT amount FROM balances WHERE id = $1", bid) == -BIG
                ledger = await conn.fetch(
                    "SELECT ts, account_id, balance_id, op, amount, balance_after, units, session_id,"
                    " request_number, rating_group FROM ledger WHERE op <> 'create' ORDER BY id")
                assert [tuple(r) for r in ledger] == [r[1:] for r in w.ledger]
                res = await conn.fetch("SELECT session_id, rating_group, account_id, unit, units, holds,"
                                       " expires_at, request_number, final, peer FROM reservations")
                assert [tuple(r) for r in res] == [
                    (SID, 7, aid, "octets", BIG, _json([[bid, 5, 6], [bid, BIG, 0]]), 1e10 + 0.5, BIG, 1,
                     'peer "ü"')]
                ses = await conn.fetch("SELECT session_id, account_id, started, updated, expires_at,"
                                       " charged, units, requests, peer, final FROM sessions")
                assert [tuple(r) for r in ses] == [
                    (SID, aid, 1.5, 2.25, 3e9, BIG, _json({"7:octets": BIG, "é\"'": 1}), 3, "peer\\", 1)]
                cdrs = await conn.fetch("SELECT ts, session_id, account_id, record FROM cdrs ORDER BY id")
                assert [tuple(r) for r in cdrs] == [  # as json.dumps(record, sort_keys=True)
                    (5.5, SID, aid, '{"a": [1, 2.5, null], "x": "\\u00e9\\"\'"}'), (6.0, None, None, "{}")]
                # the outcomes' rows as their marshal dumps (as SQLite records them), no JSON
                outs = await conn.fetch("SELECT session_id, request_number, ts, outcome, recorded"
                                        " FROM outcomes ORDER BY session_id")
                assert sorted(tuple(r) for r in outs) == sorted(w.outcomes)
                assert marshal.loads({r[0]: r[4] for r in outs}[SID])[1] == "ok ✓"

    asyncio.run(main())


def test_the_batch_write_plans_nested_loops_on_the_keys_on_the_writers_connections(pg_cluster):
    """With the writer's planner settings (its process's connections and `PoolLink`'s), the
    generic plan of WRITE joins each batch row to its table's key (no hash table per part,
    no whole-table scan) even on a young database whose tables have no statistics; the same
    statement on a connection without them plans hash joins over whole-table scans."""
    from diameter.ocs.store.pg_link import PoolLink

    url = pg_cluster.new_database()

    async def plan(conn) -> str:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE w AS {pg_sql.WRITE}")
        rows = await conn.fetch("EXPLAIN EXECUTE w(" + ", ".join(["'{}'"] * 23) + ")")
        await conn.execute("DEALLOCATE w")
        return "\n".join(r[0] for r in rows)

    async def main():
        async with PostgresStorage(url):
            pass  # the schema
        link = PoolLink(url, 1)
        try:
            conn = await link.pool.acquire()
            try:
                text = await plan(conn)
            finally:
                link.pool.release(conn)
        finally:
            await link.close()
        assert "Hash" not in text and "Merge" not in text
        for table in ("accounts", "balances", "reservations", "sessions"):
            assert f"Seq Scan on {table}" not in text
        for index in ("balances_pkey", "reservations_pkey", "sessions_pkey"):
            assert text.count(f"Index Scan using {index}") == (1 if index == "balances_pkey" else 2)
        async with PostgresStorage(url) as st, st._conn() as conn:  # default settings
            assert "Hash Join" in await plan(conn)

    asyncio.run(main())
