"""Pending-request table: hop-by-hop matching, per-request deadlines, failover."""
from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any

_NONE: tuple[Any, ...] = ()


class PendingTable:
    """Requests sent and not yet answered, grouped by peer.

    ``pop`` is the hot path (one dict lookup per answer). Each entry is one
    record, ``(deadline, sequence number, peer, hop-by-hop id, item)``, held both
    by its peer's dict and by the deadline order: a queue while deadlines come in
    order (the usual case, one timeout for every request: ``add`` appends), a heap
    for the others. Answered records leave the deadline order lazily (a record no
    longer in its peer's dict is skipped), so expiring costs nothing until
    something is due; once the deadline order holds twice the live records (plus a
    margin) it is rebuilt, so it stays proportional to what is pending rather than
    to the request rate times the timeout.
    """

    __slots__ = ("_by_peer", "_queue", "_head", "_last", "_heap", "_count", "_live")

    def __init__(self) -> None:
        self._by_peer: dict[Hashable, dict[int, tuple[Any, ...]]] = {}
        #: records in deadline order from ``_head`` on (``_last``: the deadline of its last one)
        self._queue: list[tuple[Any, ...]] = []
        self._head = 0
        self._last = 0.0
        #: records whose deadline came before the queue's last one
        self._heap: list[tuple[Any, ...]] = []
        self._count = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    @property
    def heap_size(self) -> int:
        """Records in the deadline order, answered ones included (bounded by the rebuild)."""
        return len(self._heap) + len(self._queue) - self._head

    def count(self, peer: Hashable) -> int:
        d = self._by_peer.get(peer)
        return len(d) if d else 0

    def items(self) -> list[tuple[Hashable, int, Any]]:
        """``(peer, hop-by-hop id, item)`` of every pending entry (for introspection)."""
        return [(rec[2], rec[3], rec[4]) for d in self._by_peer.values() for rec in d.values()]

    def add(self, peer: Hashable, hbh: int, deadline: float, item: Any) -> None:
        d = self._by_peer.get(peer)
        if d is None:
            d = self._by_peer[peer] = {}
        if hbh not in d:
            self._live += 1
        self._count += 1
        # one object in both places (typed as a tuple of any length: compiled, a fixed-length
        # tuple would be unboxed and boxed again, a second object)
        rec: tuple[Any, ...] = (deadline, self._count, peer, hbh, item)
        d[hbh] = rec
        queue = self._queue
        n = len(queue)
        if deadline >= self._last or self._head == n:
            queue.append(rec)
            self._last = deadline
            n += 1
        else:
            heapq.heappush(self._heap, rec)
        if len(self._heap) + n - self._head > 2 * self._live + 1024:
            self._compact()

    def _is_live(self, rec: tuple[Any, ...]) -> bool:
        d = self._by_peer.get(rec[2])
        return d is not None and d.get(rec[3], _NONE) is rec

    def _compact(self) -> None:
        queue = self._queue
        self._queue = [rec for rec in queue[self._head:] if self._is_live(rec)]
        self._head = 0
        heap = [rec for rec in self._heap if self._is_live(rec)]
        heapq.heapify(heap)
        self._heap = heap

    def pop(self, peer: Hashable, hbh: int) -> Any | None:
        d = self._by_peer.get(peer)
        if d is None:
            return None
        rec = d.pop(hbh, None)
        if rec is None:
            return None
        self._live -= 1
        return rec[4]

    def _first(self) -> tuple[Any, ...]:
        """The live record with the earliest deadline (answered ones before it dropped), or ()."""
        heap = self._heap
        while heap and not self._is_live(heap[0]):
            heapq.heappop(heap)
        queue = self._queue
        head, n = self._head, len(queue)
        while head < n and not self._is_live(queue[head]):
            head += 1
        if head == n and n:
            queue.clear()
            head = n = 0
        self._head = head
        if not heap:
            return queue[head] if head < n else _NONE
        h = heap[0]
        if head == n:
            return h
        q = queue[head]
        # (deadline, sequence number): the order of one heap holding both
        return h if h[0] < q[0] or (h[0] == q[0] and h[1] < q[1]) else q

    def next_deadline(self) -> float | None:
        rec = self._first()
        return rec[0] if rec else None

    def expire(self, now: float) -> list[tuple[Hashable, int, Any]]:
        """Remove and return every entry whose deadline is <= now."""
        out: list[tuple[Hashable, int, Any]] = []
        while True:
            rec = self._first()
            if not rec or rec[0] > now:
                break
            heap = self._heap
            if heap and heap[0] is rec:
                heapq.heappop(heap)
            else:
                self._head += 1
            peer, hbh = rec[2], rec[3]
            del self._by_peer[peer][hbh]
            self._live -= 1
            out.append((peer, hbh, rec[4]))
        if not self._heap and self._head == len(self._queue):
            self._queue.clear()
            self._head = 0
            self._count = 0
        return out

    def take_peer(self, peer: Hashable) -> list[tuple[int, Any]]:
        """Remove and return every entry of a failed peer (for failover)."""
        d = self._by_peer.pop(peer, None)
        if not d:
            return []
        self._live -= len(d)
        return [(hbh, rec[4]) for hbh, rec in d.items()]
