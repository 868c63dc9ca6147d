"""Hand-offs between user threads and the threaded ``Node``'s event loop thread.

:func:`new_event_loop` is the loop the background thread runs; :class:`Inbox` carries
calls from other threads into it in batches; :class:`Waiter` is a blocked thread's
request, woken when the loop thread resolves it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio.node import DiameterNode

__all__ = ["Inbox", "Waiter", "new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop the background thread runs: uvloop's when it is installed
    (``pip install diameter[fast]``) and ``DIAMETER_NO_UVLOOP`` is not set."""
    if not os.environ.get("DIAMETER_NO_UVLOOP"):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Inbox:
    """Calls from other threads into the loop thread, run in batches.

    Posting wakes the loop only when no batch is already scheduled, and the
    node's writes are held while a batch runs, so requests (or answers) that
    several threads hand over at once share one wake-up and one write.
    """

    __slots__ = ("_loop", "_node", "_items", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, node: DiameterNode) -> None:
        self._loop = loop
        self._node = node
        self._items: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._scheduled = False

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self._items.append((fn, args))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._scheduled = False  # before taking items: a later post schedules a new drain
        items = self._items
        node = self._node
        node.hold_writes()
        try:
            while items:
                fn, args = items.popleft()
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - one failing call must not drop the others
                    logging.getLogger("diameter.node").exception("call from another thread failed")
        finally:
            node.release_writes()


class Waiter:
    """A blocked thread's request: the node resolves it as the request's future (it calls
    ``done``, ``set_result`` and ``set_exception`` on it, in the loop thread), and resolving
    it wakes the thread at once (a lock is cheaper than an asyncio or concurrent Future)."""

    __slots__ = ("_lock", "value", "error", "_done")

    def __init__(self) -> None:
        lock = self._lock = threading.Lock()
        lock.acquire()
        self.value: Any = None
        self.error: BaseException | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return isinstance(self.error, concurrent.futures.CancelledError)

    def set_result(self, value: Any) -> None:
        if self._done:
            raise asyncio.InvalidStateError("answer already given")
        self._done = True
        self.value = value
        self._lock.release()

    def set_exception(self, exception: BaseException) -> None:
        if self._done:
            raise asyncio.InvalidStateError("answer already given")
        self._done = True
        self.error = exception() if isinstance(exception, type) else exception
        self._lock.release()

    def cancel(self, msg: Any = None) -> bool:
        if self._done:
            return False
        self.set_exception(concurrent.futures.CancelledError())
        return True

    def wait(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)
