"""Pending-request table: hop-by-hop matching, per-request deadlines, failover."""
from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any

#: an entry, and its deadline in the deadline order: [deadline, sequence number, peer,
#: hop-by-hop id, item]. The table maps the identifier to this very list; an entry answered,
#: expired, taken or replaced has its item set to None (items are never None), so that its
#: deadline, which may wait in the order a while, is known to be gone without a look-up.
#: (A list: an answered entry's item is let go at once; ordered as the tuple would be, by
#: deadline then sequence number, which is unique.)
_Due = list[Any]


class PendingTable:
    """Requests sent and not yet answered, grouped by peer.

    ``pop`` is the hot path (one dict lookup per answer). The deadlines are kept
    in order apart from the entries: in a queue while they come in order (the
    usual case, one timeout for every request: ``add`` appends), in a heap for
    the others. Answered entries leave that order lazily (a deadline whose entry
    is gone or was replaced is skipped), so expiring costs nothing until something
    is due; the answer to the oldest request (the usual case: answers come in
    order) moves the queue's head past it and the answered ones after it. Once
    the order holds twice the live entries (plus a margin) it is rebuilt, so it
    stays proportional to what is pending rather than to the request rate times
    the timeout.
    """

    __slots__ = ("_by_peer", "_queue", "_head", "_last", "_heap", "_count", "_live")

    def __init__(self) -> None:
        self._by_peer: dict[Hashable, dict[Any, _Due]] = {}
        #: deadlines in order from ``_head`` on (``_last``: the last one's)
        self._queue: list[_Due] = []
        self._head = 0
        self._last = 0.0
        #: deadlines that came before the queue's last one
        self._heap: list[_Due] = []
        self._count = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    @property
    def heap_size(self) -> int:
        """Deadlines held, answered ones included (bounded by the rebuild)."""
        return len(self._heap) + len(self._queue) - self._head

    def count(self, peer: Hashable) -> int:
        d = self._by_peer.get(peer)
        return len(d) if d else 0

    def items(self) -> list[tuple[Hashable, int, Any]]:
        """``(peer, hop-by-hop id, item)`` of every pending entry (for introspection)."""
        return [(peer, hbh, e[4]) for peer, d in self._by_peer.items() for hbh, e in d.items()]

    def add(self, peer: Hashable, hbh: Hashable, deadline: float, item: Any) -> None:
        if item is None:   # (None marks a gone entry; pop returns None for none)
            raise ValueError("a pending item cannot be None")
        d = self._by_peer.get(peer)
        if d is None:
            d = self._by_peer[peer] = {}
        # the identifier as given (a boxed int: no copy when compiled); one list is both
        # the entry and its place in the order
        h: Any = hbh
        self._count += 1
        due: _Due = [deadline, self._count, peer, h, item]
        old = d.get(h)
        d[h] = due
        if old is None:
            self._live += 1
        else:   # replaced: its deadline is gone
            old[4] = None
        queue = self._queue
        n = len(queue)
        if deadline >= self._last or self._head == n:
            queue.append(due)
            self._last = deadline
            n += 1
        else:
            heapq.heappush(self._heap, due)
        if len(self._heap) + n - self._head > 2 * self._live + 1024:
            self._compact()

    def _is_live(self, due: _Due) -> bool:
        return due[4] is not None

    def _compact(self) -> None:
        self._queue = [due for due in self._queue[self._head:] if self._is_live(due)]
        self._head = 0
        heap = [due for due in self._heap if self._is_live(due)]
        heapq.heapify(heap)
        self._heap = heap

    def pop(self, peer: Hashable, hbh: Hashable) -> Any | None:
        d = self._by_peer.get(peer)
        if d is None:
            return None
        due = d.get(hbh)
        if due is None:
            return None
        del d[hbh]   # (not d.pop(hbh, None): compiled, that is a generic method call)
        self._live -= 1
        item = due[4]
        due[4] = None   # its deadline may stay in the order a while: not the item
        queue = self._queue
        head = self._head
        n = len(queue)
        if head < n and queue[head] is due:
            # the oldest request answered: the head moves past it and the answered ones after it
            head += 1
            while head < n and queue[head][4] is None:   # (answered: not live)
                head += 1
            if head == n:
                queue.clear()
                head = 0
            elif head >= 1024 and 2 * head >= n:   # what is behind the head goes, now and then
                del queue[:head]
                head = 0
            self._head = head
        return item

    def _first(self) -> int:
        """Where the earliest live deadline is: 1 the heap's top, 2 the queue's head, 0 none
        (deadlines of answered entries before it dropped)."""
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
            return 2 if head < n else 0
        if head == n:
            return 1
        h, q = heap[0], queue[head]
        # (deadline, sequence number): the order of one heap holding both
        return 1 if h[0] < q[0] or (h[0] == q[0] and h[1] < q[1]) else 2

    def next_deadline(self) -> float | None:
        where = self._first()
        if where == 0:
            return None
        return self._heap[0][0] if where == 1 else self._queue[self._head][0]

    def expire(self, now: float) -> list[tuple[Hashable, int, Any]]:
        """Remove and return every entry whose deadline is <= now."""
        out: list[tuple[Hashable, int, Any]] = []
        while True:
            where = self._first()
            if where == 0:
                break
            if where == 1:
                due = self._heap[0]
                if due[0] > now:
                    break
                heapq.heappop(self._heap)
            else:
                due = self._queue[self._head]
                if due[0] > now:
                    break
                self._head += 1
            peer, hbh = due[2], due[3]
            item = due[4]
            due[4] = None
            del self._by_peer[peer][hbh]
            self._live -= 1
            out.append((peer, hbh, item))
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
        out = [(hbh, e[4]) for hbh, e in d.items()]
        for e in d.values():
            e[4] = None
        return out
