"""Pending-request table: hop-by-hop matching, per-request deadlines, failover."""
from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any


class PendingTable:
    """Requests sent and not yet answered, grouped by peer.

    ``pop`` is the hot path (one dict lookup per answer); deadlines live in a
    heap with lazy deletion, so expiring costs nothing until something is due.
    Answered entries stay in the heap until it holds twice the live entries
    (plus a margin); then it is rebuilt, so it stays proportional to what is
    pending rather than to the request rate times the timeout.
    """

    __slots__ = ("_by_peer", "_heap", "_count", "_live")

    def __init__(self) -> None:
        self._by_peer: dict[Hashable, dict[int, tuple[float, Any]]] = {}
        self._heap: list[tuple[float, int, Hashable, int]] = []
        self._count = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    @property
    def heap_size(self) -> int:
        """Heap slots in use, answered ones included (bounded by the rebuild)."""
        return len(self._heap)

    def count(self, peer: Hashable) -> int:
        d = self._by_peer.get(peer)
        return len(d) if d else 0

    def add(self, peer: Hashable, hbh: int, deadline: float, item: Any) -> None:
        d = self._by_peer.get(peer)
        if d is None:
            d = self._by_peer[peer] = {}
        if d.get(hbh) is None:
            self._live += 1
        d[hbh] = (deadline, item)
        self._count += 1
        heap = self._heap
        heapq.heappush(heap, (deadline, self._count, peer, hbh))
        if len(heap) > 2 * self._live + 1024:
            self._compact()

    def _compact(self) -> None:
        by_peer = self._by_peer
        live = []
        for t in self._heap:
            d = by_peer.get(t[2])
            if d is not None:
                entry = d.get(t[3])
                if entry is not None and entry[0] == t[0]:
                    live.append(t)
        heapq.heapify(live)
        self._heap = live

    def pop(self, peer: Hashable, hbh: int) -> Any | None:
        d = self._by_peer.get(peer)
        if d is None:
            return None
        entry = d.pop(hbh, None)
        if entry is None:
            return None
        self._live -= 1
        return entry[1]

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
                self._live -= 1
                out.append((peer, hbh, entry[1]))
        if not heap:
            self._count = 0
        return out

    def take_peer(self, peer: Hashable) -> list[tuple[int, Any]]:
        """Remove and return every entry of a failed peer (for failover)."""
        d = self._by_peer.pop(peer, None)
        if not d:
            return []
        self._live -= len(d)
        return [(hbh, e[1]) for hbh, e in d.items()]
