"""The event loop's side of the SQLite writer: a child process for files, else a thread.

Both offer what :class:`~diameter.ocs.store.sqlite.SqliteStorage` needs: ``lock()`` (begin
a write transaction, the ``PRAGMA data_version`` seen), ``conn`` (a connection-like
object for the queries of that transaction), ``write`` / ``commit`` / ``rollback``, and
for the process ``submit`` (a whole batch: begin, check the version, write, commit, one
message whose reply is awaited). The process is :mod:`.sqlite_writer`; replies come back
in order and resolve futures from a reader callback of the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import os
import select
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import sqlite_rows, sqlite_sync, sqlite_writer
from .base import StorageError
from .child_link import ChildLink

SCRIPT = sqlite_writer.__file__
Reply = tuple[str, Any]


class WriterDied(StorageError):
    """The SQLite writer process ended: what was sent to it may or may not be committed."""


class _Rows:
    """A cursor over rows already fetched (what `drive` and the cache use of a cursor)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)

    def close(self) -> None:
        pass


class _RemoteConn:
    """The writer process's connection, inside its open transaction (blocking round trips:
    used while nothing else is in flight, for what a batch decided in its transaction reads)."""

    def __init__(self, link: WriterProcess) -> None:
        self._link = link

    def execute(self, sql: str, args: Any = ()) -> _Rows:
        return _Rows(self._link.call("query", sql, tuple(args), "all") or [])

    def executemany(self, sql: str, args: Any) -> None:
        self._link.call("query", sql, list(args), "many")


class WriterProcess(ChildLink):
    """The child process that writes the file (see :mod:`.sqlite_writer`)."""

    what = "the SQLite writer process"
    lost = WriterDied
    recv_size = sqlite_writer.RECV

    def __init__(self, path: str, synchronous: str, timeout: float = 60.0,
                 replied: Callable[[], None] | None = None) -> None:
        super().__init__(timeout)
        self.replied = replied  # called after the replies of a read resolved their futures
        self.path = path
        self.synchronous = synchronous
        self.conn = _RemoteConn(self)
        self._waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        #: when each reply was read, by its future (tracing only: `.sqlite_trace`)
        self.reply_at: dict[asyncio.Future[Reply], float] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        mine = self._spawn(lambda fd: [sys.executable, "-I", "-S", SCRIPT, str(fd), self.path,
                                       self.synchronous, str(os.getpid())])
        ready: asyncio.Future[Reply] = loop.create_future()
        self._waiting.append(ready)
        try:
            await self._handshake(loop, mine, ready)
        except StorageError as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc

    # -- messages --------------------------------------------------------------------
    def submit(self, *msg: Any) -> asyncio.Future[Reply]:
        """Send a message; its reply resolves the future (WriterDied if the process ends)."""
        assert self._loop is not None
        self._send(msg)
        fut: asyncio.Future[Reply] = self._loop.create_future()
        self._waiting.append(fut)
        return fut

    def call(self, *msg: Any) -> Any:
        """Send a message and wait for its reply, blocking (nothing else may be in flight)."""
        assert not self._waiting, "a blocking call while replies are awaited"
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            for reply in self._frames():
                return self._value(reply)
            left = deadline - time.monotonic()
            assert self._sock is not None
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                self._end("no reply")
                raise WriterDied("the SQLite writer process did not reply")
            if not self._recv():
                raise WriterDied(f"the SQLite writer process ended ({self.dead})")

    @staticmethod
    def _value(reply: Reply) -> Any:
        kind, detail = reply
        if kind != "ok":
            raise StorageError(str(detail))
        return detail

    def _readable(self) -> None:
        if self._sock is None or not self._recv():
            return
        for reply in self._frames():
            if self._waiting:
                fut = self._waiting.popleft()
                if self.reply_at is not None:
                    self.reply_at[fut] = time.monotonic()
                if not fut.done():
                    fut.set_result(reply)
        if self.replied is not None:
            self.replied()

    def _fail_waiting(self, exc: StorageError) -> None:
        waiting, self._waiting = self._waiting, collections.deque()
        for fut in waiting:
            if not fut.done():
                fut.set_exception(exc)

    # -- what the storage calls --------------------------------------------------------
    async def lock(self) -> int:
        kind, detail = await self.submit("lock")
        if kind != "ok":
            raise StorageError(str(detail))
        return int(detail)

    def write(self, rows: Any) -> None:
        if rows is not None:
            self.call("write", rows)

    async def commit(self, rows: Any) -> None:
        self._value(await self.submit("commit", rows))

    def rollback(self) -> None:
        if self.dead is None and not self._waiting:
            try:
                self.call("rollback")
            except StorageError:
                pass

    async def close(self) -> None:
        if self.dead is None:
            try:
                await asyncio.wait_for(self.submit("close"), self.timeout)
            except (StorageError, asyncio.TimeoutError):
                pass
        await self._reap()


class WriterThread:
    """The same without a process (``:memory:`` databases, or no process could start): one
    connection, used by one helper thread (lock, commit) and by the event loop (the
    transaction's queries)."""

    def __init__(self, conn: sqlite3.Connection, path: str | None = None) -> None:
        self.conn = conn
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ocs-sqlite")
        self.dead: str | None = None
        #: the file, at synchronous=FULL: a transaction that changed nothing still syncs
        #: its WAL before it is reported (what it read may be another process's commit not
        #: synced yet, see :mod:`.sqlite_sync`); one that changed rows was synced by SQLite
        self.path = path
        self._changes = 0

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _lock(self) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        self._changes = self.conn.total_changes
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    async def lock(self) -> int:
        try:
            return int(await self._in_thread(self._lock))
        except sqlite3.Error as exc:
            self.rollback()
            raise StorageError(str(exc)) from exc

    def write(self, rows: Any) -> None:
        sqlite_rows.write_rows(self.conn, rows)

    def _commit(self, rows: Any) -> None:
        sqlite_rows.write_rows(self.conn, rows)
        self.conn.execute("COMMIT")
        if self.path is not None and self.conn.total_changes == self._changes:
            try:
                sqlite_sync.sync_wal(self.path)
            except OSError as exc:  # nothing of this transaction was written: it can run again
                raise StorageError(f"cannot sync the WAL of {self.path}: {exc}") from exc

    async def commit(self, rows: Any) -> None:
        await self._in_thread(self._commit, rows)

    def rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    async def close(self) -> None:
        await self._in_thread(self.conn.close)
        self._pool.shutdown(wait=False)
