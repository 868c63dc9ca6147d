"""Requests handed to an application that has not answered them yet (sans-IO).

A handler may return nothing and answer later; one that never does is
reported once its deadline passes, with the command and Session-Id, so an
operator can find it. Entries are kept in deadline order.
"""
from __future__ import annotations

from collections.abc import Hashable

from . import avps as A
from .constants import AVP_SESSION_ID


class UnansweredRequests:
    __slots__ = ("timeout", "_items")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._items: dict[Hashable, tuple[float, int, bytes]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def waiting(self, key: Hashable, now: float, command: int, request: bytes) -> None:
        """The request ``key`` waits for its answer from ``now`` on."""
        items = self._items
        items.pop(key, None)  # re-inserted at the end: deadline order
        items[key] = (now + self.timeout, command, request)

    def answered(self, key: Hashable) -> None:
        self._items.pop(key, None)

    def overdue(self, now: float) -> list[tuple[int, str | None]]:
        """(command, Session-Id) of the requests past their deadline; they are forgotten."""
        items = self._items
        out = []
        while items:
            key = next(iter(items))
            deadline, command, request = items[key]
            if deadline > now:
                break
            del items[key]
            sid = A.find(request, AVP_SESSION_ID)
            out.append((command, None if sid is None else sid.decode("utf-8", "replace")))
        return out
