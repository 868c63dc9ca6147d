"""Pending-request table: hop-by-hop matching, per-request deadlines, failover."""
from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any


class PendingTable:
    """Requests sent and not yet answered, grouped by peer.

    ``pop`` is the hot path (one dict lookup per answer); deadlines live in a
    heap with lazy deletion, so expiring costs nothing until something is due.
    """

    __slots__ = ("_by_peer", "_heap", "_count")

    def __init__(self) -> None:
        self._by_peer: dict[Hashable, dict[int, tuple[float, Any]]] = {}
        self._heap: list[tuple[float, int, Hashable, int]] = []
        self._count = 0

    def __len__(self) -> int:
        return sum(len(d) for d in self._by_peer.values())

    def count(self, peer: Hashable) -> int:
        d = self._by_peer.get(peer)
        return len(d) if d else 0

    def add(self, peer: Hashable, hbh: int, deadline: float, item: Any) -> None:
        d = self._by_peer.get(peer)
        if d is None:
            d = self._by_peer[peer] = {}
        d[hbh] = (deadline, item)
        self._count += 1
        heapq.heappush(self._heap, (deadline, self._count, peer, hbh))

    def pop(self, peer: Hashable, hbh: int) -> Any | None:
        d = self._by_peer.get(peer)
        if d is None:
            return None
        entry = d.pop(hbh, None)
        return None if entry is None else entry[1]

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _n, peer, hbh = heap[0]
            entry = self._by_peer.get(peer, {}).get(hbh)
            if entry is not None and entry[0] == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def expire(self, now: float) -> list[tuple[Hashable, int, Any]]:
        """Remove and return every entry whose deadline is <= now."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _n, peer, hbh = heapq.heappop(heap)
            d = self._by_peer.get(peer)
            if d is None:
                continue
            entry = d.get(hbh)
            if entry is not None and entry[0] == deadline:
                del d[hbh]
                out.append((peer, hbh, entry[1]))
        if not heap:
            self._count = 0
        return out

    def take_peer(self, peer: Hashable) -> list[tuple[int, Any]]:
        """Remove and return every entry of a failed peer (for failover)."""
        d = self._by_peer.pop(peer, None)
        if not d:
            return []
        return [(hbh, e[1]) for hbh, e in d.items()]
