"""SQLite schema version 5 and the writer's compact rows.

A file at version 4 with money in it (accounts, ledger, an open reservation, a recorded
outcome in JSON) is opened by this version: the four indexes go, the books stay exact, the
JSON outcome still answers its retransmission, new outcomes are written as `marshal` bytes
and replayed from there, and the audit still finds a ledger that does not add up."""

from __future__ import annotations

import asyncio
import json
import marshal
import sqlite3

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.model import Grant, Outcome
from diameter.ocs.store import queries, schema
from diameter.ocs.store.sqlite import drive
from diameter.ocs.store.sqlite_rows import Rows, _dumps

from .helpers import MIB, MSISDN, gy, sqlite_file_at

DROPPED = {"ledger_balance", "ledger_account", "reservations_expiry", "sessions_expiry"}


def _indexes(path: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def _version_4_file(path: str) -> None:
    """A file as the previous release left it: versions 1-4, an account charged once (its
    session open, its outcome recorded as JSON text)."""
    from diameter.ocs import rating
    from diameter.ocs.tariff import DEFAULT_TARIFF

    conn, now = sqlite_file_at(path, (1, 2, 3, 4))
    req = gy("s1", 0, RequestKind.INITIAL, requested=MIB)
    out = drive(conn, queries.transact(Target(subscriptions=((0, MSISDN),)),
                                       lambda snap: rating.charge(snap, req, DEFAULT_TARIFF, now),
                                       ("s1", 0), now, scope="s1"))
    conn.execute("COMMIT")
    text = conn.execute("SELECT outcome FROM outcomes WHERE session_id = 's1'").fetchone()[0]
    assert isinstance(text, str) and out.result_code == 2001  # version 4 wrote JSON text
    assert DROPPED <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()


def test_a_version_4_file_with_money_is_migrated_and_its_books_stay_exact(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")
    _version_4_file(path)

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            before = await eng.account(Target(name="old"))
            assert len(before.reservations) == 1
            held = before.balances[0].amount
            again = await eng.charge(gy("s1", 0, RequestKind.INITIAL, requested=MIB))  # retransmission
            assert again.replayed and again.result_code == 2001
            assert (await eng.account(Target(name="old"))).balances[0].amount == held  # not charged again
            up = await eng.charge(gy("s1", 1, RequestKind.UPDATE, used=MIB, requested=MIB))
            end = await eng.charge(gy("s1", 2, RequestKind.TERMINATION, used=MIB, requested=None))
            assert up.result_code == end.result_code == 2001
            replay = await eng.charge(gy("s1", 2, RequestKind.TERMINATION, used=MIB, requested=None))
            assert replay.replayed and replay.balance == end.balance
            report = await st.audit()
            assert report.ok, report.problems
            after = await eng.account(Target(name="old"))
            assert after.balances[0].amount == 10_000 - 2 * 10 and not after.reservations
            versions = await st._run(lambda: (yield ("SELECT version FROM schema_version ORDER BY version",
                                                     (), "all")))
            assert [int(v[0]) for v in versions] == [v for v, _ in schema.MIGRATIONS]
            ledger = await st.ledger(after.account.id)
            assert [r.op for r in ledger][0] == "create" and ledger[-1].balance_after == after.balances[0].amount
    asyncio.run(main())
    assert not DROPPED & _indexes(path)
    with sqlite3.connect(path) as conn:
        kinds = {type(r[0]) for r in conn.execute("SELECT outcome FROM outcomes")}
    assert kinds == {str, bytes}  # the old row as it was, the new ones as marshal


def test_the_audit_still_finds_a_ledger_that_does_not_add_up(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("a", [(0, MSISDN)], amount=1000)
            await eng.create_account("b", [(0, "491700000002")], amount=500)
            await eng.charge(gy("s", 0, RequestKind.INITIAL, requested=MIB))
            assert (await st.audit()).ok
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units) "
                         "VALUES (0, 2, 2, 'adjust', 7, 507, 0)")
        async with open_storage(path) as st:
            report = await st.audit()
            assert report.problems == ["balance 2: amount 500 but ledger sums to 507"]
            assert report.balances == 2
    asyncio.run(main())


def test_migration_5_is_sqlite_only():
    assert schema.statements(5, schema.POSTGRES_TYPES) == []
    assert schema.statements(5, schema.SQLITE_TYPES) == [f"DROP INDEX IF EXISTS {n}" for n in (
        "ledger_balance", "ledger_account", "reservations_expiry", "sessions_expiry")]
    assert schema.statements(1, schema.POSTGRES_TYPES)[0].startswith("CREATE TABLE accounts (id BIGSERIAL")


def test_an_outcome_recorded_as_marshal_bytes_reads_back():
    out = Outcome(2001, account_id=3, balance=900, grants=[Grant(1, 2001, units=MIB)])
    back = Outcome.from_json(marshal.dumps(out.to_row(), 4))
    assert back.replayed and back.balance == 900 and back.grants == out.grants
    for bad in (b"", b"\x00garbage", marshal.dumps([9, 1])):
        try:
            Outcome.from_json(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_multi_row_statements_write_every_row_in_order():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT)")
    put = Rows("INSERT INTO t (a, b, c)", "(?, ? / 1e6, ?)")
    for n in (1, 2, 5, 64, 87, 150):
        conn.execute("DELETE FROM t")
        rows = [(i, 1_700_000_000_123_456 + i, f"s{i}") for i in range(n)]
        put(conn, [v for r in rows for v in r])
        got = conn.execute("SELECT a, b, c FROM t ORDER BY id").fetchall()
        assert got == [(i, us / 1e6, c) for i, us, c in rows]


def test_the_writers_json_is_the_standard_compact_json():
    for value in ([[12, 100, 10 * MIB]], {"1:octets": 5 * MIB, "2:seconds": 0}, [],
                  {"k\u00e9\"\\\n": [1.5, None, True, "x\u2028"]}, [2, 2001, None, -7, 0.1, []]):
        assert _dumps(value) == json.dumps(value, separators=(",", ":"))
    try:
        _dumps([object()])
    except TypeError:
        pass
    else:
        raise AssertionError("an object was encoded")
