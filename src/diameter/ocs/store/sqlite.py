"""SQLite storage: one file in WAL mode, group commit decided on the event loop.

Callers queue their work; a committer task takes everything queued (up to `batch`) as one
batch. Its units are decided on the event loop itself, on the account cache of
:mod:`.sqlite_cache` (what it lacks is read through a second, read-only connection); the
helper thread then begins the transaction (``BEGIN IMMEDIATE``, which may wait for another
writer of the file), checks ``PRAGMA data_version`` (another writer committed since: the
batch is rolled back, the cache dropped, and the batch decided again inside its
transaction), writes what the units decided (one statement) and commits (``synchronous=FULL``
by default). Meanwhile the loop decides the next batch on the cache, which holds the
decisions of the one being written; it is written only after that one committed, and
decided again if that one failed. Only after its commit is each caller's future resolved.
When a unit fails the batch is rolled back and each unit runs again in a transaction of its
own (units are pure functions of what they read, so running one again is safe): the failing
unit fails alone. Nothing is reported before it is on disk. ``:memory:`` databases (no second
connection) and batches with other work than units are run one after the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..model import Outcome
from . import schema
from .base import Storage, StorageError
from .queries import Decide, Query, Target, Work
from .sqlite_cache import BATCH_SQL, RECORDED, SESSION_RECORDED, WRITE_BATCH, AccountCache, Rows, encode

log = logging.getLogger("diameter.ocs.store")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class _Transact:
    """A money-path unit, decided on the account cache (see `sqlite_cache`)."""

    __slots__ = ("target", "decide", "key", "now", "scope")

    def __init__(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
                 scope: str | None) -> None:
        self.target, self.decide, self.key, self.now, self.scope = target, decide, key, now, scope


def drive(conn: sqlite3.Connection, work: Work) -> Any:
    """Run a queries generator on a connection (inside the caller's transaction)."""
    try:
        query: Query = next(work)
        while True:
            sql, args, mode = query
            if mode == "many":
                conn.executemany(sql, args)
                result: Any = None
            elif mode == "exec":
                conn.execute(sql, args)
                result = None
            else:
                cur = conn.execute(sql, args)
                result = cur.fetchone() if mode == "one" else cur.fetchall()
                cur.close()
            query = work.send(result)
    except StopIteration as stop:
        return stop.value


_Item = tuple[Any, "asyncio.Future[Any]"]
#: a batch written by the thread: its items, its values, the write's future (see `_write_checked`)
_Flight = tuple[list[_Item], list[Any], "asyncio.Future[int | None]"]


class _BeginFailed(Exception):
    """BEGIN IMMEDIATE (or the read after it) failed: nothing of the batch was decided."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class SqliteStorage(Storage):
    """Storage in one SQLite file (``:memory:`` works too, for tests)."""

    def __init__(self, path: str, *, synchronous: str = "FULL", batch: int = 256) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.synchronous = synchronous
        self.batch = batch
        self._conn: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Item] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closing = False
        self._cache = AccountCache(drive)
        self.commits = 0  # group commits done (for tests and metrics)
        self.units = 0  # units of work committed
        self.ahead = 0  # batches decided while the previous one was being written
        self.stale = 0  # batches decided again because another writer committed first
        self._rconn: sqlite3.Connection | None = None  # read-only, for deciding ahead (files only)

    async def open(self) -> None:
        if self._conn is not None:
            return
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(1, thread_name_prefix="ocs-sqlite")
        try:
            conn = await loop.run_in_executor(pool, self._connect)
            self._rconn = None
            if self.path not in (":memory:", ""):  # a second connection would be another database
                self._rconn = await loop.run_in_executor(pool, self._reader)
        except BaseException as exc:
            pool.shutdown(wait=False)
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        self._conn, self._pool, self._loop = conn, pool, loop
        self._closing = False
        self._cache.clear()
        self._wake = asyncio.Event()
        self._committer = loop.create_task(self._commit_loop())

    async def close(self) -> None:
        conn, pool = self._conn, self._pool
        if conn is None or pool is None:
            return
        self._closing = True
        assert self._wake is not None and self._committer is not None
        self._wake.set()
        await self._committer  # commits what is queued, then ends
        await asyncio.get_running_loop().run_in_executor(pool, conn.close)
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None
        pool.shutdown(wait=False)
        self._conn = self._pool = self._committer = None

    def _submit(self, unit: Any) -> asyncio.Future[Any]:
        if self._conn is None or self._closing:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise StorageError("storage used from another event loop than the one that opened it")
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((unit, fut))
        assert self._wake is not None
        self._wake.set()
        return fut

    async def _run(self, work: Callable[[], Work], *, lock: bool = False) -> Any:
        return await self._submit(work)

    async def transact(self, target: Target, decide: Decide, key: tuple[str, int] | None = None,
                       now: float | None = None, scope: str | None = None) -> Outcome | None:
        ts = time.time() if now is None else now
        out: Outcome | None = await self._submit(_Transact(target, decide, key, ts, scope))
        return out

    # -- the committer --------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < (3, 33, 0):  # UPDATE ... FROM and JSON1 in the batch write
            raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old: 3.33 or later is needed")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        self._migrate(conn)
        conn.executescript(BATCH_SQL)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection, used on the event loop to decide a batch ahead."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_version")}
            for version, _ in schema.MIGRATIONS:
                if version in done:
                    continue
                for stmt in schema.statements(version, schema.SQLITE_TYPES):
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                log.info("ocs sqlite: schema version %d applied", version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def _commit_loop(self) -> None:
        assert self._wake is not None and self._loop is not None
        wake = self._wake
        flight: _Flight | None = None  # the batch being written and committed by the thread
        while True:
            if not self._pending:
                if flight is None:
                    if self._closing:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                wake.clear()  # wait for the write to end (it sets `wake`), or for new work
                if not flight[2].done():
                    await wake.wait()
                if flight[2].done():
                    await self._finish(flight, [])
                    flight = None
                continue
            batch, self._pending = self._pending[:self.batch], self._pending[self.batch:]
            if self._rconn is None or self._cache.version is None or any(
                    type(w) is not _Transact for w, _f in batch):
                if flight is not None:  # this batch is run serially, after the one in flight
                    ok = await self._finish(flight, batch)
                    flight = None
                    if not ok:
                        continue
                await self._serial(batch)
                continue
            if flight is not None and self._cache.full:  # start again empty, nothing in flight
                ok = await self._finish(flight, batch)
                flight = None
                if not ok:
                    continue
            if flight is None:
                self._cache.trim()
            if flight is not None:
                self.ahead += 1
            try:  # decided on the cache, which holds the decisions of the batch in flight
                values = self._decide(batch)
            except Exception as exc:
                if flight is not None:
                    await self._finish(flight, [])
                    flight = None
                self._cache.clear()  # it holds part of this batch
                await self._one_by_one(batch, exc)
                continue
            if flight is not None:
                ok = await self._finish(flight, batch)  # on failure, `batch` is queued again
                flight = None
                if not ok:
                    continue
            writes = self._cache.take()
            fut = self._loop.run_in_executor(self._pool, self._write_checked, writes, self._cache.version)
            fut.add_done_callback(lambda _f: wake.set())
            flight = (batch, values, fut)

    async def _finish(self, flight: _Flight, after: list[_Item]) -> bool:
        """Wait for a batch's write; resolve its futures (True) or handle its failure, then
        queue `after` (decided on its state) again at the front (False)."""
        batch, values, fut = flight
        try:
            stale = await fut
        except Exception as exc:
            self._rollback()
            if isinstance(exc, _BeginFailed):  # fail the first one only
                self._pending[:0] = batch[1:] + after
                await self._one_by_one(batch[:1], exc.error)
            else:
                self._pending[:0] = after
                await self._one_by_one(batch, exc)
            return False
        if stale is not None:  # another writer committed since: decide it again on fresh reads
            self.stale += 1
            self._rollback()
            self._pending[:0] = after
            await self._serial(batch)
            return False
        self._done(batch, values)
        return True

    async def _serial(self, batch: list[_Item]) -> None:
        """Begin, decide and commit a batch, nothing else in flight."""
        try:
            values = await self._commit(batch)
        except _BeginFailed as exc:  # the file is locked or broken: fail the first one only
            self._rollback()
            self._pending[:0] = batch[1:]
            await self._one_by_one(batch[:1], exc.error)
            return
        except Exception as exc:
            self._rollback()
            await self._one_by_one(batch, exc)
            return
        self._done(batch, values)

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        """Run a batch in one transaction; its values once committed (raises: rolled back)."""
        keys = [w.key for w, _f in batch if type(w) is _Transact and w.key is not None]
        assert self._loop is not None
        try:
            version, recorded = await self._loop.run_in_executor(
                self._pool, self._begin, _dumps(keys) if keys else None)
        except Exception as exc:
            raise _BeginFailed(exc) from exc
        values = self._units(batch, version, recorded)
        await self._loop.run_in_executor(self._pool, self._write, self._cache.take())
        return values

    async def _one_by_one(self, batch: list[_Item], exc: Exception) -> None:
        """Find the failing unit of a failed batch; the others commit on their own."""
        if isinstance(exc, _BeginFailed):
            exc = exc.error
        if len(batch) == 1:
            fut = batch[0][1]
            if not fut.done():
                fut.set_exception(StorageError(str(exc)) if isinstance(exc, sqlite3.Error) else exc)
            return
        for item in batch:
            try:
                values = await self._commit([item])
            except Exception as err:
                self._rollback()
                await self._one_by_one([item], err)
                continue
            self._done([item], values)

    # -- on the helper thread ----------------------------------------------------------
    def _begin(self, keys: str | None) -> tuple[int, dict[tuple[str, int], str]]:
        """BEGIN IMMEDIATE; the file's data_version and the recorded outcomes of `keys`."""
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        recorded = {}
        if keys is not None:
            recorded = {(sid, int(n)): text for sid, n, text in conn.execute(RECORDED, (keys,))}
        return version, recorded

    def _write_checked(self, rows: Rows | None, version: int | None) -> int | None:
        """A batch decided before its transaction: BEGIN IMMEDIATE, and if nobody else
        committed since `version`, write and commit it (None); else roll back (the version).
        Its rows are encoded here, off the event loop."""
        conn = self._conn
        assert conn is not None
        writes = encode(rows)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            raise _BeginFailed(exc) from exc
        try:
            now = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if now != version:
                conn.execute("ROLLBACK")
                return now
            if writes is not None:
                conn.execute(WRITE_BATCH, writes)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return None

    def _write(self, rows: Rows | None) -> None:
        conn = self._conn
        assert conn is not None
        writes = encode(rows)
        if writes is not None:
            conn.execute(WRITE_BATCH, writes)
        conn.execute("COMMIT")

    # -- on the event loop ---------------------------------------------------------------
    def _decide(self, batch: list[_Item]) -> list[Any]:
        """Decide a batch of units before its transaction, reading what the cache lacks
        through the read-only connection (committed state: the batch in flight cannot have
        changed what the cache lacks; a retransmission of one of its units is in `inflight`)."""
        rconn, cache = self._rconn, self._cache
        assert rconn is not None
        known = cache.recorded_numbers
        keys: list[tuple[str, int]] = []  # may have an outcome in the file: read it
        new: dict[str, set[int]] = {}  # sessions whose recorded numbers are not known yet
        for w, _f in batch:
            key = w.key
            if key is not None:
                numbers = known.get(key[0])
                if numbers is None:
                    new[key[0]] = set()
                elif key[1] in numbers:  # a retransmission (or a number used again)
                    keys.append(key)
        recorded: dict[tuple[str, int], str] = {}
        if new:  # all their outcomes: committed ones from the file, the batch in flight's
            for sid, n, text in rconn.execute(SESSION_RECORDED, (_dumps(list(new)),)):
                recorded[(sid, int(n))] = text
                new[sid].add(int(n))
            for sid, n in cache.inflight:
                if sid in new:
                    new[sid].add(n)
            cache.know_recorded(new)
        if keys:
            for sid, n, text in rconn.execute(RECORDED, (_dumps(keys),)):
                recorded[(sid, int(n))] = text
        return [cache.transact(rconn, w.target, w.decide, w.key, w.now, w.scope, recorded) for w, _f in batch]

    def _units(self, batch: list[_Item], version: int,
               recorded: dict[tuple[str, int], str]) -> list[Any]:
        conn, cache = self._conn, self._cache
        assert conn is not None
        cache.begin(version)
        values: list[Any] = []
        for work, _fut in batch:
            if type(work) is _Transact:
                values.append(cache.transact(conn, work.target, work.decide, work.key, work.now,
                                             work.scope, recorded))
            else:  # other work reads and writes the tables: they must be up to date
                cache.flush(conn)
                values.append(drive(conn, work()))
                cache.clear()
        return values

    def _rollback(self) -> None:
        self._cache.clear()  # it may hold what is rolled back
        conn = self._conn
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _done(self, batch: list[_Item], values: list[Any]) -> None:
        self.commits += 1
        self.units += len(batch)
        for (_w, fut), value in zip(batch, values):
            if not fut.done():
                fut.set_result(value)
