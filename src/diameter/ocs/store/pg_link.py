"""Where the batched money path's statements run on PostgreSQL: a writer process, or here.

Both offer ``await fetch(sql, *args, json_args=())`` (rows, autocommit) to `pg_batch`;
the values named in `json_args` are stored as JSON text (None stays NULL;
`pg_writer.encode_json`), encoded where the statement is sent:

* `WriterLink` sends the statement's parameters to the child process `pg_writer` (marshal
  over a socket pair) and resolves a future from a reader callback of the event loop when
  the reply comes, so asyncpg's encoding and protocol work is off the event loop's thread;
* `PoolLink` runs the statement on a connection of this process's pool.

Either raises `LinkLost` when the outcome is unknown (connection or process lost: the
statement may have committed), `Recorded` when the outcomes' primary key refused it (a
request's outcome is recorded already) and `StorageError` when the database refused it
otherwise; refused, nothing was written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import Any

from . import pg_writer
from .base import StorageError
from .child_link import ChildLink
from .pg_pool import ConnectionPool

log = logging.getLogger("diameter.ocs.store")
RECV = 1 << 18


class LinkLost(StorageError):
    """The connection or the writer process was lost: what was sent may have committed."""


class Recorded(StorageError):
    """Refused by the outcomes' primary key: a request is recorded already; nothing written."""


class PoolLink:
    """Statements on connections of this process (`pg_pool.ConnectionPool`), with the writer
    process's planner settings (`pg_writer.PLANNER`): a pool of their own, not the storage's."""

    def __init__(self, url: str, size: int) -> None:
        self.pool = ConnectionPool(url, 0, size, settings=pg_writer.PLANNER)

    async def fetch(self, sql: str, *args: Any, json_args: tuple[tuple[Any, ...], ...] = ()) -> list[Any]:
        import asyncpg  # type: ignore[import-untyped]
        values = pg_writer.encode_json(args, json_args) if json_args else args
        conn = await self.pool.acquire()
        broken = False
        try:
            rows: list[Any] = await conn.fetch(sql, *values)
            return rows
        except (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError,
                asyncpg.PostgresConnectionError) as exc:
            broken = True
            raise LinkLost(f"{type(exc).__name__}: {exc}") from exc
        except asyncpg.UniqueViolationError as exc:
            if pg_writer.is_recorded(exc):
                raise Recorded(f"{type(exc).__name__}: {exc}") from exc
            raise
        finally:
            self.pool.release(conn, broken)

    async def close(self) -> None:
        await self.pool.close()


class WriterLink(ChildLink):
    """The child process `pg_writer`; started on first use and again after it died."""

    what = "the PostgreSQL writer process"
    lost = LinkLost
    recv_size = RECV

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        super().__init__(timeout)
        self.url = url
        self._waiting: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._sql: dict[str, int] = {}
        self._next = 1
        self._starting: asyncio.Future[None] | None = None
        self.starts = 0

    async def start(self) -> None:
        if self.dead is None:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        starting = self._starting
        try:
            await asyncio.shield(starting)
        finally:
            if starting.done() and self._starting is starting:
                self._starting = None

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        mine = self._spawn(lambda fd: [sys.executable, "-P", pg_writer.__file__, str(fd), str(os.getpid())])
        self.starts += 1
        self._sql = {}
        ready: asyncio.Future[tuple[str, Any]] = loop.create_future()
        self._waiting[0] = ready
        try:
            await self._handshake(loop, mine, ready, ("url", self.url))
        except StorageError as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc

    async def fetch(self, sql: str, *args: Any, json_args: tuple[tuple[Any, ...], ...] = ()) -> list[Any]:
        for attempt in range(2):
            if self.dead is not None:
                try:
                    await self.start()
                except (OSError, StorageError, asyncio.TimeoutError) as exc:  # nothing was sent
                    log.warning("ocs postgres: the writer process cannot start: %s", exc)
                    raise StorageError(f"the PostgreSQL writer process cannot start: {exc}") from exc
            try:
                key = self._sql.get(sql)
                if key is None:
                    key = self._sql[sql] = len(self._sql) + 1
                    self._send(("sql", key, sql))
                rid, self._next = self._next, self._next + 1
                self._send((rid, key, args, json_args))
            except LinkLost as exc:
                # it died before this request was whole on its socket: nothing of it ran
                if attempt:
                    raise StorageError(str(exc)) from exc
                log.error("ocs postgres: %s: starting a new one", exc)
                continue
            break
        assert self._loop is not None
        fut: asyncio.Future[tuple[str, Any]] = self._loop.create_future()
        self._waiting[rid] = fut  # its reply is read by `_readable`, on this loop, later
        kind, detail = await fut
        if kind == "ok":
            return detail  # type: ignore[no-any-return]
        if kind == "lost":
            raise LinkLost(str(detail))
        if kind == "recorded":
            raise Recorded(str(detail))
        raise StorageError(str(detail))

    # -- the socket ----------------------------------------------------------------------
    def _readable(self) -> None:
        if self._sock is None or not self._recv():
            return
        for rid, kind, detail in self._frames():
            fut = self._waiting.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result((kind, detail))

    def _fail_waiting(self, exc: StorageError) -> None:
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(exc)

    async def close(self) -> None:
        """Let the child finish what it runs (end of file on its socket), then reap it."""
        if self._waiting:
            await asyncio.gather(*list(self._waiting.values()), return_exceptions=True)
        sock = self._sock
        if sock is not None:
            sock.shutdown(socket.SHUT_WR)
        await self._reap()
