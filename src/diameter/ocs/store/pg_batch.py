"""Group commit of the money path on PostgreSQL: one statement, one commit per batch.

Callers queue units (`submit`); one committer per server instance takes everything
queued, decides each unit in order on the instance's account cache (`pg_cache`; several
requests of one account in a batch chain on its cached state), reads only what the cache
lacks (one `pg_sql.LOAD`), and writes the whole batch with one `pg_sql.WRITE`, which
commits once. A unit is answered only after that statement returned, and only if its
account's writes were in it.

Up to `max_inflight` batches are in the database at once, on separate connections (one
executes while the other waits for its commit to reach the disk), with disjoint accounts:
an account is *busy* from the moment a batch decided on it until that batch's write
returned, and a unit of a busy account waits for the next batch after it. So no batch
ever decides on state another in-flight batch has not committed yet. A batch behind one
already in the database waits for `min_follow` units or `follow_delay` (a batch of two or
three units would take the database's whole fixed cost per batch, and a place).

An account whose version changed since it was cached (another instance, an administrative
command) is not written: it is dropped from the cache and its units are decided again in
the next batch on what is read then. A batch holding a request already recorded is
refused whole (`pg_link.Recorded`): all its accounts go the same way, and the recorded
outcome is replayed instead of charged. A unit that conflicts `max_tries` times, or whose
batch failed in the database, runs alone through `fallback` (a transaction that locks the
account row), so a failing unit fails alone. A retransmission
of a request still in progress here waits for its original; one answered here recently is
replayed from memory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..model import Outcome
from . import pg_batch_sql as pg_sql
from . import pg_trace, queries
from .base import StorageError
from .pg_cache import AccountCache, AccountWrites, account_from_json
from .pg_decide import Then, Unit, answer, answer_written, cached_targets, decide_batch, queue
from .pg_link import LinkLost, Recorded
from .queries import Decide, Target

log = logging.getLogger("diameter.ocs.store")

#: counters, for tests and metrics
STATS = {"batches": 0, "units": 0, "conflicts": 0, "loads": 0, "fallbacks": 0, "recorded": 0}


def _is_connection_error(exc: BaseException) -> bool:
    import asyncpg  # type: ignore[import-untyped]
    return isinstance(exc, (LinkLost, OSError, asyncpg.InterfaceError,
                            asyncpg.ConnectionDoesNotExistError, asyncpg.PostgresConnectionError))


class BatchCommitter:
    def __init__(self, link: Any, fallback: Callable[[Unit], Awaitable[Outcome | None]], *,
                 max_batch: int = 400, max_tries: int = 3, cache: AccountCache | None = None,
                 max_inflight: int = 2, min_follow: int = 8, follow_delay: float = 0.002) -> None:
        self.link = link  # `pg_link`: where LOAD and WRITE run
        self.fallback = fallback
        self.max_batch = max_batch
        self.max_tries = max_tries
        self.max_inflight = max(1, max_inflight)
        # a batch behind one already in the database starts with `min_follow` units, or once
        # `follow_delay` seconds passed since it could have started with fewer
        self.min_follow = min_follow
        self.follow_delay = follow_delay
        self._follow_at: float | None = None
        self.cache = cache if cache is not None else AccountCache()
        self._pending: list[Unit] = []
        self._busy: set[int] = set()  # accounts of the batches in the database
        self._waiting: list[Unit] = []  # units of busy accounts: queued again when one is free
        self._running = 0
        self._inflight: dict[tuple[str, int], Unit] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._side: set[asyncio.Task[Any]] = set()
        self._loop = asyncio.get_running_loop()
        trace = pg_trace.path()  # see pg_trace: nothing of it runs when off
        self._trace = pg_trace.Trace(trace) if trace is not None else None
        self._task = self._loop.create_task(self._run())

    # -- callers -------------------------------------------------------------------------
    def submit(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
               scope: str | None) -> asyncio.Future[Any]:
        """Queue a unit; its future resolves once it is committed (or replayed)."""
        if self._closing:
            raise StorageError("storage is not open")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise StorageError("storage used from another event loop than the one that opened it")
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue(target, decide, key, now, scope, fut)
        return fut

    def submit_then(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
                    scope: str | None, then: Callable[[Any, BaseException | None], None]) -> None:
        """:meth:`submit` with a callback instead of a future: ``then(outcome, None)`` once
        the unit is committed (or replayed), ``then(None, error)`` if it fails; a
        retransmission of an outcome committed here is called back at once."""
        if self._closing:
            raise StorageError("storage is not open")
        if asyncio.get_running_loop() is not self._loop:
            raise StorageError("storage used from another event loop than the one that opened it")
        queue(self._pending, self._inflight, self.cache.recent, target, decide, key, now, scope,
              Then(then))
        wake = self._wake
        if not wake.is_set():
            wake.set()

    def _queue(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
               scope: str | None, fut: asyncio.Future[Any] | Then) -> None:
        queue(self._pending, self._inflight, self.cache.recent, target, decide, key, now, scope, fut)
        wake = self._wake
        if not wake.is_set():
            wake.set()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._task  # returns when nothing is queued or in the database
        while self._side:
            await asyncio.gather(*list(self._side), return_exceptions=True)
        if self._trace is not None:
            self._trace.write()

    # -- answers -------------------------------------------------------------------------
    def done(self, unit: Unit, value: Outcome | None, text: Any = None) -> None:
        """Answer a unit (and its followers); `text`: its outcome as recorded (a JSON text
        or an `Outcome.to_row` list), remembered for retransmissions."""
        answer(unit, value, text, self._inflight, self.cache.recent)

    def failed(self, unit: Unit, exc: BaseException) -> None:
        if unit.key is not None:
            self._inflight.pop(unit.key, None)
        for fut in (unit.fut, *unit.followers):
            if not fut.done():
                fut.set_exception(exc)

    def _alone(self, unit: Unit) -> None:
        """Run a unit through the locking fallback, in a task of its own."""
        STATS["fallbacks"] += 1

        async def run() -> None:
            try:
                out = await self.fallback(unit)
            except Exception as exc:
                self.failed(unit, exc)
                return
            if out is not None and out.account_id is not None:
                self.cache.drop(out.account_id)  # written behind the cache's back
            self.done(unit, out)
        task = asyncio.get_running_loop().create_task(run())
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    # -- the committer -------------------------------------------------------------------
    async def _run(self) -> None:
        loop = self._loop
        while True:
            if (not self._pending or self._running >= self.max_inflight
                    or (self._running and len(self._pending) < self.min_follow and not self._closing
                        and not self._follow_due())):
                if self._closing and not self._pending and not self._running and not self._waiting:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            self._follow_at = None
            batch = self._pending[:self.max_batch]
            del self._pending[:self.max_batch]
            rec = None if self._trace is None else self._trace.taken(batch, self._running, len(self._pending))
            self._running += 1
            task = loop.create_task(self._one(batch, rec))
            self._side.add(task)
            task.add_done_callback(self._side.discard)

    def _follow_due(self) -> bool:
        """Whether a batch of few units may start behind one in the database: not at once
        (it would take the database's fixed cost per batch for a few units, and its place),
        but `follow_delay` after it first could (a timer wakes the committer then)."""
        at = self._follow_at
        now = self._loop.time()
        if at is None:
            at = self._follow_at = now + self.follow_delay
            self._loop.call_at(at, self._wake.set)
            return False
        return now >= at

    async def _one(self, batch: list[Unit], rec: dict[str, Any] | None = None) -> None:
        """One batch, in a task of its own; its units to decide again go first in the queue
        (`rec`: its `pg_trace` record, if tracing)."""
        try:
            again = await self._batch(batch, rec)
        except Exception as exc:  # nothing of the batch was written, or (lost connection) unknown
            self.cache.clear()
            lost = _is_connection_error(exc)
            if not lost:
                log.warning("ocs postgres: batch of %d failed (%s); running its requests alone",
                            len(batch), exc)
            for unit in batch:
                if unit.fut.done():
                    continue
                if lost:
                    self.failed(unit, StorageError(str(exc)))
                else:
                    self._alone(unit)
        else:
            if again:
                self._pending[:0] = again  # first in the next batch
        finally:
            self._running -= 1
            self.cache.trim()
            self._wake.set()

    async def _batch(self, batch: list[Unit], rec: dict[str, Any] | None = None) -> list[Unit]:
        """Decide and write one batch; returns the units to decide again."""
        cache = self.cache
        need = cached_targets(batch, cache.accounts, cache.subs, cache.session_account)
        written: set[int] = set()
        writes: dict[int, AccountWrites] = {}
        try:
            if need:
                await self._load(need)
            # no await between deciding and marking busy
            writes, again = decide_batch(self, batch, cache.accounts, cache.session_account,
                                         self._busy, self._waiting, self.max_tries)
            self._busy.update(writes)
            if rec is not None:
                rec["decided"] = pg_trace.now()
            if writes:
                try:
                    rows = await self.link.fetch(pg_sql.WRITE, *pg_sql.write_args(writes.values()),
                                                 json_args=pg_sql.WRITE_JSON_ARGS)
                except Recorded:
                    # some request is recorded already (which one is not said): nothing was
                    # written; every account of the batch is read again, its units decided
                    # again (a recorded outcome is then replayed)
                    STATS["recorded"] += 1
                else:
                    written = {int(r[0]) for r in rows}
            if rec is not None:
                rec["returned"] = pg_trace.now()
        finally:
            if writes:
                self._busy.difference_update(writes)
                if self._waiting:  # their accounts may be free now
                    again_first, self._waiting = self._waiting, []
                    self._pending[:0] = again_first
        STATS["batches"] += 1
        answered, conflicts = answer_written(writes, written, cache.accounts, self._inflight,
                                             cache.recent)
        STATS["units"] += answered
        if rec is not None:
            pg_trace.Trace.answered(rec, batch)
        for w in conflicts:
            STATS["conflicts"] += 1
            cache.drop(w.account_id)  # changed elsewhere, or a request already recorded: read again
            for unit in w.units:
                unit.tries += 1
                if unit.tries >= self.max_tries:
                    self._alone(unit)
                else:
                    again.append(unit)
        return again

    async def _load(self, need: list[Unit]) -> None:
        """Read what the cache lacks for `need` (one statement), and resolve their targets."""
        STATS["loads"] += 1
        datas: list[str] = []
        sids: list[str] = []
        ids: list[int] = []
        ksids: list[str] = []
        knums: list[int] = []
        for unit in need:
            t = unit.target
            if t.subscriptions:
                datas.extend(data for _typ, data in t.subscriptions)
            elif t.session_id is not None:
                sids.append(t.session_id)
            elif t.account_id is not None:
                ids.append(t.account_id)
            if unit.key is not None:
                ksids.append(unit.key[0])
                knums.append(unit.key[1])
        subs, sessions, outcomes, loaded = await self._fetch_load(datas, sids, ids, ksids, knums)
        by_data = {data: aid for (_typ, data), aid in subs.items()}
        for unit in need:
            if unit.key is not None and unit.key in outcomes:
                unit.replay = outcomes[unit.key]
                continue
            t = unit.target
            aid: int | None = None
            if t.subscriptions:  # as `queries.resolve`: by type and data, else by data alone
                for typ, data in t.subscriptions:
                    aid = subs.get((int(typ), data))
                    if aid is not None:
                        break
                else:
                    for _typ, data in t.subscriptions:
                        aid = by_data.get(data)
                        if aid is not None:
                            break
            elif t.session_id is not None:
                aid = sessions.get(t.session_id)
            elif t.account_id is not None:
                aid = t.account_id if t.account_id in loaded else None
            elif t.name is not None:  # by name: administrative work only
                aid = await _drive(self.link, queries.resolve(t))
                if aid is not None and aid not in self.cache.accounts:
                    await self._fetch_load([], [], [aid], [], [])
            unit.account_id = aid

    async def _fetch_load(self, datas: list[str], sids: list[str], ids: list[int],
                          ksids: list[str], knums: list[int]) -> tuple[Any, ...]:
        cache = self.cache
        subs: dict[tuple[int, str], int] = {}
        sessions: dict[str, int] = {}
        outcomes: dict[tuple[str, int], Any] = {}  # JSON text (format of before 11) or bytes
        loaded: set[int] = set()
        for kind, text in await self.link.fetch(pg_sql.LOAD, datas, sids, ids, ksids, knums):
            row = json.loads(text)
            if kind == 0:
                acc = account_from_json(row)
                aid = acc.snap.account.id
                if aid not in self._busy:  # never under a batch still writing it
                    cache.put(acc)
                loaded.add(aid)
            elif kind == 1:
                subs[(int(row[0]), row[1])] = cache.subs[(int(row[0]), row[1])] = int(row[2])
            elif kind == 2:
                sessions[row[0]] = int(row[1])
            else:
                recorded = row[2] if row[2] is not None else base64.b64decode(row[3])
                outcomes[(row[0], int(row[1]))] = recorded
        return subs, sessions, outcomes, loaded


async def _drive(link: Any, work: queries.Work) -> Any:
    """Run a read-only `queries` generator on a `pg_link` (autocommit)."""
    try:
        query = next(work)
        while True:
            sql, args, mode = query
            rows = await link.fetch(pg_sql.renumber(sql), *args)
            query = work.send((rows[0] if rows else None) if mode == "one" else rows)
    except StopIteration as stop:
        return stop.value
