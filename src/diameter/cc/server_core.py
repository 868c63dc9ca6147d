"""Sans-IO credit-control server state machine (RFC 4006 §7, server session based and event based).

:class:`ServerCore` keeps one :class:`ServerSession` (Idle/Open) per Session-Id, the Tcc
session-supervision deadlines and a bounded cache of recent answers keyed by
(Session-Id, CC-Request-Number) so a retransmitted CCR is answered once. Every method takes
``now``; nothing here sleeps or does I/O. Compiled with the credit-control readers when built
(mypyc; ``DIAMETER_PURE_PYTHON=1`` runs this source).
"""
from __future__ import annotations

import heapq
import logging
from itertools import islice
from typing import Final
from dataclasses import dataclass
from enum import Enum

from .types import CCRequest, CCResult, RequestType

log = logging.getLogger("diameter.cc.server")


class ServerState(str, Enum):
    IDLE = "Idle"
    OPEN = "Open"


@dataclass(slots=True)
class ServerSession:
    """One credit-control session the server holds open."""
    session_id: str
    peer: str
    origin_host: str
    origin_realm: str
    dialect: str
    state: ServerState = ServerState.OPEN
    last_number: int = -1
    deadline: float = 0.0
    opened_at: float = 0.0
    requests: int = 0


# closing reasons given to on_session_closed
CLOSED_TCC = "tcc_expired"
CLOSED_STR = "session_termination"
CLOSED_ABORT = "abort"
CLOSED_FAILED = "failed"
# (Final: statics when compiled, where a module global is a dict look-up)
_EVENT: Final = RequestType.EVENT
_INITIAL: Final = RequestType.INITIAL
_UPDATE: Final = RequestType.UPDATE


class ServerCore:
    """Server sessions, Tcc and the answer cache; the adapter feeds requests, results and ``now``."""

    def __init__(self, tcc: float = 600.0, answer_cache: int = 65536) -> None:
        self.tcc = tcc
        self.sessions: dict[str, ServerSession] = {}
        self._heap: list[tuple[float, str]] = []
        #: answers by (Session-Id, CC-Request-Number), oldest first (a plain dict: cheaper to
        #: add to than an OrderedDict; `_evict` removes the oldest quarter at once)
        self._answers: dict[tuple[str, int], bytes] = {}
        self._answer_cache = answer_cache
        self._in_progress: set[tuple[str, int]] = set()
        #: sessions closed (STR, abort, Tcc) while one of their requests was in the handler:
        #: that request's late success must not open them again
        self._closed_busy: set[str] = set()

    # ---- duplicates -------------------------------------------------------------
    def cached(self, session_id: str, number: int) -> bytes | None:
        """The answer already sent for this (Session-Id, CC-Request-Number), if kept."""
        return self._answers.get((session_id, number))

    def in_progress(self, session_id: str, number: int) -> bool:
        return (session_id, number) in self._in_progress

    def begin(self, req: CCRequest) -> None:
        self._in_progress.add((req.session_id, req.request_number))

    def abandon(self, req: CCRequest) -> None:
        """The handler failed: nothing is cached, the state is unchanged."""
        self._in_progress.discard((req.session_id, req.request_number))
        if req.session_id in self._closed_busy and not any(k[0] == req.session_id for k in self._in_progress):
            self._closed_busy.discard(req.session_id)

    # ---- transitions --------------------------------------------------------------
    def complete(self, req: CCRequest, res: CCResult, answer: bytes, now: float) -> str | None:
        """Record the answer to ``req`` and move the session (RFC 4006 §7 server table).

        Returns a closing reason when the session went Open -> Idle by a failure
        (the adapter then tells the handler), else None.
        """
        return self.complete_code(req, res.result_code, answer, now)

    def complete_code(self, req: CCRequest, code: int | None, answer: bytes, now: float,
                      key: tuple[str, int] | None = None) -> str | None:
        """:meth:`complete` of a result with this Result-Code (all it reads of the result);
        `key`: ``(req.session_id, req.request_number)`` when the caller has it."""
        if key is None:
            key = (req.session_id, req.request_number)
        self._in_progress.discard(key)
        answers = self._answers
        answers[key] = answer
        if len(answers) > self._answer_cache:
            self._evict()
        rtype = req.request_type
        if rtype is _EVENT:
            return None  # event based: Idle -> Idle
        # (each of the request's fields read once: compiled, a read is a generic look-up)
        sid, number = key
        ok = code is not None and 2000 <= code < 3000  # is_success, inline
        sessions = self.sessions
        s = sessions.get(sid)
        if s is None and sid in self._closed_busy:
            if not any(k[0] == sid for k in self._in_progress):
                self._closed_busy.discard(sid)
            return None
        if rtype is _INITIAL or rtype is _UPDATE:
            if ok:
                peer = req.peer
                if s is None:
                    # Idle -> Open (an UPDATE in Idle is a session failed over from another server)
                    s = ServerSession(sid, peer, req.origin_host, req.origin_realm, req.dialect,
                                      opened_at=now)
                    sessions[sid] = s
                s.last_number = number
                s.requests += 1
                if peer:
                    s.peer = peer
                if s.deadline != 0.0:  # self._arm(s, now), inline: its heap entry is there
                    s.deadline = now + self.tcc
                else:
                    self._arm(s, now)
                return None
            if s is not None:  # Open -> Idle: update not successfully processed
                del sessions[sid]
                return CLOSED_FAILED
            return None  # Idle -> Idle
        # TERMINATION: Open -> Idle either way, Tcc stopped
        if sid in sessions:
            del sessions[sid]
        return None

    def _evict(self) -> None:
        """Forget the oldest answers: down to three quarters of the cache's size at once (a
        plain dict's oldest key is found by iterating past the ones deleted before: once per
        quarter of the cache, not per answer)."""
        answers = self._answers
        n = len(answers) - self._answer_cache + self._answer_cache // 4
        for key in list(islice(answers, n)):
            del answers[key]

    def close(self, session_id: str) -> ServerSession | None:
        """End a session outside CCR-T (STR, abort): Open -> Idle."""
        s = self.sessions.pop(session_id, None)
        if s is not None:
            self._mark_busy(session_id)
        return s

    def _mark_busy(self, session_id: str) -> None:
        if any(k[0] == session_id for k in self._in_progress):
            self._closed_busy.add(session_id)

    # ---- Tcc --------------------------------------------------------------------------
    def _arm(self, s: ServerSession, now: float) -> None:
        first = s.deadline == 0.0
        s.deadline = now + self.tcc
        if first:  # one heap entry per session; a later deadline is re-pushed when the old one pops
            heapq.heappush(self._heap, (s.deadline, s.session_id))

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`expire` may have work (may be early, never late)."""
        while self._heap:
            when, sid = self._heap[0]
            if sid in self.sessions:
                return when
            heapq.heappop(self._heap)
        return None

    def expire(self, now: float) -> list[ServerSession]:
        """Sessions whose Tcc ran out (Open -> Idle, release reserved units)."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, sid = heapq.heappop(self._heap)
            s = self.sessions.get(sid)
            if s is None:
                continue
            if s.deadline > now:
                heapq.heappush(self._heap, (s.deadline, sid))
                continue
            del self.sessions[sid]
            self._mark_busy(sid)
            log.info("session %s: Tcc expired, closed", sid)
            out.append(s)
        return out
