"""Duplicate detection on receipt (RFC 6733 §6.1.2, End-to-End + Origin-Host)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

#: returned by :meth:`DuplicateCache.check` for a request being processed
IN_PROGRESS = b""

#: copies of one request that wait for its answer at most (more are dropped)
MAX_WAITERS = 8


class _Entry:
    __slots__ = ("expires", "answer", "waiters")

    def __init__(self, expires: float) -> None:
        self.expires = expires
        self.answer: bytes = IN_PROGRESS
        self.waiters: list[Any] | None = None


class DuplicateCache:
    """Remember requests seen within ``window`` seconds and their answers.

    ``check`` returns None for a new request (and marks it in progress),
    :data:`IN_PROGRESS` while the first copy is being handled (the copy's
    ``waiter`` is kept and handed back by :meth:`record`, so the copy gets the
    answer when it is ready), or the cached answer bytes.

    Memory is bounded by ``max_entries`` and by ``max_bytes`` of cached
    answers (oldest dropped first); expired entries go in :meth:`trim`, which
    the owner calls on a timer.
    """

    __slots__ = ("window", "max_entries", "max_bytes", "_entries", "_bytes", "_tail", "_tail_host", "_tail_e2e")

    def __init__(self, window: float = 30.0, max_entries: int = 100_000,
                 max_bytes: int = 32 << 20) -> None:
        self.window = window
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: in order of the last touch. An OrderedDict, not a dict: dropping a plain dict's
        #: oldest entry leaves a hole at its front that every later ``next(iter())``
        #: walks over, so a full cache cost O(entries) per request.
        self._entries: OrderedDict[object, _Entry] = OrderedDict()   # (Origin-Host, End-to-End) keys
        self._bytes = 0
        #: the newest entry (last in ``_entries``) and its key, or None: a request answered
        #: before the next one arrives (the common case) is recorded without a look-up or a move
        self._tail: _Entry | None = None
        self._tail_host = b""
        self._tail_e2e = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes of answers held."""
        return self._bytes

    def check(self, origin_host: bytes, e2e: int, now: float, waiter: Any = None) -> bytes | None:
        key: object = (origin_host, e2e)   # (boxed once: compiled, a typed tuple is boxed at each use)
        entries = self._entries
        hit = entries.get(key)
        if hit is not None:
            if hit.expires > now:
                if hit.answer is IN_PROGRESS and waiter is not None:
                    if hit.waiters is None:
                        hit.waiters = [waiter]
                    elif len(hit.waiters) < MAX_WAITERS:
                        hit.waiters.append(waiter)
                return hit.answer
            self._drop(key)
        entry = _Entry(now + self.window)
        entries[key] = entry
        self._tail = entry
        self._tail_host = origin_host
        self._tail_e2e = e2e
        if len(entries) > self.max_entries:
            self._pop_oldest()
        return None

    def add_waiter(self, origin_host: bytes, e2e: int, waiter: Any) -> None:
        """Keep ``waiter`` for the answer of a request being processed (as :meth:`check` does
        with its ``waiter`` for a copy that arrives in progress): :meth:`record` hands it back."""
        hit = self._entries.get((origin_host, e2e))
        if hit is not None and hit.answer is IN_PROGRESS:
            if hit.waiters is None:
                hit.waiters = [waiter]
            elif len(hit.waiters) < MAX_WAITERS:
                hit.waiters.append(waiter)

    def _pop_oldest(self) -> None:
        entry = self._entries.popitem(last=False)[1]
        self._bytes -= len(entry.answer)
        if entry is self._tail:
            self._tail = None

    def record(self, origin_host: bytes, e2e: int, answer: bytes, now: float) -> list[Any]:
        """Keep the answer of a request; returns the copies that wait for it."""
        entries = self._entries
        entry = self._tail
        if entry is None or e2e != self._tail_e2e or origin_host != self._tail_host:
            key = (origin_host, e2e)
            entry = entries.get(key)
            if entry is None:
                return []
            entries.move_to_end(key)   # entries stay in order of their last touch
            self._tail = entry
            self._tail_host = origin_host
            self._tail_e2e = e2e
        # else: the newest entry, last already
        waiters = entry.waiters or []
        entry.waiters = None
        self._bytes += len(answer) - len(entry.answer)
        entry.answer = answer
        entry.expires = now + self.window
        while self._bytes > self.max_bytes and entries:
            self._pop_oldest()
        return waiters

    def forget(self, origin_host: bytes, e2e: int) -> None:
        self._drop((origin_host, e2e))

    def _drop(self, key: object) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.answer)
            if entry is self._tail:
                self._tail = None

    def trim(self, now: float) -> int:
        """Drop expired entries; returns how many went."""
        entries = self._entries
        n = 0
        while entries:
            key, entry = entries.popitem(last=False)
            if entry.expires > now:  # entries are in order of their last touch
                entries[key] = entry
                entries.move_to_end(key, last=False)
                break
            self._bytes -= len(entry.answer)
            if entry is self._tail:
                self._tail = None
            n += 1
        return n
