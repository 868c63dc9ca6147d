"""Duplicate detection on receipt (RFC 6733 §6.1.2, End-to-End + Origin-Host)."""
from __future__ import annotations

from collections import OrderedDict

#: returned by :meth:`DuplicateCache.check` for a request being processed
IN_PROGRESS = b""


class DuplicateCache:
    """Remember requests seen within ``window`` seconds and their answers.

    ``check`` returns None for a new request (and marks it in progress),
    :data:`IN_PROGRESS` while the first copy is being handled, or the cached
    answer bytes. Size is bounded by ``max_entries`` (oldest dropped first).
    """

    __slots__ = ("window", "max_entries", "_entries", "_n")

    def __init__(self, window: float = 30.0, max_entries: int = 100_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[bytes, int], tuple[float, bytes]] = OrderedDict()
        self._n = 0

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, origin_host: bytes, e2e: int, now: float) -> bytes | None:
        key = (origin_host, e2e)
        entries = self._entries
        hit = entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        entries[key] = (now + self.window, IN_PROGRESS)
        if hit is not None:
            entries.move_to_end(key)
        self._n += 1
        if len(entries) > self.max_entries or not self._n & 63:
            self._trim(now)
        return None

    def record(self, origin_host: bytes, e2e: int, answer: bytes, now: float) -> None:
        key = (origin_host, e2e)
        if key in self._entries:
            self._entries[key] = (now + self.window, answer)

    def forget(self, origin_host: bytes, e2e: int) -> None:
        self._entries.pop((origin_host, e2e), None)

    def _trim(self, now: float) -> None:
        entries = self._entries
        while len(entries) > self.max_entries:
            entries.popitem(last=False)
        # drop expired entries from the old end (called every 64 inserts)
        for _ in range(128):
            if not entries:
                break
            key, (exp, _a) = next(iter(entries.items()))
            if exp > now:
                break
            del entries[key]
