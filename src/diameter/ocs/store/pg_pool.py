"""A lean pool of asyncpg connections for the OCS.

asyncpg's own pool costs about twice a round trip of CPU per acquire/release (measured:
~115 us against ~50 us for a `fetchrow` on a unix socket); the OCS takes a connection
for every request, so it keeps its own: a list of idle connections and a queue of
waiters. Connections carry no session state (no LISTEN, session locks or settings), so
nothing is reset on release; a connection that failed is closed and replaced on demand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class ConnectionPool:
    def __init__(self, url: str, min_size: int, max_size: int,
                 settings: dict[str, str] | None = None) -> None:
        self.url = url
        self.settings = settings  # server settings of every connection (asyncpg's)
        self.min_size = min_size
        self.max_size = max(1, max_size)
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._count = 0  # connections open or being opened
        self._closed = False

    async def open(self) -> None:
        conns = await asyncio.gather(*(self._connect() for _ in range(self.min_size)))
        self._idle.extend(conns)

    async def _connect(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]
        self._count += 1
        try:
            return await asyncpg.connect(self.url, server_settings=self.settings)
        except BaseException:
            self._count -= 1
            raise

    async def acquire(self) -> Any:
        if self._closed:
            raise RuntimeError("pool is closed")
        if self._idle:
            return self._idle.pop()
        if self._count < self.max_size:
            return await self._connect()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            conn = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed over just before the cancel
                self.release(fut.result())
            raise
        if conn is None:  # a connection was dropped: open its replacement
            return await self._connect()
        return conn

    def release(self, conn: Any, broken: bool = False) -> None:
        if broken or conn.is_closed() or conn.is_in_transaction():
            self._count -= 1
            conn.terminate()
            conn = None
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        if conn is not None:
            if self._closed:
                self._count -= 1
                conn.terminate()
            else:
                self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for fut in self._waiters:
            if not fut.done():
                fut.cancel()
        await asyncio.gather(*(c.close() for c in idle), return_exceptions=True)
        self._count -= len(idle)
