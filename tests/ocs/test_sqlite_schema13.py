"""SQLite schema version 13: the ledger and the CDRs without AUTOINCREMENT.

A file at version 12 with money in it (an account charged through a whole session: ledger
rows, a CDR, an export position) is opened by this version: both tables are rebuilt with
their rows and ids, `sqlite_sequence` no longer counts them, new rows take ids above the
old ones, the CDR export goes on where it stopped and the books stay exact."""

from __future__ import annotations

import asyncio
import sqlite3

from diameter.ocs import Engine, RequestKind, Target, open_storage, rating
from diameter.ocs.cdr import export_cdrs
from diameter.ocs.store import queries, schema
from diameter.ocs.store.sqlite import drive
from diameter.ocs.tariff import DEFAULT_TARIFF

from .helpers import MIB, MSISDN, gy, sqlite_file_at

TARGET = Target(subscriptions=((0, MSISDN),))


def _version_12_file(path: str) -> tuple[list[tuple], list[tuple]]:
    """Versions 1-12, a session charged from start to end; its ledger and CDR rows."""
    conn, now = sqlite_file_at(path, range(1, 13))
    for n, kind, used in ((0, RequestKind.INITIAL, 0), (1, RequestKind.TERMINATION, MIB)):
        req = gy("s1", n, kind, used=used, requested=MIB if n == 0 else None)
        out = drive(conn, queries.transact(TARGET, lambda snap, req=req: rating.charge(snap, req, DEFAULT_TARIFF, now),
                                           ("s1", n), now, scope="s1"))
        assert out.result_code == 2001
    conn.execute("COMMIT")
    ledger = conn.execute("SELECT * FROM ledger ORDER BY id").fetchall()
    cdrs = conn.execute("SELECT * FROM cdrs ORDER BY id").fetchall()
    seq = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    assert seq["ledger"] == ledger[-1][0] and seq["cdrs"] == cdrs[-1][0] == 1
    conn.close()
    return ledger, cdrs


def _table_sql(conn: sqlite3.Connection, name: str) -> str:
    return conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]


def test_a_version_12_file_is_rebuilt_without_autoincrement_and_its_ids_go_on(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")
    ledger, cdrs = _version_12_file(path)

    async def main():
        async with open_storage(path) as st:
            assert await export_cdrs(st, tmp_path / "cdr") == 1  # the old CDR, id 1
            eng = Engine(st)
            for i in range(3):
                sid = f"n{i}"
                await eng.charge(gy(sid, 0, RequestKind.INITIAL, requested=MIB))
                await eng.charge(gy(sid, 1, RequestKind.TERMINATION, used=MIB, requested=None))
            assert await export_cdrs(st, tmp_path / "cdr") == 3  # the new ones, after it
            report = await st.audit()
            assert report.ok, report.problems
            snap = await eng.account(Target(name="old"))
            assert snap.balances[0].amount == 10_000 - 4 * 10
    asyncio.run(main())
    with sqlite3.connect(path) as conn:
        for name in ("ledger", "cdrs"):
            assert "AUTOINCREMENT" not in _table_sql(conn, name).upper()
        assert "ledger_13" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not conn.execute("SELECT * FROM sqlite_sequence WHERE name IN ('ledger', 'cdrs')").fetchall()
        now_ledger = conn.execute("SELECT * FROM ledger ORDER BY id").fetchall()
        now_cdrs = conn.execute("SELECT * FROM cdrs ORDER BY id").fetchall()
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert now_ledger[:len(ledger)] == ledger and now_cdrs[:1] == cdrs  # copied as they were
    assert [r[0] for r in now_ledger] == sorted({r[0] for r in now_ledger})  # unique, growing
    assert len(now_ledger) > len(ledger) and [r[0] for r in now_cdrs] == [1, 2, 3, 4]
    assert versions == [v for v, _ in schema.MIGRATIONS]
    lines = (tmp_path / "cdr" / "cdr.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_migration_13_is_sqlite_only():
    assert schema.statements(13, schema.POSTGRES_TYPES) == []
    assert any("AUTOINCREMENT" in s for s in schema.statements(1, schema.SQLITE_TYPES))
    assert not any("AUTOINCREMENT" in s for s in schema.statements(13, schema.SQLITE_TYPES))
