"""SQLite storage: one file in WAL mode, group commit decided on the event loop, written by
a writer process.

Callers queue their work; a committer task takes everything queued (up to `batch`) as one
batch. Its units are decided on the event loop itself, on the account cache of
:mod:`.sqlite_cache` (what it lacks is read through a read-only connection), and the rows
they decided are sent to the writer process (:mod:`.sqlite_writer`, started by `open` and
ended by `close`; it dies with this process), which begins the transaction (``BEGIN
IMMEDIATE``, which may wait for another writer of the file), checks ``PRAGMA
data_version`` (another writer committed since: the batch is rolled back, the cache dropped,
and the batch decided again inside a transaction of its own), writes the rows and commits
(``synchronous=FULL`` by default). Only its reply, sent after the COMMIT (at FULL after a
sync of the WAL begun after the COMMIT returned: :mod:`.sqlite_sync`), resolves each
caller's future: nothing is reported before it is on disk. Meanwhile the loop decides the
next batches on the cache, which holds the decisions of those being written (up to `depth`
batches are with the writer at once; it commits them in order, those that arrived while it
was committing in one transaction, and its replies are answered in the reader callback that
reads them).

When a batch fails, the writer refuses the batches sent after it (they were decided on
it): they are decided again, and the failed batch's units are run again, each in a
transaction of its own (units are pure functions of what they read, so running one again
is safe): the failing unit fails alone. If the writer process ends, what was with it fails
(`StorageError`: it may or may not have been committed; a retransmission is answered from
the record if it was) and the next batch starts a new one. Batches with other work than
units (account administration, audit) run in one transaction, nothing else in flight.
``:memory:`` databases (no second process can open them) are written by a helper thread,
one batch after the other, and so are files when no writer process can be started.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..model import Outcome
from . import queries, schema, sqlite_trace
from .base import Storage, StorageError, Unit
from .queries import Decide, Query, Target, Work
from .sqlite_cache import RECORDED, SESSION_OWNERS, SESSION_RECORDED, AccountCache, Rows
from .sqlite_link import WriterProcess, WriterThread
from .sqlite_rows import connect

log = logging.getLogger("diameter.ocs.store")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
MIN_SQLITE = (3, 35, 0)  # RETURNING, upserts


def drive(conn: Any, work: Work) -> Any:
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


_Item = tuple[Any, "asyncio.Future[Any] | Unit"]
#: a batch with the writer: its items, its values, the reply's future, its outcome keys
_Flight = tuple[list[_Item], list[Any], "asyncio.Future[tuple[str, Any]]", list[tuple[str, int]]]


class _BeginFailed(Exception):
    """BEGIN IMMEDIATE (or the read after it) failed: nothing of the batch was decided."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class SqliteStorage(Storage):
    """Storage in one SQLite file (``:memory:`` works too, for tests).

    `depth`: batches with the writer process at once (one being committed, the others
    queued behind it, so the writer never waits for the event loop between commits, and
    committed together after it; 4: what bench/ocs.py ran fastest with, see
    :mod:`.sqlite_trace` for the timeline that shows where a batch waits).
    `process=False` writes from a helper thread instead, one batch after the other."""

    def __init__(self, path: str, *, synchronous: str = "FULL", batch: int = 256, depth: int = 4,
                 process: bool = True) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.synchronous = synchronous
        self.batch = batch
        self.depth = max(1, depth)
        self.process = process
        self._writer: WriterProcess | WriterThread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Item] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closing = False
        self._epoch = 0  # bumped when a batch with the writer fails: the ones after it are refused
        self._cache = AccountCache(drive)
        self.commits = 0  # group commits done (for tests and metrics)
        self.units = 0  # units of work committed
        self.ahead = 0  # batches decided while earlier ones were being written
        self.stale = 0  # batches decided again because another writer committed first
        self._rconn: sqlite3.Connection | None = None  # read-only, for deciding ahead (files only)
        self._trace: sqlite_trace.Trace | None = None
        self._flights: collections.deque[_Flight] = collections.deque()

    @property
    def _memory(self) -> bool:
        return self.path in (":memory:", "")

    async def open(self) -> None:
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(1, thread_name_prefix="ocs-sqlite-open")
        writer: WriterProcess | WriterThread | None = None
        try:
            conn = await loop.run_in_executor(pool, self._connect)
            self._rconn = None
            if not self._memory and self.process:  # a second connection would be another database
                try:
                    writer = WriterProcess(self.path, self.synchronous, replied=self._replied)
                    await writer.start()
                except Exception as exc:  # e.g. no Python interpreter to start (embedded)
                    log.warning("ocs sqlite: no writer process (%s): writing from a thread", exc)
                    writer = None
                else:
                    await loop.run_in_executor(pool, conn.close)
                    self._rconn = await loop.run_in_executor(pool, self._reader)
            if writer is None:  # one batch after the other, on this connection
                writer = WriterThread(conn, None if self._memory or self.synchronous != "FULL"
                                      else self.path)
        except BaseException as exc:
            if writer is not None:
                await writer.close()
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        finally:
            pool.shutdown(wait=False)
        self._writer, self._loop = writer, loop
        self._closing = False
        self._cache.forget()
        self._wake = asyncio.Event()
        self._committer = loop.create_task(self._commit_loop())
        trace = sqlite_trace.path()
        if trace is not None:  # see sqlite_trace: nothing of it runs when off
            self._trace = sqlite_trace.Trace.start(self, trace)

    async def close(self) -> None:
        writer = self._writer
        if writer is None:
            return
        self._closing = True
        assert self._wake is not None and self._committer is not None
        self._wake.set()
        await self._committer  # commits what is queued, then ends
        if self._writer is not None:  # the committer may have started a new one
            await self._writer.close()
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None
        self._writer = self._committer = None
        if self._trace is not None:
            self._trace.write()

    def _submit(self, unit: Any) -> asyncio.Future[Any]:
        if self._writer is None or self._closing:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise StorageError("storage used from another event loop than the one that opened it")
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((unit, fut))
        assert self._wake is not None
        self._wake.set()
        return fut

    def transact_then(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
                      scope: str | None, then: Callable[[Outcome | None, BaseException | None], None]) -> None:
        """:meth:`transact` without a future: ``then(outcome, None)`` once the outcome is
        committed (``then(None, error)`` if it fails), called from the committer as its batch
        settles. Raises `StorageError` at once when the storage is not open. Must be called on
        the event loop that opened the storage."""
        self.submit_unit(Unit(target, decide, key, now, scope, then))

    def submit_unit(self, unit: Unit) -> None:
        """:meth:`transact_then` of a unit built by the caller (a `Unit` subclass whose
        ``finished`` is the callback): queued as it is, nothing wraps it."""
        if self._writer is None or self._closing:
            raise StorageError("storage is not open")
        if asyncio.get_running_loop() is not self._loop:
            raise StorageError("storage used from another event loop than the one that opened it")
        unit._done = False
        pending = self._pending
        if not pending:  # the committer waits for work only when none is queued
            wake = self._wake
            assert wake is not None
            wake.set()
        pending.append((unit, unit))

    async def _run(self, work: Callable[[], Work], *, lock: bool = False) -> Any:
        return await self._submit(work)

    async def transact(self, target: Target, decide: Decide, key: tuple[str, int] | None = None,
                       now: float | None = None, scope: str | None = None) -> Outcome | None:
        ts = time.time() if now is None else now
        out: Outcome | None = await self._submit(Unit(target, decide, key, ts, scope))
        return out

    async def prune_outcomes(self, before: float, limit: int = 5000) -> int:
        """Delete recorded outcomes older than `before`, oldest first in the order they were
        written (no index on their time: see schema version 7); returns how many."""
        return int(await self._run(lambda: queries.prune_outcomes_in_order(before, limit)))

    # -- connections -----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or later is needed")
        conn = connect(self.path, self.synchronous)
        self._migrate(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection, used on the event loop to decide batches ahead."""
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

    async def _restart_writer(self) -> None:
        """A new writer process after the last one ended (its connection counts its own
        data_version: the cache starts again empty)."""
        old = self._writer
        assert isinstance(old, WriterProcess)
        self._cache.forget()
        log.error("ocs sqlite: the writer process ended (%s): starting a new one", old.dead)
        new = WriterProcess(self.path, self.synchronous, replied=self._replied)
        self._writer = new
        await new.start()

    # -- the committer --------------------------------------------------------------------
    def _write_ahead(self, rows: Rows | None, version: int | None, epoch: int) -> asyncio.Future[Any]:
        """Send a batch decided before its transaction; its reply's future."""
        writer = self._writer
        assert isinstance(writer, WriterProcess)
        try:
            return writer.submit("batch", epoch, version, rows)
        except StorageError as exc:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            fut.set_exception(exc)
            return fut

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        wake = self._wake
        flights = self._flights  # with the writer, in order
        while True:
            if flights and flights[0][2].done():
                await self._settle(flights)
                continue
            if not self._pending or len(flights) >= self.depth:
                if not flights:
                    if self._closing:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                wake.clear()  # wait for a write to end (it sets `wake`), or for new work
                if not flights[0][2].done():
                    await wake.wait()
                continue
            if self._writer is not None and self._writer.dead is not None:
                if flights:  # they fail (the writer is gone): settle them first
                    await self._drain(flights)
                    continue
                try:
                    await self._restart_writer()
                except Exception as exc:
                    batch, self._pending = self._pending[:self.batch], self._pending[self.batch:]
                    self._fail(batch, StorageError(f"the SQLite writer process cannot start: {exc}"))
                continue
            fast = (self._rconn is not None and self._cache.version is not None
                    and isinstance(self._pending[0][0], Unit))
            if fast and self._cache.full and flights:  # empty it between batches, nothing in flight
                await self._drain(flights)
                continue
            if not fast:  # this batch is run in a transaction of its own, after those in flight
                if flights:
                    await self._drain(flights)
                    continue
                batch, self._pending = self._pending[:self.batch], self._pending[self.batch:]
                await self._serial(batch)
                continue
            if not flights:
                self._cache.trim()
            n = 0
            pending = self._pending
            while n < len(pending) and n < self.batch and isinstance(pending[n][0], Unit):
                n += 1
            batch, self._pending = pending[:n], pending[n:]
            if flights:
                self.ahead += 1
            decide_at = sqlite_trace.now() if self._trace is not None else 0.0
            try:  # decided on the cache, which holds the decisions of the batches in flight
                values = self._decide(batch)
                rows, keys = self._cache.take()
            except Exception as exc:
                self._cache.clear()  # it holds part of this batch
                if flights:
                    self._pending[:0] = batch
                    await self._drain(flights)
                    continue
                await self._one_by_one(batch, exc)
                continue
            if self._trace is not None:
                self._trace.shipped([u for u, _f in batch], decide_at, len(flights), len(self._pending))
            fut = self._write_ahead(rows, self._cache.version, self._epoch)
            if self._trace is not None:
                self._trace.sent()
            fut.add_done_callback(lambda _f: wake.set())
            flights.append((batch, values, fut, keys))

    async def _drain(self, flights: collections.deque[_Flight]) -> None:
        while flights:
            fut = flights[0][2]
            try:
                await asyncio.shield(fut)
            except Exception:  # noqa: BLE001 - looked at by _settle
                pass
            if flights and flights[0][2] is fut:  # not answered by `_replied` meanwhile
                await self._settle(flights)

    def _replied(self) -> None:
        """The writer process's reader callback read replies: the batches at the head
        committed are answered at once, in this callback (no wake-up of the committer
        between the reply and the answers), then the committer is woken for what failed
        and for what waits to be shipped."""
        flights = self._flights
        while flights and flights[0][2].done() and self._reply(flights[0][2])[0] == "ok":
            self._answer(flights.popleft())
        if self._wake is not None:
            self._wake.set()

    def _answer(self, flight: _Flight) -> None:
        """A batch whose COMMIT returned: its units' values go to their callers."""
        batch, values, fut, keys = flight
        self._cache.committed(keys)
        if self._trace is None:
            self._done(batch, values)
        else:
            self._trace.answered(self, fut, batch, values, self._reply(fut)[1])

    async def _settle(self, flights: collections.deque[_Flight]) -> None:
        """The first batch with the writer has its reply: answer its callers, or deal with
        its failure (the writer refuses those sent after it: they are decided again)."""
        flight = flights.popleft()
        batch, values, fut, keys = flight
        kind, detail = self._reply(fut)
        if kind == "ok":
            self._answer(flight)
            return
        if self._trace is not None:
            self._trace.flying.clear()
        later = list(flights)
        flights.clear()
        again: list[_Item] = []
        died = kind == "died"
        for items, vals, f, ks in later:
            try:
                await asyncio.shield(f)
            except Exception:  # noqa: BLE001
                pass
            k, _d = self._reply(f)
            if k == "ok":  # cannot happen (same epoch), but if committed, it is answered
                self._cache.committed(ks)
                self._done(items, vals)
            elif k == "died" or died:
                died = True
                self._fail(items, StorageError(f"the SQLite writer process ended: {_d}"))
            else:
                again.extend(items)
        self._epoch += 1
        self._rollback()
        if kind == "died":
            self._fail(batch, StorageError(f"the SQLite writer process ended: {detail}"))
            self._pending[:0] = again
        elif kind == "stale":  # another writer committed since: decide it again on fresh reads
            self.stale += 1
            self._pending[:0] = again
            await self._serial(batch)
        elif kind == "begin_failed":  # the file is locked or broken: fail the first one only
            self._pending[:0] = batch[1:] + again
            await self._one_by_one(batch[:1], StorageError(str(detail)))
        elif kind == "rejected":
            self._pending[:0] = batch + again
        else:
            self._pending[:0] = again
            await self._one_by_one(batch, StorageError(str(detail)))

    @staticmethod
    def _reply(fut: asyncio.Future[Any]) -> tuple[str, Any]:
        try:
            kind, detail = fut.result()
        except asyncio.CancelledError:
            return "died", "cancelled"
        except Exception as exc:  # the writer process ended
            return "died", str(exc)
        return str(kind), detail

    def _fail(self, batch: list[_Item], exc: Exception) -> None:
        for _w, fut in batch:
            if not fut.done():
                fut.set_exception(exc)

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
        writer = self._writer
        assert writer is not None
        keys = [w.key for w, _f in batch if isinstance(w, Unit) and w.key is not None]
        try:
            version = await writer.lock()
            recorded = {}
            if keys:
                recorded = {(sid, int(n)): text for sid, n, text
                            in writer.conn.execute(RECORDED, (_dumps(keys),))}
        except Exception as exc:
            raise _BeginFailed(exc) from exc
        values = self._units(batch, version, recorded)
        rows, written = self._cache.take()
        await writer.commit(rows)
        self._cache.committed(written)
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

    # -- on the event loop ---------------------------------------------------------------
    def _decide(self, batch: list[_Item]) -> list[Any]:
        """Decide a batch of units before its transaction, reading what the cache lacks
        through the read-only connection (committed state: the batches in flight cannot have
        changed what the cache lacks; a retransmission of one of their units is in `inflight`)."""
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
        recorded: dict[tuple[str, int], str | bytes] = {}
        if new:  # all their outcomes: committed ones from the file, the batch in flight's
            ids = _dumps(list(new))
            for sid, n, text in rconn.execute(SESSION_RECORDED, (ids,)):
                recorded[(sid, int(n))] = text
                new[sid].add(int(n))
            cache.know_owners(rconn.execute(SESSION_OWNERS, (ids,)))
            for sid, n in cache.inflight:
                if sid in new:
                    new[sid].add(n)
            cache.know_recorded(new)
        if keys:
            for sid, n, text in rconn.execute(RECORDED, (_dumps(keys),)):
                recorded[(sid, int(n))] = text
        return [cache.transact(rconn, w.target, w.decide, w.key, w.now, w.scope, recorded) for w, _f in batch]

    def _units(self, batch: list[_Item], version: int,
               recorded: dict[tuple[str, int], str | bytes]) -> list[Any]:
        writer, cache = self._writer, self._cache
        assert writer is not None
        conn = writer.conn
        cache.begin(version)
        values: list[Any] = []
        for work, _fut in batch:
            if isinstance(work, Unit):
                values.append(cache.transact(conn, work.target, work.decide, work.key, work.now,
                                             work.scope, recorded))
            else:  # other work reads and writes the tables: they must be up to date
                cache.flush(writer.write)
                values.append(drive(conn, work()))
                cache.clear()
        return values

    def _rollback(self) -> None:
        self._cache.clear()  # it may hold what is rolled back
        if self._writer is not None:
            self._writer.rollback()

    def _done(self, batch: list[_Item], values: list[Any]) -> None:
        self.commits += 1
        self.units += len(batch)
        for (w, fut), value in zip(batch, values):
            if fut is w:  # a unit with its own completion (it ignores a second one)
                fut.set_result(value)
            elif not fut.done():
                fut.set_result(value)
