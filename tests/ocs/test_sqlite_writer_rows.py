"""The SQLite writer's rows: one statement per table and batch, columns encoded by C loops.

A batch's rows of a table come as one flat list (each row's values one after the other),
bound to one multi-row statement (up to 64 rows each); JSON columns (reservation holds, session units) and the outcome column
(`marshal` bytes) are encoded over the list's slices, and CDR records with sorted keys:
the text and bytes stored must be exactly what the standard encoders give."""

from __future__ import annotations

import json
import marshal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from diameter.ocs.store.sqlite_rows import Rows, _cdr_encoder, _cdr_json, _each, _encoder, connect, write_rows
from diameter.ocs.store.sqlite_writer import Writer

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("INSERT") else None)
    return seen


def test_a_table_of_a_batch_is_one_statement_up_to_64_rows_with_json_and_blob_columns():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, holds TEXT, out BLOB)")
    put = Rows("INSERT INTO t (a, b, holds, out)", "(?, ?, ?, ?)", json=(2,), blob=3)
    seen = _statements(conn)
    for n in (1, 2, 3, 17, 64, 65, 130):
        conn.execute("DELETE FROM t")
        seen.clear()
        rows = [(f"s{i}", (1_700_000_000_123_456 + i) / 1e6, [(i, -i, 10 * i)] if i % 3 else {"1:octets": i},
                 [2, 2001, None, [(1, "x\u00e9", 0.5)]]) for i in range(n)]
        put(conn, [v for r in rows for v in r])
        assert len(seen) == (n + 63) // 64
        got = conn.execute("SELECT a, b, holds, out FROM t ORDER BY id").fetchall()
        assert [r[:3] for r in got] == [(a, ts, json.dumps(h, separators=(",", ":")))
                                        for a, ts, h, _ in rows]
        assert [(type(r[3]), marshal.loads(r[3])) for r in got] == [(bytes, r[3]) for r in rows]


def test_rows_of_the_wrong_width_are_refused_before_anything_is_written():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
    put = Rows("INSERT INTO t (a, b)", "(?, ?)")
    for bad in ([1, 2, 3], [1], (1, 2), [(1, 2)], [1, 2, 3, 4, 5]):
        try:
            put(conn, bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{bad!r} was written")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_a_cdr_record_is_exactly_the_sorted_standard_json():
    for cdr in ({"type": "session", "session_id": "h;1;2", "account_id": 7, "started": 1796585645.4801874,
                 "ended": 1e16, "charged": -50, "units": {"1:octets": 5 << 20, "0:seconds": 0},
                 "requests": 6, "reason": "terminated", "peer": "p\u00e9\"\\\n", "currency": 978},
                {}, {"b": [1.5, None, True, False, "x\u2028"], "a": 2 ** 70, "c": {"z": 1, "y": [{}]}}):
        assert _cdr_json(cdr) == json.dumps(cdr, sort_keys=True)
    try:
        _cdr_json({"x": object()})
    except TypeError:
        pass
    else:
        raise AssertionError("an object was encoded")


def test_a_column_encoded_in_one_call_is_each_value_exactly_as_on_its_own():
    # values whose text holds the marker between the values (a list with that very
    # string) make the column fall back to one call per value: the result is the same
    values = ["\x01", [(1, 2, 3)], [], {"1:octets": 5}, [(4, 5, 6), (7, 8, 9)], ["a", "\x01", "b"],
              ["\x01"], "x\x01", [["\x01"]], {"\x01": "\x01", "a": ["\x01", 1]}, 1.5, None,
              {"b": 1, "a": [2.5, "\u00e9"]}]
    for n in range(len(values) + 1):
        for i in range(len(values) - n + 1):
            part = values[i:i + n]
            assert _each(_encoder, list(part), None) == [json.dumps(v, separators=(",", ":")) for v in part]
            assert _each(_cdr_encoder, list(part), None, ", ") == [json.dumps(v, sort_keys=True) for v in part]
    try:
        _each(_encoder, [[1], {"x": object()}], None)
    except TypeError:
        pass
    else:
        raise AssertionError("an object was encoded")


@pytest.mark.parametrize("threads", [False, True])
def test_the_writer_process_runs_sqlite_without_mutexes_and_still_writes(tmp_path, threads):
    # what the writer process does before it connects: SQLite is shut down, configured
    # without mutexes (single-thread or multi-thread mode) and initialised again, and
    # connections work as before (in multi-thread mode, one per thread at once)
    code = ("import sqlite3, sys, threading; from diameter.ocs.store import sqlite_writer as w, sqlite_rows as r; "
            f"ok = w.lean_sqlite(threads={threads}); c = r.connect(sys.argv[1], 'FULL'); "
            "c.execute('CREATE TABLE t (a)'); c.execute('INSERT INTO t VALUES (1)'); "
            "out = []; t = threading.Thread(target=lambda: out.append(sqlite3.connect(sys.argv[1])"
            ".execute('SELECT a FROM t').fetchone()[0])); t.start(); t.join(); "
            "print(ok, c.execute('SELECT a FROM t').fetchone()[0], out[0])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite3")], capture_output=True,
                         text=True, env={"PYTHONPATH": SRC}, timeout=60, check=True).stdout.split()
    assert out == [str(sys.platform.startswith("linux")), "1", "1"]


