"""The SQLite writer process: the one connection that writes an OCS file (stdlib only).

:class:`diameter.ocs.store.sqlite.SqliteStorage` runs this file as a child process
(``python -I -S sqlite_writer.py FD PATH SYNCHRONOUS PARENT_PID``), so writing and
committing, SQLite's work, runs on its own interpreter and its own core instead of
competing with the event loop for the GIL. The event loop decides a batch of units on
its account cache and sends the rows; this process writes them and commits, and only its
reply (after the COMMIT returned, i.e. the batch is on disk with ``synchronous=FULL``)
lets the answers out. It dies with its parent: ``PR_SET_PDEATHSIG`` on Linux, and it
exits on end-of-file of its socket anywhere.

Messages are length-prefixed `marshal` frames of tuples, one reply per message, in order:

* ``("batch", epoch, version, rows)`` (rows: see `write_rows`): ``BEGIN IMMEDIATE``; if ``PRAGMA data_version`` is
  not `version` (another connection committed since the rows were decided) roll back and
  reply ``("stale", now)``; else write the rows and ``COMMIT``: ``("ok", None)``. After a
  batch that did not commit, every later batch of the same `epoch` is refused
  (``("rejected", None)``): it was decided on top of the one that failed.
* ``("lock",)``: ``BEGIN IMMEDIATE``, reply ``("ok", data_version)``; then ``("query",
  sql, args, mode)``, ``("write", rows)``, ``("commit", rows)`` or ``("rollback",)``.
* ``("close",)``: reply, close the connection, exit.

Errors are replied as ``("begin_failed", text)`` (the transaction could not start) or
``("failed", text)`` (rolled back).
"""

from __future__ import annotations

import gc
import json
import os
import marshal
import select
import signal
import socket
import sqlite3
import struct
import sys
import time
from collections.abc import Callable
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


_LEN = struct.Struct(">I")
#: bytes asked of each recv: a 1 MiB request makes CPython allocate (mmap) and free 1 MiB
#: per call, ~13 us; 64 KiB comes from the heap (frames longer than that take several)
RECV = 1 << 16

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


def single_threaded() -> bool:
    """Put SQLite in single-thread mode without memory statistics (True if it took): no
    mutex taken by each call and each allocation. Only for a process whose one thread
    uses SQLite (the writer process), before its first connection: the library is shut
    down (the sqlite3 module initialised it on import), configured and initialised again.
    Where the library's functions cannot be reached it stays as it is (False), and off
    Linux too (``sqlite3_config`` is variadic: `ctypes` passes its arguments right only
    where variadic and fixed arguments are passed alike, as on Linux; not on macOS arm64)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import _sqlite3
        lib = ctypes.CDLL(_sqlite3.__file__)  # finds the SQLite library it is linked with
        if lib.sqlite3_shutdown() != 0:
            return False
    except (ImportError, OSError, AttributeError):
        return False
    # SQLITE_CONFIG_SINGLETHREAD = 1, SQLITE_CONFIG_MEMSTATUS = 9
    ok = lib.sqlite3_config(1) == 0 and lib.sqlite3_config(9, ctypes.c_int(0)) == 0
    return bool(lib.sqlite3_initialize() == 0 and ok)


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


class Writer:
    """The message handling of the process (sans-IO: `handle(message)` returns the reply)."""

    def __init__(self, conn: sqlite3.Connection, trace: bool = False) -> None:
        self.conn = conn
        self.rejecting = -1  # batches of this epoch or older are refused
        #: a committed batch's reply carries its times (`diameter.ocs.store.sqlite_trace`)
        self.trace = trace
        self.read_at = 0.0  # when the socket read that brought the message returned
        self.commits = 0  # since the last checkpoint

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def handle(self, msg: tuple[Any, ...]) -> tuple[str, Any]:
        kind = msg[0]
        conn = self.conn
        try:
            if kind == "batch":
                return self._batch(msg[1], msg[2], msg[3])
            if kind == "lock":
                self._rollback()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return "ok", int(conn.execute("PRAGMA data_version").fetchone()[0])
                except Exception as exc:
                    self._rollback()
                    return "begin_failed", f"{type(exc).__name__}: {exc}"
            if kind == "query":
                return "ok", query(conn, msg[1], msg[2], msg[3])
            if kind == "write":
                write_rows(conn, msg[1])
                return "ok", None
            if kind == "commit":
                write_rows(conn, msg[1])
                conn.execute("COMMIT")
                return "ok", None
            if kind == "rollback":
                self._rollback()
                return "ok", None
            return "failed", f"unknown message {kind!r}"
        except Exception as exc:
            if kind != "query":  # a failed query leaves the transaction to its caller
                self._rollback()
            return "failed", f"{type(exc).__name__}: {exc}"

    def _batch(self, epoch: int, version: int | None, rows: Any) -> tuple[str, Any]:
        return self.group([("batch", epoch, version, rows)])[0]

    def group(self, msgs: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
        """Batches that arrived together (``("batch", epoch, version, rows)``), in order: those
        of one epoch and version are written in one transaction, one COMMIT (one sync) for
        all, and each is replied to after it; a group that fails is rolled back whole, its
        first batch replied to with the failure and the others refused (as after it)."""
        out: list[tuple[str, Any]] = []
        i = 0
        while i < len(msgs):
            epoch, version = msgs[i][1], msgs[i][2]
            j = i + 1
            while j < len(msgs) and msgs[j][1] == epoch and msgs[j][2] == version:
                j += 1
            out += self._commit_group(epoch, version, [m[3] for m in msgs[i:j]])
            i = j
        return out

    def _commit_group(self, epoch: int, version: int | None, group: list[Any]) -> list[tuple[str, Any]]:
        refused = [("rejected", None)] * (len(group) - 1)
        if epoch <= self.rejecting:
            return [("rejected", None), *refused]
        begin = time.monotonic() if self.trace else 0.0
        conn = self.conn
        self._rollback()
        try:
            conn.execute("BEGIN IMMEDIATE")
            now = int(conn.execute("PRAGMA data_version").fetchone()[0])
        except Exception as exc:
            self._rollback()
            self.rejecting = epoch
            return [("begin_failed", f"{type(exc).__name__}: {exc}"), *refused]
        if now != version:
            conn.execute("ROLLBACK")
            self.rejecting = epoch
            return [("stale", now), *refused]
        if self.trace:
            begun = time.monotonic()
        try:
            for rows in group:
                write_rows(conn, rows)
            if self.trace:
                written = time.monotonic()
            conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            self.rejecting = epoch
            return [("failed", f"{type(exc).__name__}: {exc}"), *refused]
        self.commits += 1
        if self.trace:
            times = {"read": self.read_at, "begin": begin, "begun": begun, "written": written,
                     "committed": time.monotonic(), "group": len(group)}
            return [("ok", times)] * len(group)
        return [("ok", None)] * len(group)


    #: commits between two checkpoints run while nothing waits (a commit of the bench's
    #: load writes ~20 pages to the WAL: about SQLite's 1,000-page automatic checkpoint) ...
    CHECKPOINT = 50
    #: ... and run in any case after this many (the WAL stays bounded under any load)
    CHECKPOINT_ANYWAY = 4 * CHECKPOINT

    def checkpoint_due(self, idle: Callable[[], bool]) -> bool:
        """Whether to checkpoint now (`idle`: nothing waits to be handled)."""
        n = self.commits
        return (n >= self.CHECKPOINT and not self.conn.in_transaction
                and (n >= self.CHECKPOINT_ANYWAY or idle()))

    def checkpoint(self) -> None:
        """Copy the WAL's pages into the database file (PASSIVE: readers are not waited
        for). This connection's automatic checkpoint is off (`main`): SQLite would run it
        inside a COMMIT, before its reply, where the batch's callers wait for it."""
        self.commits = 0
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # the next one copies these pages too


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def frame(msg: Any) -> bytes:
    data = marshal.dumps(msg, 4)
    return _LEN.pack(len(data)) + data


