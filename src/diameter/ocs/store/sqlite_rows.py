"""The rows a batch decided, written by the SQLite writer (stdlib only: the writer process
runs without the package, see :mod:`.sqlite_writer`): one multi-row statement per table
(`Rows`), JSON and `marshal` columns encoded by C loops, and `connect` (the pragmas of
every connection that writes an OCS file)."""

from __future__ import annotations

import json
import marshal
import sqlite3
from itertools import repeat
from typing import Any

def _not_json(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# C encoders made once (``JSONEncoder.encode`` makes a new one on every call)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encoder: Any = None if _c_make_encoder is None else _c_make_encoder(
    None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
#: a CDR's record: ``json.dumps(cdr, sort_keys=True)``'s separators and key order
_cdr_encoder: Any = None if _c_make_encoder is None else _c_make_encoder(
    None, _not_json, json.encoder.encode_basestring_ascii, None, ": ", ", ", True, False, True)
_slow_dumps = json.JSONEncoder(separators=(",", ":")).encode
_slow_cdr_json = json.JSONEncoder(sort_keys=True).encode


def _dumps(obj: Any) -> str:
    """Compact JSON text, exactly as ``json.dumps(obj, separators=(",", ":"))``."""
    if _encoder is None:  # pragma: no cover - CPython has the C encoder
        return _slow_dumps(obj)
    return "".join(_encoder(obj, 0))


def _cdr_json(cdr: Any) -> str:
    """A CDR's record, exactly as ``json.dumps(cdr, sort_keys=True)``."""
    if _cdr_encoder is None:  # pragma: no cover - CPython has the C encoder
        return _slow_cdr_json(cdr)
    return "".join(_cdr_encoder(cdr, 0))


#: put between the values of a column encoded as one JSON array (`_each`)
_MARK = "\x01"


def _each(encoder: Any, values: list[Any], slow: Any, sep: str = ",") -> list[Any]:
    """`values` encoded by a C encoder, each exactly as on its own: the column is encoded
    as one array with a marker string between the values (one encoder call, whose setup
    costs more than a small value's text) and cut at the markers; `sep` is the encoder's
    item separator. Where a value's text holds the marker's (a list with that very
    string, the only place an unescaped ``,"\\u0001",`` can come from), the count of
    pieces tells, and the values are encoded one by one."""
    n = len(values)
    if encoder is None:  # pragma: no cover - CPython has the C encoder
        return [slow(v) for v in values]
    if n < 2:
        return list(map("".join, map(encoder, values, repeat(0, n))))
    marked = [_MARK] * (2 * n - 1)
    marked[::2] = values
    parts = "".join(encoder(marked, 0))[1:-1].split(f'{sep}"\\u0001"{sep}')
    if len(parts) == n:
        return parts
    return list(map("".join, map(encoder, values, repeat(0, n))))



RES_COLS = ("session_id, rating_group, account_id, unit, units, holds, expires_at, request_number, "
            "final, peer")
SES_COLS = "session_id, account_id, started, updated, expires_at, charged, units, requests, peer, final"
class Rows:
    """One multi-row statement, ``head VALUES (row), (row), ... tail`` (`keyword` in place of
    `` VALUES ``: ``head IN (?, ?, ...)``): one statement for up to `MOST` rows (a statement
    text per row count, made on first use and kept in the connection's statement cache), so
    a batch costs one statement per table whatever its size (what SQLite does per
    statement, and the Python per row of ``executemany``, is most of a small write). Rows
    come as one flat list of values (each row's `width` values one after the other) and
    are bound from it: `json` names columns to encode as compact JSON
    text, `record` one to encode as a CDR record (sorted keys), `blob` one to encode with
    `marshal`, by C loops over the list's extended slices."""

    MOST = 64

    def __init__(self, head: str, row: str, tail: str = "", *, json: tuple[int, ...] = (),
                 blob: int | None = None, record: int | None = None, keyword: str = " VALUES ") -> None:
        self.head, self.row, self.tail, self.keyword = head, row, tail, keyword
        self.width = row.count("?")
        self.json = json
        self.blob = blob
        self.record = record
        self.sql: dict[int, str] = {}

    def text(self, k: int) -> str:
        """The statement for `k` rows."""
        sql = self.sql.get(k)
        if sql is None:
            sql = self.sql[k] = f"{self.head}{self.keyword}{', '.join([self.row] * k)}{self.tail}"
        return sql

    def __call__(self, conn: sqlite3.Connection, flat: list[Any]) -> None:
        w = self.width
        n, rest = divmod(len(flat), w)
        if rest or type(flat) is not list:  # a short row would shift every value after it
            raise ValueError(f"rows of {w} values expected, one after the other in a list")
        for col in self.json:
            flat[col::w] = _each(_encoder, flat[col::w], _slow_dumps)
        if self.record is not None:
            col = self.record
            flat[col::w] = _each(_cdr_encoder, flat[col::w], _slow_cdr_json, ", ")
        if self.blob is not None:
            col = self.blob
            # a bytearray is bound as it is; bytes would make the sqlite3 module look for an
            # adapter (in its registry, then ``__adapt__`` / ``__conform__``) for each value
            # version 2: no table of shared objects made per call (3 and 4 have one)
            flat[col::w] = list(map(bytearray, map(marshal.dumps, flat[col::w], repeat(2, n))))
        most = self.MOST
        if n <= most:
            conn.execute(self.text(n), flat)
            return
        sql = self.text(most)
        step = most * w
        i = 0
        while n - i > most:
            conn.execute(sql, flat[i * w:i * w + step])
            i += most
        conn.execute(self.text(n - i), flat[i * w:])


# Times arrive as seconds (floats, whole microseconds: ``us / 1e6``), stored as they are, so
# rows that need no JSON are bound as they arrive.
LEDGER = Rows("INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, "
              "session_id, request_number, rating_group)", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
BALANCE = Rows("WITH v (id, amount) AS (", "(?, ?)",
               ") UPDATE balances SET amount = v.amount FROM v WHERE balances.id = v.id")
RES_DEL = Rows("WITH v (session_id, rating_group) AS (", "(?, ?)",
               ") DELETE FROM reservations WHERE rowid IN (SELECT r.rowid FROM v JOIN reservations r "
               "ON r.session_id = v.session_id AND r.rating_group = v.rating_group)")
RES_PUT = Rows(f"INSERT INTO reservations ({RES_COLS})", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               " ON CONFLICT (session_id, rating_group) DO UPDATE SET units = excluded.units, "
               "holds = excluded.holds, expires_at = excluded.expires_at, "
               "request_number = excluded.request_number, final = excluded.final", json=(5,))
SES_DEL = Rows("DELETE FROM sessions WHERE session_id", "?", ")", keyword=" IN (")
SES_PUT = Rows(f"INSERT INTO sessions ({SES_COLS})", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               " ON CONFLICT (session_id) DO UPDATE SET updated = excluded.updated, "
               "expires_at = excluded.expires_at, charged = excluded.charged, "
               "units = excluded.units, requests = excluded.requests, final = excluded.final", json=(6,))
CDR = Rows("INSERT INTO cdrs (ts, session_id, account_id, record)", "(?, ?, ?, ?)", record=3)
STATE = "UPDATE accounts SET state = ? WHERE id = ?"
#: the recorded outcome row as `marshal` bytes (see `Outcome.from_json`)
OUTCOME = Rows("INSERT INTO outcomes (session_id, request_number, ts, outcome)", "(?, ?, ?, ?)",
               blob=3)


def ledger_rows(runs: list[Any]) -> list[Any]:
    """The ledger's rows, ten values each one after the other, of the runs
    ``AccountCache.take`` sends: ``ts, account id, session id, request number, n`` then
    ``n`` rows of ``balance id, op, amount, balance after, units, rating group``."""
    if type(runs) is not list:
        raise ValueError("ledger runs expected in a list")
    out: list[Any] = []
    i, end = 0, len(runs)
    while i < end:
        ts, account, sid, number, n = runs[i:i + 5]
        i += 5
        stop = i + 6 * n
        if type(n) is not int or n <= 0 or stop > end:
            raise ValueError("ledger run cut short")
        while i < stop:
            bid, op, amount, after, units, rg = runs[i:i + 6]
            out += (ts, account, bid, op, amount, after, units, sid, number, rg)
            i += 6
    return out


def write_rows(conn: sqlite3.Connection, rows: Any) -> None:
    """Write what a batch decided (``AccountCache.take``: balances, ledger (runs: see
    `ledger_rows`), reservations deleted / put, sessions deleted / put, CDRs, account
    states, outcomes, each a flat list of its rows' values but the states, ``(state,
    account id)`` pairs; times as seconds
    (floats); reservation holds and session units encoded here as compact JSON text,
    CDRs as JSON text with sorted keys, outcome rows as `marshal` bytes) inside the caller's
    transaction."""
    if rows is None:
        return
    bal, led, rd, rp, sd, sp, cdrs, states, outs = rows
    if bal:
        BALANCE(conn, bal)
    if led:
        LEDGER(conn, ledger_rows(led))
    if rd:
        RES_DEL(conn, rd)
    if rp:
        RES_PUT(conn, rp)
    if sd:
        SES_DEL(conn, sd)
    if sp:
        SES_PUT(conn, sp)
    if cdrs:
        CDR(conn, cdrs)
    if states:
        conn.executemany(STATE, states)
    if outs:
        OUTCOME(conn, outs)


def query(conn: sqlite3.Connection, sql: str, args: Any, mode: str) -> Any:
    """One query of a `diameter.ocs.store.queries` generator (modes: one, all, exec, many)."""
    if mode == "many":
        conn.executemany(sql, args)
        return None
    cur = conn.execute(sql, args)
    try:
        if mode == "one":
            row = cur.fetchone()
            return None if row is None else tuple(row)
        if mode == "all":
            return [tuple(r) for r in cur.fetchall()]
        return None
    finally:
        cur.close()



def connect(path: str, synchronous: str) -> sqlite3.Connection:
    # statements: a multi-row statement per row count of each table, plus the queries
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=512)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    # what is never on disk anyway: statement journals and temporary tables in memory
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn
