"""PostgreSQL storage on asyncpg: several server instances share one database.

Money-moving work is group-committed (`pg_batch`): each instance decides on its cache of
the accounts it charges and writes a whole batch in one statement that commits once,
account by account only where the account's version is still the one its decisions were
taken on; the others are read again and decided again. After repeated conflicts, or when
a batch fails in the database, a request runs alone in a transaction that locks its
account row (``SELECT ... FOR UPDATE``, see `pg_fast`). Either way concurrent sessions of
one account, on any instance, are serialised and can never overdraw it, and a request
already recorded (a retransmission answered by another instance) is replayed, never
charged twice. Other work is one transaction on a pooled connection; work that changes
an account outside the money path bumps its version.

The batch's two statements run in a writer process (`pg_writer`, through `pg_link`,
started with the first batch), so asyncpg's encoding and protocol work does not compete
with the event loop for the GIL; ``writer_process=False`` runs them on connections of this
process (`pg_link.PoolLink`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..model import Balance, Outcome
from . import pg_fast, queries, schema
from .base import Storage, StorageError
from .pg_batch import BatchCommitter, Unit
from .pg_batch_sql import LOAD, renumber
from .pg_link import PoolLink, WriterLink
from .pg_pool import ConnectionPool
from .queries import Decide, Query, Target, Work

log = logging.getLogger("diameter.ocs.store")

_MIGRATION_LOCK = 4006_0001
_RECORDED = f"SELECT {pg_fast.recorded('$1', '$2')}"


@contextlib.asynccontextmanager
async def _borrow(pool: ConnectionPool) -> AsyncIterator[Any]:
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        pool.release(conn)  # a closed connection, or one left in a transaction, is dropped


class PostgresStorage(Storage):
    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 40,
                 optimistic_tries: int = 3, batches_in_flight: int = 2,
                 writer_process: bool = True) -> None:
        self.url = url
        self.writer_process = writer_process
        self.optimistic_tries = optimistic_tries
        self.batches_in_flight = batches_in_flight
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None
        self._sql: dict[str, str] = {}
        self.committer: BatchCommitter | None = None
        self.link: WriterLink | PoolLink | None = None

    @property
    def lock_clause(self) -> str:
        return " FOR UPDATE OF a"

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            import asyncpg  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StorageError("PostgreSQL storage needs asyncpg (pip install 'diameter[ocs]')") from exc
        try:
            # connections carry no session state (no LISTEN, no session locks or settings):
            # nothing to reset when one goes back to the pool
            pool = ConnectionPool(self.url, self.min_size, self.max_size)
            await pool.open()
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._pool = pool
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            done = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_version")}
            for version, _ in schema.MIGRATIONS:
                if version in done:
                    continue
                for stmt in schema.statements(version, schema.POSTGRES_TYPES):
                    await conn.execute(stmt)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
                log.info("ocs postgres: schema version %d applied", version)
        # the writer process starts with the first batch, or with `warm` (a server's start):
        # commands that charge nothing never start one
        link = WriterLink(self.url) if self.writer_process else PoolLink(self.url, self.max_size)
        self.link = link
        self.committer = BatchCommitter(link, self._locked, max_tries=self.optimistic_tries,
                                        max_inflight=self.batches_in_flight)

    async def warm(self) -> None:
        """Start the writer process (or open a connection of `PoolLink`'s pool) and run the
        batch's `LOAD` once on nothing: its first run on a fresh connection prepares the
        statement and reads the types it uses, about 0.3 s that the first batch of a
        server would otherwise wait (session 19's trace)."""
        if self.link is not None:
            await self.link.fetch(LOAD, [], [], [], [], [])

    async def close(self) -> None:
        batch, self.committer = self.committer, None
        if batch is not None:
            await batch.close()  # writes what is queued
        link, self.link = self.link, None
        if link is not None:
            await link.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _conn(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return _borrow(self._pool)

    def _q(self, sql: str) -> str:
        out = self._sql.get(sql)
        if out is None:
            out = self._sql[sql] = renumber(sql)
        return out

    async def _drive(self, conn: Any, work: Work) -> Any:
        try:
            query: Query = next(work)
            while True:
                sql, args, mode = query
                text = self._q(sql)
                if mode == "many":
                    await conn.executemany(text, args)
                    result: Any = None
                elif mode == "exec":
                    await conn.execute(text, *args)
                    result = None
                elif mode == "one":
                    result = await conn.fetchrow(text, *args)
                else:
                    result = await conn.fetch(text, *args)
                query = work.send(result)
        except StopIteration as stop:
            return stop.value

    async def _run(self, work: Callable[[], Work], *, lock: bool = False) -> Any:
        return await self._with_conn(lambda conn: self._drive(conn, work()))

    async def transact(self, target: Target, decide: Decide, key: tuple[str, int] | None = None,
                       now: float | None = None, scope: str | None = None) -> Outcome | None:
        """Queued for the instance's next group commit (see `pg_batch`)."""
        ts = time.time() if now is None else now
        if self.committer is None:
            raise StorageError("storage is not open")
        out: Outcome | None = await self.committer.submit(target, decide, key, ts, scope)
        return out

    def transact_then(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
                      scope: str | None, then: Callable[[Outcome | None, BaseException | None], None]) -> None:
        """:meth:`transact` without a future: ``then(outcome, None)`` once the outcome is
        committed (``then(None, error)`` if it fails: `StorageError`, also when the batch's
        outcome is unknown), called from the committer. Raises `StorageError` at once when
        the storage is not open. Must be called on the event loop that opened the storage."""
        committer = self.committer
        if committer is None:
            raise StorageError("storage is not open")
        committer.submit_then(target, decide, key, now, scope, then)

    async def recorded(self, key: tuple[str, int]) -> Outcome | None:
        """A request's recorded outcome, in either of its forms (`pg_fast.replay`)."""
        async def read(conn: Any) -> Outcome | None:
            row = await conn.fetchrow(_RECORDED, key[0], key[1])
            return pg_fast.replay(row[0], row[1])
        out: Outcome | None = await self._with_conn(read, transaction=False)
        return out

    async def _locked(self, unit: Unit) -> Outcome | None:
        """One unit alone, in a transaction holding its account's row lock."""
        while True:
            out = await self._with_conn(
                lambda conn: pg_fast.transact(conn, unit.target, unit.decide, unit.key, unit.now,
                                              unit.scope, self._drive))
            if out is not pg_fast.CONFLICT:
                return out  # type: ignore[no-any-return]

    async def add_balance(self, account_id: int, balance: Balance, now: float | None = None) -> int:
        """A new balance, and the account's version bumped: every instance reads it again."""
        ts = time.time() if now is None else now

        def work() -> Work:
            bid = yield from queries.add_balance(account_id, balance, ts)
            yield ("UPDATE accounts SET version = version + 1 WHERE id = ?", (account_id,), "exec")
            return bid
        bid = int(await self._run(work))
        if self.committer is not None:
            self.committer.cache.drop(account_id)
        return bid

    async def _with_conn(self, fn: Callable[[Any], Awaitable[Any]], transaction: bool = True) -> Any:
        """Run `fn(connection)` in a transaction (or autocommit), retrying lost races; in a
        task (asyncpg needs one)."""
        if self._pool is None:
            raise StorageError("storage is not open")
        if asyncio.current_task() is None:
            # started eagerly outside a task (the node runs handlers so)
            return await asyncio.ensure_future(self._transaction(fn, transaction))
        return await self._transaction(fn, transaction)

    async def _transaction(self, fn: Callable[[Any], Awaitable[Any]], transaction: bool = True) -> Any:
        import asyncpg
        last: Exception | None = None
        for _attempt in range(5):
            try:
                async with self._conn() as conn:
                    if not transaction:
                        return await fn(conn)
                    async with conn.transaction():
                        return await fn(conn)
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError,
                    asyncpg.SerializationError) as exc:
                # another instance recorded this request first (replayed on retry), or lost a race
                last = exc
                continue
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise StorageError(str(exc)) from exc
        raise StorageError(f"gave up after retries: {last}")