def send(sock: socket.socket, msg: Any) -> None:
    sock.sendall(frame(msg))


def serve(sock: socket.socket, writer: Writer) -> None:
    """Messages from the socket until it ends or a ``close``. Whatever the socket holds is
    read before it is handled, so the batches sent while the last COMMIT ran are
    committed together (`Writer.group`); their replies leave in one write."""
    buf = bytearray()
    while True:
        data = sock.recv(RECV)
        if not data:
            return  # the parent is gone
        buf += data
        while len(data) == RECV or _partial(buf):  # more may be there already: take it
            try:
                data = sock.recv(RECV, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break  # the end: seen by the next blocking read
            buf += data
        if writer.trace:
            writer.read_at = time.monotonic()
        msgs = []
        while len(buf) >= 4:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            msgs.append(marshal.loads(buf[4:4 + n]))
            del buf[:4 + n]
        i = 0
        while i < len(msgs):
            kind = msgs[i][0]
            if kind == "close":
                writer._rollback()
                send(sock, ("ok", None))
                return
            if kind == "batch":
                j = i + 1
                while j < len(msgs) and msgs[j][0] == "batch":
                    j += 1
                sock.sendall(b"".join(map(frame, writer.group(msgs[i:j]))))
                i = j
                continue
            send(sock, writer.handle(msgs[i]))
            i += 1
        if writer.checkpoint_due(lambda: not select.select([sock], [], [], 0)[0]):
            writer.checkpoint()


def _partial(buf: bytearray) -> bool:
    """The buffer ends inside a frame."""
    i, size = 0, len(buf)
    while size - i >= 4:
        i += 4 + _LEN.unpack_from(buf, i)[0]
    return i != size


def tune() -> None:
    """Garbage collection for this process: what it holds after start is frozen, and a
    collection runs every 50,000 allocations instead of every 700 (each batch unpacks
    thousands of tuples, none of which form cycles)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def main(argv: list[str]) -> int:
    fd, path, synchronous, parent = int(argv[0]), argv[1], argv[2], int(argv[3])
    _die_with_parent(parent)
    for sig in (signal.SIGINT, signal.SIGTERM):  # the parent decides when this ends (Ctrl-C, a
        signal.signal(sig, signal.SIG_IGN)      # service manager stopping the process group)
    sock = socket.socket(fileno=fd)
    single_threaded()  # this process's one thread is the only one using SQLite
    try:
        conn = connect(path, synchronous)
    except Exception as exc:
        send(sock, ("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    conn.execute("PRAGMA wal_autocheckpoint=0")  # see `Writer.checkpoint`
    tune()
    send(sock, ("ready", sqlite3.sqlite_version))
    try:
        serve(sock, Writer(conn, trace=bool(os.environ.get("DIAMETER_SQLITE_TRACE"))))
    except (OSError, EOFError):
        pass
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