def test_a_batch_that_cannot_be_encoded_is_rolled_back_whole(tmp_path):
    path = str(tmp_path / "w.sqlite3")
    conn = connect(path, "FULL")
    conn.execute("CREATE TABLE outcomes (session_id TEXT, request_number INTEGER, ts REAL, outcome TEXT)")
    writer = Writer(conn)
    version = writer.handle(("lock",))[1]
    writer.handle(("rollback",))
    good = ("s", 0, 1_700_000_000.0, [2, 2001])
    kind, _ = writer.handle(("batch", 1, version, (None, None, None, None, None, None, None, None,
                                                   [*good, "s", 1, 1.0, [object()]])))
    assert kind == "failed"
    assert writer.handle(("batch", 1, version, (None,) * 8 + (list(good),)))[0] == "rejected"  # same epoch
    assert writer.handle(("batch", 2, version, (None,) * 8 + (list(good),))) == ("ok", None)
    [(sid, number, out)] = conn.execute("SELECT session_id, request_number, outcome FROM outcomes")
    assert (sid, number, type(out), marshal.loads(out)) == ("s", 0, bytes, [2, 2001])
    conn.close()


def test_deletes_and_cdrs_of_a_batch_are_one_statement_each_and_touch_only_their_rows():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE reservations (session_id TEXT, rating_group INTEGER, "
                 "PRIMARY KEY (session_id, rating_group))")
    conn.execute("CREATE TABLE sessions (session_id TEXT PRIMARY KEY)")
    conn.execute("CREATE TABLE cdrs (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL, session_id TEXT, "
                 "account_id INTEGER, record TEXT)")
    for n in (1, 5, 64, 70):
        for table in ("reservations", "sessions", "cdrs"):
            conn.execute(f"DELETE FROM {table}")
        conn.executemany("INSERT INTO reservations VALUES (?, ?)",
                         [(f"s{i}", g) for i in range(2 * n) for g in (1, 2)])
        conn.executemany("INSERT INTO sessions VALUES (?)", [(f"s{i}",) for i in range(2 * n)])
        gone = [(f"s{i}", 1 + i % 2) for i in range(0, 2 * n, 2)]
        cdrs = [((1_700_000_000_000_000 + i) / 1e6, f"s{i}", i, {"z": i, "a": [1.5, None], "m": "\u00e9"})
                for i in range(n)]
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        write_rows(conn, (None, None, [v for k in gone for v in k], None, [s for s, _ in gone], None,
                          [v for c in cdrs for v in c], None, None))
        conn.set_trace_callback(None)
        assert len(seen) == 3 * ((n + 63) // 64)
        left = set(conn.execute("SELECT session_id, rating_group FROM reservations"))
        assert left == {(f"s{i}", g) for i in range(2 * n) for g in (1, 2)} - set(gone)
        assert {r[0] for r in conn.execute("SELECT session_id FROM sessions")} == {
            f"s{i}" for i in range(1, 2 * n, 2)}
        got = conn.execute("SELECT ts, session_id, account_id, record FROM cdrs ORDER BY id").fetchall()
        assert got == [(ts, s, a, json.dumps(rec, sort_keys=True)) for ts, s, a, rec in cdrs]


def test_ledger_runs_expand_to_the_rows_decided_and_a_cut_run_is_refused():
    """The cache sends a decision's ledger rows as runs (time, account, session and request
    number once); the writer expands them to exactly the rows, in order."""
    import pytest

    from diameter.ocs.model import LedgerRow
    from diameter.ocs.store.sqlite_cache import _ledger_groups, _secs
    from diameter.ocs.store.sqlite_rows import ledger_rows

    now = 1_700_000_000.1234567
    ts = _secs(now)
    rows = [LedgerRow(7, 70, "release", 100, 900, 10, "s1", 2, 1, now),
            LedgerRow(7, 70, "debit", -40, 860, 4, "s1", 2, 1, now),
            LedgerRow(7, 71, "reserve", -100, 0, 10, "s1", 2, None, now),
            LedgerRow(7, 70, "release", 5, 865, 1, "s0", 2, None, now),  # another session's hold
            LedgerRow(7, 70, "adjust", 1, 866, 0, None, None, None, now - 1.0)]
    runs: list = []
    balances: dict = {}
    _ledger_groups(runs, balances, rows, now, ts)
    assert runs[:5] == [ts, 7, "s1", 2, 3] and len(runs) == 3 * 5 + 5 * 6
    assert balances == {70: 866, 71: 0}  # each balance's last row: what `Decision.balances` gives
    want = [v for r in rows for v in ((ts if r.ts == now else _secs(r.ts)), r.account_id, r.balance_id, r.op,
                                      r.amount, r.balance_after, r.units, r.session_id, r.request_number,
                                      r.rating_group)]
    assert ledger_rows(runs) == want
    _ledger_groups(runs, balances, rows[:1], now, ts)  # a second decision: a run of its own
    assert ledger_rows(runs) == want + want[:10]
    with pytest.raises(ValueError):
        ledger_rows(runs[:-1])
    with pytest.raises(ValueError):
        ledger_rows(runs[:4])
