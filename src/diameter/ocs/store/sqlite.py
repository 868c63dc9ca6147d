"""SQLite storage: one file in WAL mode, one writer thread, group commit.

Callers on the event loop queue their work; the writer thread takes everything queued
(up to `batch`), runs them in one transaction, commits once (``synchronous=FULL`` by
default) and only then resolves each caller's future. When a unit fails the batch is
rolled back and each unit runs again in a transaction of its own (units are pure
functions of what they read, so running one again is safe): the failing unit fails
alone. Nothing is reported before it is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from . import schema
from ..model import Outcome
from .base import Storage, StorageError
from .queries import Decide, Query, Target, Work
from .sqlite_cache import AccountCache

log = logging.getLogger("diameter.ocs.store")

_STOP = object()


class _Transact:
    """A money-path unit, decided on the writer's account cache (see `sqlite_cache`)."""

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


class SqliteStorage(Storage):
    """Storage in one SQLite file (``:memory:`` works too, for tests)."""

    def __init__(self, path: str, *, synchronous: str = "FULL", batch: int = 512) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.synchronous = synchronous
        self.batch = batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self.commits = 0  # group commits done (for tests and metrics)
        self.units = 0  # units of work committed
        self._cache = AccountCache(drive)

    async def open(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._writer, name="ocs-sqlite-writer", daemon=True)
        self._thread.start()
        await asyncio.get_running_loop().run_in_executor(None, self._ready.wait)
        if self._open_error is not None:
            self._thread = None
            raise StorageError(f"cannot open {self.path}: {self._open_error}") from self._open_error

    async def close(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        self._thread = None

    async def _run(self, work: Callable[[], Work], *, lock: bool = False) -> Any:
        if self._thread is None:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.put((work, fut, loop))
        return await fut

    async def transact(self, target: Target, decide: Decide, key: tuple[str, int] | None = None,
                       now: float | None = None, scope: str | None = None) -> Outcome | None:
        if self._thread is None:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        ts = time.time() if now is None else now
        self._queue.put((_Transact(target, decide, key, ts, scope), fut, loop))
        out: Outcome | None = await fut
        return out

    # -- writer thread ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        self._migrate(conn)
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

    def _writer(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported by open()
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                batch = [item]
                stop = False
                while len(batch) < self.batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)
                self._commit_batch(conn, batch)
                if stop:
                    break
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        """Run a batch in one transaction; if a unit fails, run each unit alone instead."""
        values: list[Any] = []
        cache = self._cache
        try:
            conn.execute("BEGIN IMMEDIATE")
            cache.begin(conn)
            for work, _fut, _loop in batch:
                if type(work) is _Transact:
                    values.append(cache.transact(conn, work.target, work.decide, work.key, work.now,
                                                 work.scope))
                else:  # other work reads and writes the tables: they must be up to date
                    cache.flush(conn)
                    values.append(drive(conn, work()))
                    cache.clear()
            cache.flush(conn)
            conn.execute("COMMIT")
        except Exception as exc:
            cache.clear()  # it may hold what was just rolled back
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if len(batch) > 1:  # find the failing unit; the others commit on their own
                for item in batch:
                    self._commit_batch(conn, [item])
                return
            err: BaseException = exc if not isinstance(exc, sqlite3.Error) else StorageError(str(exc))
            _w, fut, loop = batch[0]
            loop.call_soon_threadsafe(_resolve, fut, None, err)
            return
        self.commits += 1
        self.units += len(batch)
        # one wake-up per event loop, not per caller (each wake-up is a syscall)
        by_loop: dict[Any, list[tuple[Any, Any]]] = {}
        for value, (_w, fut, loop) in zip(values, batch):
            by_loop.setdefault(loop, []).append((fut, value))
        for loop, done in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, done)


def _resolve_all(done: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for fut, value in done:
        if not fut.done():
            fut.set_result(value)


def _resolve(fut: asyncio.Future[Any], value: Any, err: BaseException | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(value)
