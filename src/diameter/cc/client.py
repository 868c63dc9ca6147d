"""asyncio credit-control client on a :class:`~diameter.node.aio.DiameterNode`.

``cc = CreditControlClient(node, ...)``; ``session = await cc.start(subscription_id=..., requested=...)``,
``await session.update(used=..., requested=...)``, ``await session.terminate(used=...)``;
``await cc.event(requested_action=..., ...)`` for one-shot events. The session builds every CCR
(Session-Id, CC-Request-Number, Origin/Destination, Auth-Application-Id, Service-Context-Id,
Event-Timestamp); the RFC 4006 client state machines of :mod:`diameter.cc.client_core` decide,
Tx and quota timers run on the event loop, and what the server pushes (RAR, ASR) or what falls due
(final units, validity expiry) arrives through ``on_notice`` and ``session.events()``.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import heapq
import inspect
import itertools
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import Any, Union

from ..message.commands import SessionTerminationRequest
from ..node.aio.node import DiameterNode
from .client_core import (Action, ClientEvent, ClientSession, ClientState, Decision, Notice, Outcome,
                          Send, TERMINATION_LOGOUT)
from .quota import Quota
from .types import (CCFH, DDFH, DIAMETER_UNKNOWN_SESSION_ID, RequestedAction, RequestType, Units)
from .encode import CcrTemplate
from .wire import APP_CC, Usage, parse_cca

log = logging.getLogger("diameter.cc.client")

CMD_RA = 258
CMD_AS = 274
#: what ``used=`` / ``requested=`` accept: units of the session's rating group, units per rating group,
#: or full :class:`~diameter.cc.wire.Usage` entries
UnitsArg = Union[Units, dict[Any, Units], list[Usage], None]
NoticeCallback = Callable[["_Base", Union[Notice, Outcome]], Any]
_EVENTS_MAX = 1024


class _AnswerFuture(asyncio.Future):  # type: ignore[type-arg]
    """The node's future for one CCR, read the moment the node resolves it: the answer reaches the
    session (and the caller's waiter) without a done-callback turn of the event loop. Failures
    (timeouts, peer down, cancel) still go through the loop, as the node may be iterating its
    pending requests then."""

    __slots__ = ("_session", "_number")

    def __init__(self, loop: asyncio.AbstractEventLoop, session: _Base, number: int) -> None:
        super().__init__(loop=loop)
        self._session = session
        self._number = number

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        try:
            self._session._answered(self._number, self)
        except Exception:  # noqa: BLE001 - never into the node's receive path
            log.exception("%s: answer handling failed", self._session.session_id)

    def set_exception(self, exception: Any) -> None:
        super().set_exception(exception)
        self.get_loop().call_soon(self._session._answered, self._number, self)

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg):
            return False
        self.get_loop().call_soon(self._session._answered, self._number, self)
        return True


def _usages(requested: UnitsArg, used: UnitsArg, rg: int | None, reason: int | None = None) -> list[Usage]:
    if (requested is None or type(requested) is Units) and (used is None or type(used) is Units):
        return [] if requested is None and used is None else [Usage(rg, [], requested, used, reason)]
    out: dict[int | None, Usage] = {}

    def get(k: int | None) -> Usage:
        u = out.get(k)
        if u is None:
            u = out[k] = Usage(k, reporting_reason=reason)
        return u
    for arg, attr in ((requested, "requested"), (used, "used")):
        if arg is None:
            continue
        if isinstance(arg, Units):
            setattr(get(rg), attr, arg)
        elif isinstance(arg, dict):
            for k, v in arg.items():
                setattr(get(k), attr, v)
        else:
            for u in arg:
                out[u.rating_group] = u
    return list(out.values())


class _Base:
    """What sessions and events share: sending the core's requests, waiters, notices, the timer."""

    core: ClientSession | ClientEvent
    _is_session = False

    def __init__(self, cc: CreditControlClient, session_id: str, subscription_ids: list[tuple[int, str]],
                 service_context_id: str, top_level: bool, user_name: str | None, extra_avps: list[Any],
                 fields: dict[str, Any] | None = None) -> None:
        self.cc = cc
        self.session_id = session_id
        self.subscription_ids = subscription_ids
        self.service_context_id = service_context_id
        self.top_level = top_level
        self.user_name = user_name
        self.extra_avps = extra_avps
        self.fields = dict(fields or {})
        self._template: CcrTemplate | None = None
        self._waiters: list[tuple[RequestType | None, asyncio.Future[Outcome]]] = []
        self._events: asyncio.Queue[Notice | Outcome] | None = None
        #: the deadline this session has an entry for in the client's timer heap (None: none)
        self._sched_at: float | None = None
        #: every notice and outcome so far (bounded); ``events()`` starts from these
        self.history: collections.deque[Notice | Outcome] = collections.deque(maxlen=_EVENTS_MAX)

    @property
    def state(self) -> ClientState:
        return self.core.state

    def _now(self) -> float:
        return self.cc.node.loop.time()

    def _dispatch(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                self._send(a)
                continue
            if isinstance(a, Outcome):
                self._resolve(a)
            self.history.append(a)
            q = self._events
            if q is not None:
                if q.qsize() >= _EVENTS_MAX:
                    q.get_nowait()
                    log.warning("%s: events not consumed, oldest dropped", self.session_id)
                q.put_nowait(a)
            cb = self.cc.on_notice
            if cb is not None:
                try:
                    r = cb(self, a)
                    if asyncio.iscoroutine(r):
                        self.cc._spawn(r)
                except Exception as exc:  # noqa: BLE001 - the user's callback cannot break the session
                    log.error("on_notice failed: %r", exc)
        if self.core.state is not ClientState.IDLE:
            self._arm()
        else:
            self._sched_at = None  # its heap entry, if any, is now stale
            if self._waiters:
                self._release_waiters()
            if self._is_session:
                self.cc.sessions.pop(self.session_id, None)
        if not self._is_session and self.core.stored is not None and self not in self.cc.stored:  # type: ignore[union-attr]
            self.cc._store(self)  # type: ignore[arg-type]

    def _resolve(self, o: Outcome) -> None:
        """Give the outcome to the caller waiting for it (a termination ends every wait)."""
        ending = o.request_type is RequestType.TERMINATION
        for i, (rt, fut) in enumerate(self._waiters):
            if fut.done():
                continue
            if ending or rt is None or rt is o.request_type:
                fut.set_result(o)
                if not ending:
                    del self._waiters[i]
                    return
        if ending:
            self._waiters.clear()

    def _release_waiters(self) -> None:
        """Idle: nobody may wait for an answer that will not come."""
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_result(Outcome(RequestType.TERMINATION, -1, Decision.ENDED, None,
                                       f"session is Idle ({getattr(self.core, 'terminated_reason', '')})"))
        self._waiters.clear()

    def _wait(self, rt: RequestType | None) -> asyncio.Future[Outcome]:
        fut: asyncio.Future[Outcome] = self.cc.node.loop.create_future()
        self._waiters.append((rt, fut))
        return fut

    def _send(self, s: Send) -> None:
        dest = s.server or getattr(self.core, "answered_by", None)
        tpl = self._template
        if tpl is None:
            tpl = self._template = CcrTemplate(
                session_id=self.session_id, origin_host=self.cc.node.origin_host, origin_realm=self.cc.node.realm,
                destination_realm=self.cc.destination_realm, service_context_id=self.service_context_id,
                subscription_ids=self.subscription_ids, user_name=self.user_name,
                auth_app_id=self.cc.application_id, top_level=self.top_level, fields=self.fields,
                extra_avps=self.extra_avps)
        data = tpl.encode(int(s.request_type), s.number, self._fill_used(s), destination_host=dest,
                          requested_action=s.requested_action, termination_cause=s.termination_cause,
                          retransmit=s.retransmit)
        n = s.number
        cc = self.cc
        node = cc.node
        try:
            # raw: the answer comes back as bytes, read by the fast wire readers
            if cc._answer_futures:
                node.request_future(data, timeout=cc.request_timeout, peer=s.server, raw=True,
                                    future=_AnswerFuture(node.loop, self, n))
                return
            fut = node.request_future(data, timeout=cc.request_timeout, peer=s.server, raw=True)
        except Exception as exc:  # noqa: BLE001 - NotRoutable and friends: failure to send
            node.loop.call_soon(self._failed, n, repr(exc))
            return
        fut.add_done_callback(functools.partial(self._answered, n))

    def _fill_used(self, s: Send) -> list[Usage]:
        rep = self.cc.usage_reporter
        if rep is None or s.request_type not in (RequestType.UPDATE, RequestType.TERMINATION):
            return s.usages
        for u in s.usages:
            if u.used is None:
                u.used = rep(self.session_id, u.rating_group)
        return s.usages

    def _answered(self, number: int, fut: asyncio.Future[Any]) -> None:
        try:
            data = fut.result()
        except asyncio.CancelledError:
            self._failed(number, "request cancelled")
            return
        except Exception as exc:  # noqa: BLE001 - RequestTimeout, PeerFailed, NotRoutable: failure to send
            self._failed(number, repr(exc))
            return
        try:
            view = parse_cca(data)
        except Exception as e:  # noqa: BLE001 - an answer we cannot read is a failed answer
            log.warning("%s: unreadable CCA: %r", self.session_id, e)
            self._failed(number, f"unreadable answer: {e!r}")
            return
        self._dispatch(self.core.on_answer(self.cc.node.loop.time(), number, view))

    def _failed(self, number: int, reason: str) -> None:
        self._dispatch(self.core.on_send_failed(self._now(), number, reason))

    def _arm(self) -> None:
        """Make sure the client's timer heap has an entry at or before the core's next deadline
        (an early wake-up is harmless: the core has nothing to do yet and the entry is renewed)."""
        d = self.core.deadline()
        if d is None:
            return
        at = self._sched_at
        if at is not None and at <= d:
            return
        self._sched_at = d
        self.cc._schedule(self, d)

    def _fire(self, now: float) -> None:
        self._sched_at = None
        self._dispatch(self.core.on_timer(now))
        self._arm()

    @property
    def notices(self) -> list[Notice]:
        """The notices so far (RAR, ASR, final units, validity expiry, bad answers, ...)."""
        return [a for a in self.history if isinstance(a, Notice)]

    def _queue(self) -> asyncio.Queue[Notice | Outcome]:
        if self._events is None:
            self._events = asyncio.Queue()
            for a in self.history:
                self._events.put_nowait(a)
        return self._events

    async def events(self) -> AsyncIterator[Notice | Outcome]:
        """Every notice and outcome of the session, from its start, as they happen."""
        q = self._queue()
        while True:
            yield await q.get()


class CCSession(_Base):
    """One session-based credit-control session (CCR-I, CCR-U..., CCR-T)."""

    core: ClientSession
    _is_session = True

    def __init__(self, cc: CreditControlClient, core: ClientSession, rating_group: int | None, **kw: Any) -> None:
        super().__init__(cc, core.session_id, **kw)
        self.core = core
        self.rating_group = rating_group
        #: what the CCR-Initial came to (set before ``start`` returns)
        self.outcome: Outcome = Outcome(RequestType.INITIAL, 0, Decision.ENDED, None, "not started")

    @property
    def quotas(self) -> dict[int | None, Quota]:
        """Per rating group: granted units, consumption, timers, final unit, per-MSCC result."""
        return self.core.quotas

    def _call(self, rt: RequestType, actions: list[Action]) -> asyncio.Future[Outcome]:
        """Dispatch what the core returned for a user request; the future resolves with its outcome."""
        fut = self._wait(rt)
        self._dispatch(actions)
        if not fut.done():
            st = self.core.state
            if st is ClientState.IDLE or st is ClientState.OPEN:
                fut.set_result(Outcome(rt, -1, Decision.ENDED if st is ClientState.IDLE else Decision.GRANTED,
                                       None, "nothing to send"))
            elif rt is RequestType.UPDATE and st is ClientState.PENDING_T:
                fut.set_result(Outcome(rt, -1, Decision.ENDED, None, "session is terminating"))
        if len(self._waiters) > 4:
            self._waiters = [(r, f) for r, f in self._waiters if not f.done()]
        return fut

    async def update(self, used: UnitsArg = None, requested: UnitsArg = None, reason: int | None = None) -> Outcome:
        """CCR-Update reporting ``used`` and asking for ``requested``; returns when decided."""
        usages = _usages(requested, used, self.rating_group, reason)
        return await self._call(RequestType.UPDATE, self.core.update(self.cc.node.loop.time(), usages, reason))

    async def terminate(self, used: UnitsArg = None, cause: int = TERMINATION_LOGOUT) -> Outcome:
        """CCR-Termination reporting ``used``; returns when the session is Idle."""
        usages = _usages(None, used, self.rating_group)
        return await self._call(RequestType.TERMINATION,
                                self.core.terminate(self.cc.node.loop.time(), usages, cause))

    async def session_termination(self, cause: int = TERMINATION_LOGOUT, timeout: float | None = None) -> int:
        """Send a Session-Termination-Request (STR) for a session whose service ends outside credit
        control (after CCFH CONTINUE or CREDIT_CONTROL_NOT_APPLICABLE left it Idle): the server
        closes its side and releases what it reserved. Returns the STA's Result-Code."""
        self._dispatch(self.core.end_outside_cc(self._now()))
        r = SessionTerminationRequest()
        r.header.application_id = self.cc.application_id
        r.session_id = self.session_id
        r.origin_host = self.cc.node.origin_host.encode()
        r.origin_realm = self.cc.node.realm.encode()
        r.destination_realm = self.cc.destination_realm.encode()
        dest = self.core.answered_by or self.core.server
        if dest:
            r.destination_host = dest.encode()
        r.auth_application_id = self.cc.application_id
        r.termination_cause = cause
        ans = await self.cc.node.request(r, timeout=timeout, peer=self.core.server)
        return int(ans.result_code or 0)

    def consume(self, units: Units, rating_group: int | None = None) -> None:
        """Meter usage (of ``rating_group``, default the session's); the CCR that falls due
        (threshold reached, quota used up, final units) is sent."""
        rg = self.rating_group if rating_group is None else rating_group
        self._dispatch(self.core.consume(self._now(), rg, units))


class CCEvent(_Base):
    """One event-based request (CCR-Event) and, when stored, its later resend."""

    core: ClientEvent

    def __init__(self, cc: CreditControlClient, core: ClientEvent, **kw: Any) -> None:
        super().__init__(cc, core.session_id, **kw)
        self.core = core


class CreditControlClient:
    """Credit-control client of a node: sessions, events, RAR/ASR handling, stored events.

    ``servers``: peer identities in order of preference (the first is used; with CC-Session-Failover
    the others take over with the T flag); without it requests are routed by ``destination_realm``.
    """

    def __init__(self, node: DiameterNode, *, destination_realm: str | None = None,
                 servers: list[str] | None = None, service_context_id: str = "32251@3gpp.org",
                 application_id: int = APP_CC, tx: float = 10.0, ccfh: CCFH = CCFH.TERMINATE,
                 ddfh: DDFH = DDFH.TERMINATE_OR_BUFFER, failover: bool = False,
                 request_timeout: float | None = None, on_notice: NoticeCallback | None = None,
                 usage_reporter: Callable[[str, int | None], Units | None] | None = None,
                 max_stored: int = 100_000) -> None:
        self.node = node
        self.destination_realm = destination_realm or node.realm
        self.servers = list(servers or [])
        self.service_context_id = service_context_id
        self.application_id = application_id
        self.tx = tx
        self.ccfh = ccfh
        self.ddfh = ddfh
        self.failover = failover
        self.request_timeout = request_timeout
        self.on_notice = on_notice
        self.usage_reporter = usage_reporter
        self.sessions: dict[str, CCSession] = {}
        #: events stored with the T flag (DDFH TERMINATE_OR_BUFFER, REFUND_ACCOUNT), oldest first
        self.stored: list[CCEvent] = []
        self.max_stored = max_stored
        self.dropped_stored = 0
        self._ids = itertools.count(1)
        self._heap: list[tuple[float, int, _Base]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._tasks: set[asyncio.Task[Any]] = set()
        #: the node takes the answer future to resolve (read at once, no extra loop turn)
        self._answer_futures = "future" in inspect.signature(node.request_future).parameters
        node.add_application(application_id, self._on_request, commands={CMD_RA, CMD_AS})

    # ---- one timer for every session: a heap of (deadline, seq, session) ----------------
    def _schedule(self, item: _Base, when: float) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), item))
        if when < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = when
            self._timer = self.node.loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        heap = self._heap
        now = self.node.loop.time()
        while heap and heap[0][0] <= now:
            when, _, item = heapq.heappop(heap)
            if item._sched_at == when:  # else stale: the session ended or moved its deadline
                item._fire(now)
        if heap and heap[0][0] < self._timer_at:
            self._timer_at = heap[0][0]
            self._timer = self.node.loop.call_at(self._timer_at, self._tick)

    def _store(self, e: CCEvent) -> None:
        """Keep an event stored with the T flag for :meth:`send_stored` (bounded by ``max_stored``)."""
        if len(self.stored) >= self.max_stored:
            dropped = self.stored.pop(0)
            self.dropped_stored += 1
            log.error("stored requests over %d: %s dropped (never charged)", self.max_stored, dropped.session_id)
        self.stored.append(e)

    def new_session_id(self) -> str:
        return f"{self.node.origin_host};{self.node.state_id};{next(self._ids)}"

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _subs(self, subscription_id: Any) -> list[tuple[int, str]]:
        if subscription_id is None:
            return []
        if isinstance(subscription_id, str):
            return [(0, subscription_id)]  # END_USER_E164
        if isinstance(subscription_id, tuple):
            return [subscription_id]
        return list(subscription_id)

    async def start(self, *, subscription_id: Any = None, requested: UnitsArg = None,
                    rating_group: int | None = None, service_identifiers: list[int] | None = None,
                    service_context_id: str | None = None, user_name: str | None = None,
                    ccfh: CCFH | None = None, tx: float | None = None, extra_avps: list[Any] | None = None,
                    fields: dict[str, Any] | None = None, session_id: str | None = None) -> CCSession:
        """Open a session with a CCR-Initial; returns it once the RFC 4006 client decided.

        ``subscription_id``: an MSISDN string, a (type, data) tuple or a list of them.
        ``requested``: Units (of ``rating_group``; top-level RSU when rating_group is None),
        {rating_group: Units} or a list of Usage. Check ``session.outcome.decision``.
        """
        sid = session_id or self.new_session_id()
        core = ClientSession(sid, tx=self.tx if tx is None else tx, ccfh=self.ccfh if ccfh is None else ccfh,
                             failover=self.failover, servers=self.servers)
        top = rating_group is None and isinstance(requested, Units)
        s = CCSession(self, core, rating_group, subscription_ids=self._subs(subscription_id),
                      service_context_id=service_context_id or self.service_context_id, top_level=top,
                      user_name=user_name, extra_avps=list(extra_avps or []), fields=fields)
        usages = _usages(requested if requested is not None else Units(), None, rating_group)
        for u in usages:
            if service_identifiers and not u.service_identifiers:
                u.service_identifiers = list(service_identifiers)
        self.sessions[sid] = s
        fut = s._wait(RequestType.INITIAL)
        s._dispatch(core.start(s._now(), usages))
        s.outcome = await fut
        return s

    async def event(self, *, requested_action: RequestedAction = RequestedAction.DIRECT_DEBITING,
                    subscription_id: Any = None, requested: UnitsArg = None, used: UnitsArg = None,
                    rating_group: int | None = None, service_context_id: str | None = None,
                    ddfh: DDFH | None = None, tx: float | None = None, user_name: str | None = None,
                    extra_avps: list[Any] | None = None, fields: dict[str, Any] | None = None) -> Outcome:
        """A one-time CCR-Event (direct debit, refund, balance check, price enquiry)."""
        sid = self.new_session_id()
        core = ClientEvent(sid, requested_action, tx=self.tx if tx is None else tx,
                           ddfh=self.ddfh if ddfh is None else ddfh, failover=self.failover, servers=self.servers)
        top = rating_group is None and (isinstance(requested, Units) or isinstance(used, Units))
        e = CCEvent(self, core, subscription_ids=self._subs(subscription_id),
                    service_context_id=service_context_id or self.service_context_id, top_level=top,
                    user_name=user_name, extra_avps=list(extra_avps or []), fields=fields)
        fut = e._wait(None)
        e._dispatch(core.send(e._now(), _usages(requested, used, rating_group)))
        return await fut

    async def send_stored(self) -> list[Outcome]:
        """Send the events stored with the T flag (PendingB); those still failing stay stored."""
        results = []
        for e in list(self.stored):
            if e.core.state is not ClientState.IDLE:
                continue
            fut = e._wait(None)
            e._dispatch(e.core.send_stored(e._now()))
            results.append(await fut)
            if e.core.stored is None:
                self.stored.remove(e)
        return results

    # ---- RAR / ASR from the server ----------------------------------------------------
    async def _on_request(self, msg: Any) -> Any:
        s = self.sessions.get(msg.session_id or "")
        a = msg.to_answer()
        a.session_id = msg.session_id
        a.origin_host = self.node.origin_host.encode()
        a.origin_realm = self.node.realm.encode()
        if s is None or s.core.state is ClientState.IDLE:
            a.result_code = DIAMETER_UNKNOWN_SESSION_ID
            return a
        now = s._now()
        if msg.header.command_code == CMD_RA:
            code, actions = s.core.on_rar(now, msg.rating_group)
        else:
            code, actions = s.core.on_asr(now)
        a.result_code = code
        # the answer goes out first (when this handler returns), then the CCR the RFC asks for
        self.node.loop.call_soon(s._dispatch, actions)
        return a

    async def close(self) -> None:
        """Stop the timers (sessions are not terminated: call ``terminate`` for that)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


__all__ = ["CCEvent", "CCSession", "CreditControlClient", "UnitsArg"]
