"""Sans-IO credit-control client state machines (RFC 4006 §7, client session based and event based).

:class:`ClientSession` (Idle, PendingI, Open, PendingU, PendingT) and :class:`ClientEvent`
(Idle, PendingE, PendingB) take user events, answers, send failures and timer ticks, always with
``now``, and return actions: :class:`Send` (build and send this CCR), :class:`Outcome` (what the
user's pending request came to: granted, continued without an answer, terminated, ...) and
:class:`Notice` (final units, validity expiry, RAR, ASR, a bad answer ...). ``deadline()`` is the
next time :meth:`on_timer` has work. The docs/credit-control.md tables map each RFC transition to
the code here and to its test.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Union

from .quota import Quota, add_units
from .types import (CCFH, DDFH, DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE, DIAMETER_CREDIT_LIMIT_REACHED,
                    DIAMETER_END_USER_SERVICE_DENIED, DIAMETER_SUCCESS, DIAMETER_UNKNOWN_SESSION_ID,
                    DIAMETER_USER_UNKNOWN, FAILOVER_SUPPORTED, FinalUnitAction, ReportingReason,
                    RequestedAction, RequestType, Units, is_success, is_temporary)
from .wire import AnswerView, Usage

log = logging.getLogger("diameter.cc.client")

TERMINATION_LOGOUT = 1            # Termination-Cause DIAMETER_LOGOUT
TERMINATION_ADMINISTRATIVE = 4    # DIAMETER_ADMINISTRATIVE (after ASR)
_DENIED = (DIAMETER_END_USER_SERVICE_DENIED, DIAMETER_USER_UNKNOWN, DIAMETER_CREDIT_LIMIT_REACHED)


class ClientState(str, Enum):
    IDLE = "Idle"
    PENDING_I = "PendingI"
    OPEN = "Open"
    PENDING_U = "PendingU"
    PENDING_T = "PendingT"
    PENDING_E = "PendingE"
    PENDING_B = "PendingB"


class Decision(str, Enum):
    """What a request came to, for the user."""
    GRANTED = "granted"          # successful answer
    CONTINUED = "continued"      # service granted without a successful answer (CCFH/DDFH CONTINUE, 4011, Tx)
    TERMINATED = "terminated"    # terminate the end user's service
    ERROR = "error"              # service error (balance check, price enquiry, failed refund)
    BUFFERED = "buffered"        # stored with the T flag, to be sent later
    ENDED = "ended"              # nothing more to do: the CCR-T is done, or a late failure after Tx expiry


class NoticeKind(str, Enum):
    FINAL_UNIT = "final_unit"                # a grant carries a Final-Unit-Indication
    FINAL_UNIT_ACTION = "final_unit_action"  # final units used: apply TERMINATE / REDIRECT / RESTRICT_ACCESS
    VALIDITY_EXPIRED = "validity_expired"
    QHT_EXPIRED = "quota_holding_time_expired"
    THRESHOLD = "threshold"
    QUOTA_DENIED = "quota_denied"            # per-MSCC Result-Code not 2xxx (e.g. 4012)
    RE_AUTH = "re_auth"
    ABORT = "abort"
    BAD_ANSWER = "bad_answer"
    LATE_ANSWER = "late_answer"
    FAILOVER = "failover"


@dataclass(slots=True)
class Send:
    """Send this CCR now (``retransmit``: set the T flag; ``server``: Destination-Host / peer)."""
    request_type: RequestType
    number: int
    usages: list[Usage]
    retransmit: bool = False
    server: str | None = None
    requested_action: int | None = None
    termination_cause: int | None = None


@dataclass(slots=True)
class Outcome:
    request_type: RequestType
    number: int
    decision: Decision
    result_code: int | None = None
    reason: str = ""
    answer: AnswerView | None = None


@dataclass(slots=True)
class Notice:
    kind: NoticeKind
    rating_group: int | None = None
    detail: object = None


Action = Union[Send, Outcome, Notice]


class _Failover:
    """Which servers a request may still go to (CC-Session-Failover)."""

    def __init__(self, servers: list[str], enabled: bool) -> None:
        self.servers = list(servers)
        self.enabled = enabled
        self.current: str | None = self.servers[0] if self.servers else None
        self.tried: set[str] = set()

    def reset(self) -> None:
        self.tried = {self.current} if self.current else set()

    def alternate(self) -> str | None:
        """Move to an untried server when failover is supported, else None."""
        if not self.enabled:
            return None
        for s in self.servers:
            if s not in self.tried and s != self.current:
                self.tried.add(s)
                self.current = s
                return s
        return None


class _Pending:
    """The request waiting for its answer: its number, copies in flight, Tx."""

    def __init__(self, send: Send, now: float, tx: float) -> None:
        self.send = send
        self.inflight = 1
        self.tx_deadline: float | None = now + tx
        self.tx_expired = False
        self.decided = False


class ClientSession:
    """RFC 4006 client, session based: Idle -> PendingI -> Open <-> PendingU -> PendingT -> Idle."""

    def __init__(self, session_id: str, *, tx: float = 10.0, ccfh: CCFH = CCFH.TERMINATE,
                 failover: bool = False, servers: list[str] | None = None) -> None:
        self.session_id = session_id
        self.tx = tx
        self.ccfh = CCFH(ccfh)
        self.state = ClientState.IDLE
        self.number = -1
        self.pending: _Pending | None = None
        self.quotas: dict[int | None, Quota] = {}
        self.fo = _Failover(servers or [], failover)
        self.answered_by: str | None = None
        self._queued_update: list[Usage] | None = None
        self._queued_reason: int | None = None
        self._queued_terminate: int | None = None
        self.terminated_reason = ""

    # ---- helpers ------------------------------------------------------------------
    @property
    def server(self) -> str | None:
        return self.fo.current

    def _send(self, rt: RequestType, usages: list[Usage], now: float, state: ClientState,
              cause: int | None = None) -> list[Action]:
        self.number += 1
        s = Send(rt, self.number, usages, False, self.fo.current, termination_cause=cause)
        self.pending = _Pending(s, now, self.tx)
        self.fo.reset()
        self.state = state
        return [s]

    def _idle(self, reason: str) -> None:
        self.state = ClientState.IDLE
        self.pending = None
        self.terminated_reason = reason
        for q in self.quotas.values():
            q.validity_deadline = q.qht_deadline = None

    def _usages(self, given: list[Usage] | None, reason: int | None, with_rsu: bool) -> list[Usage]:
        """Given usages plus, per known rating group, its unreported consumption and next request."""
        out: dict[int | None, Usage] = {}
        for u in given or ():
            prev = out.get(u.rating_group)
            if prev is not None:
                prev.used = add_units(prev.used, u.used)
                prev.requested = u.requested or prev.requested
            else:
                out[u.rating_group] = Usage(u.rating_group, list(u.service_identifiers), u.requested, u.used,
                                            u.reporting_reason if u.reporting_reason is not None else reason)
            q = self.quotas.get(u.rating_group)
            if q is not None:
                q.take_consumed()  # an explicit report replaces the metered one
                if u.requested is not None:
                    q.requested = u.requested
        for rg, q in self.quotas.items():
            if rg in out:
                continue
            used = q.take_consumed()
            if used is None and reason is None and not with_rsu:
                continue
            out[rg] = Usage(rg, list(q.service_identifiers), None, used, reason if used is not None or
                            reason is not None else None)
        for u in out.values():
            q = self.quotas.get(u.rating_group)
            if not with_rsu:
                u.requested = None
            elif u.requested is None and q is not None and not q.blocked and q.final_unit is None:
                u.requested = q.requested or Units()
        return list(out.values())

    # ---- user events ----------------------------------------------------------------
    def start(self, now: float, usages: list[Usage]) -> list[Action]:
        """Idle: client requests access/service -> send CCR-I, start Tx -> PendingI."""
        if self.state is not ClientState.IDLE or self.number >= 0:
            raise RuntimeError(f"session {self.session_id} already started ({self.state.value})")
        for u in usages:
            self.quotas[u.rating_group] = Quota(u.rating_group, list(u.service_identifiers), requested=u.requested)
        return self._send(RequestType.INITIAL, [Usage(u.rating_group, list(u.service_identifiers), u.requested,
                                                      None, None) for u in usages], now, ClientState.PENDING_I)

    def update(self, now: float, usages: list[Usage] | None = None,
               reason: int | None = None) -> list[Action]:
        """Change in rating condition / units elapsed / re-authorisation: CCR-U (queued while pending)."""
        st = self.state
        if st is ClientState.OPEN:
            return self._send(RequestType.UPDATE, self._usages(usages, reason, True), now, ClientState.PENDING_U)
        if st in (ClientState.PENDING_I, ClientState.PENDING_U):
            # PendingI/PendingU: change in rating condition -> queue it
            self._queued_update = (self._queued_update or []) + list(usages or [])
            self._queued_reason = reason if reason is not None else self._queued_reason
            return []
        if st is ClientState.PENDING_T:
            return []  # PendingT: change in rating condition -> nothing
        raise RuntimeError(f"session {self.session_id} is {st.value}: no update possible")

    def terminate(self, now: float, usages: list[Usage] | None = None,
                  cause: int = TERMINATION_LOGOUT) -> list[Action]:
        """User service terminated: CCR-T from Open (queued while PendingI/PendingU)."""
        st = self.state
        if st is ClientState.OPEN:
            return self._send(RequestType.TERMINATION, self._usages(usages, ReportingReason.FINAL, False), now,
                              ClientState.PENDING_T, cause)
        if st in (ClientState.PENDING_I, ClientState.PENDING_U):
            if usages:
                self._queued_update = (self._queued_update or []) + list(usages)
            self._queued_terminate = cause
            return []
        return []  # PendingT or Idle: already ending / ended

    def consume(self, now: float, rating_group: int | None, units: Units) -> list[Action]:
        """Meter usage of a rating group; sends the CCR that becomes due (threshold, exhausted, final units)."""
        q = self.quotas.get(rating_group)
        if q is None:
            q = self.quotas[rating_group] = Quota(rating_group)
        due = q.consume(units, now)
        if due is None or self.state is not ClientState.OPEN:
            return []
        if due == "threshold":
            return [Notice(NoticeKind.THRESHOLD, rating_group)] + self.update(now, None, ReportingReason.THRESHOLD)
        fu = q.final_unit
        if fu is None:  # Open: granted unit elapses, no FUI -> CCR-U
            return self.update(now, None, ReportingReason.QUOTA_EXHAUSTED)
        out: list[Action] = [Notice(NoticeKind.FINAL_UNIT_ACTION, rating_group, fu)]
        if fu.action is FinalUnitAction.TERMINATE and all(
                x.final_unit is not None and x.final_unit.action is FinalUnitAction.TERMINATE and x.exhausted
                or x.blocked for x in self.quotas.values()):
            # Open: granted unit elapses and final unit action TERMINATE -> terminate service, CCR-T
            return out + [Outcome(RequestType.TERMINATION, self.number + 1, Decision.TERMINATED, None,
                                  "final_unit_terminate")] + self.terminate(now)
        # REDIRECT / RESTRICT_ACCESS (or other rating groups still going): report with CCR-U
        return out + self.update(now, None, ReportingReason.FINAL)

    # ---- answers and failures ----------------------------------------------------------
    def on_answer(self, now: float, number: int, view: AnswerView) -> list[Action]:
        """The CCA for the request numbered ``number`` (matched by the node's hop-by-hop id)."""
        p = self.pending
        if p is None or number != p.send.number:
            return [Notice(NoticeKind.LATE_ANSWER, None, (number, view.result_code))]
        p.inflight -= 1
        problem = None
        if view.session_id != self.session_id:
            problem = f"unknown Session-Id {view.session_id!r}"
        elif view.request_number != number:
            problem = f"CC-Request-Number {view.request_number} does not match {number}"
        elif view.result_code is None:
            problem = "missing Result-Code"
        if problem is not None:
            log.warning("session %s: bad CCA: %s", self.session_id, problem)
            out: list[Action] = [Notice(NoticeKind.BAD_ANSWER, None, problem)]
            if p.inflight > 0:
                return out  # another copy (failover) may still be answered
            return out + self._failed(now, None, problem, view)
        return self._answered(now, view)

    def _answered(self, now: float, view: AnswerView) -> list[Action]:
        p = self.pending
        assert p is not None
        rt, n, rc = p.send.request_type, p.send.number, view.result_code
        if view.ccfh is not None:
            try:
                self.ccfh = CCFH(view.ccfh)
            except ValueError:
                log.warning("session %s: unknown CCFH %r ignored", self.session_id, view.ccfh)
        if view.failover is not None:
            self.fo.enabled = view.failover == FAILOVER_SUPPORTED
        if rt is RequestType.TERMINATION:  # PendingT: any answer -> Idle
            self._idle("terminated")
            return [Outcome(rt, n, Decision.ENDED, rc, "answer", view)]
        if is_success(rc):
            if view.origin_host:
                self.answered_by = view.origin_host
                if view.origin_host in self.fo.servers:
                    self.fo.current = view.origin_host
            self.state = ClientState.OPEN  # PendingI/PendingU: successful answer -> stop Tx, Open
            self.pending = None
            out: list[Action] = [Outcome(rt, n, Decision.GRANTED, rc, "answer", view)]
            out += self._apply(now, view)
            return out + self._dequeue(now)
        if is_temporary(rc):
            return self._failed(now, rc, f"temporary error {rc}", view, temporary=True)
        return self._failed(now, rc, f"failed answer {rc}", view)

    def _apply(self, now: float, view: AnswerView) -> list[Action]:
        out: list[Action] = []
        for g in view.grants:
            q = self.quotas.get(g.rating_group)
            if q is None:
                q = self.quotas[g.rating_group] = Quota(g.rating_group)
            q.apply(g, now, view.validity_time)
            if q.blocked:
                out.append(Notice(NoticeKind.QUOTA_DENIED, g.rating_group, g.result_code))
            if g.final_unit is not None:
                out.append(Notice(NoticeKind.FINAL_UNIT, g.rating_group, g.final_unit))
        if view.final_unit is not None and not any(g.final_unit for g in view.grants):
            out.append(Notice(NoticeKind.FINAL_UNIT, None, view.final_unit))
        return out

    def _dequeue(self, now: float) -> list[Action]:
        """Open with queued events: termination first, then a changed rating condition."""
        if self._queued_terminate is not None:
            cause, self._queued_terminate = self._queued_terminate, None
            usages, self._queued_update = self._queued_update, None
            return self.terminate(now, usages, cause)
        if self._queued_update is not None:
            usages, self._queued_update = self._queued_update, None
            reason, self._queued_reason = self._queued_reason, None
            return self.update(now, usages, reason)
        return []

    def _failover(self, now: float, p: _Pending) -> list[Action]:
        alt = self.fo.alternate()
        if alt is None:
            return []
        s = Send(p.send.request_type, p.send.number, p.send.usages, True, alt, p.send.requested_action,
                 p.send.termination_cause)
        p.send = s
        p.inflight += 1
        p.tx_deadline = now + self.tx
        return [Notice(NoticeKind.FAILOVER, None, alt), s]

    def _failed(self, now: float, rc: int | None, reason: str, view: AnswerView | None,
                temporary: bool = False) -> list[Action]:
        """Failure to send, temporary error or failed answer in PendingI/PendingU/PendingT."""
        p = self.pending
        assert p is not None
        rt, n = p.send.request_type, p.send.number
        if temporary:
            fo = self._failover(now, p)
            if fo:
                return fo
        if p.inflight > 0:
            return []  # a failed-over copy is still out
        if rt is RequestType.TERMINATION:
            self._idle("terminated")
            return [Outcome(rt, n, Decision.ENDED, rc, reason, view)]
        if rc == DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE:
            self._idle("not_applicable")
            return [Outcome(rt, n, Decision.CONTINUED, rc, "credit control not applicable", view)]
        if rc in _DENIED:
            self._idle("denied")
            return [Outcome(rt, n, Decision.TERMINATED, rc, reason, view)]
        if self.ccfh is CCFH.CONTINUE:
            self._idle("continue")
            return [Outcome(rt, n, Decision.CONTINUED, rc, reason, view)]
        self._idle("failure")
        return [Outcome(rt, n, Decision.TERMINATED, rc, reason, view)]

    def on_send_failed(self, now: float, number: int, reason: str = "failure to send") -> list[Action]:
        """The node could not deliver the request numbered ``number`` (or gave up waiting)."""
        p = self.pending
        if p is None or number != p.send.number:
            return []
        p.inflight -= 1
        return self._failed(now, None, reason, None, temporary=True)

    # ---- timers ---------------------------------------------------------------------
    def deadline(self) -> float | None:
        ds = []
        if self.pending is not None and self.pending.tx_deadline is not None:
            ds.append(self.pending.tx_deadline)
        if self.state is ClientState.OPEN:
            ds += [d for q in self.quotas.values() if (d := q.next_deadline()) is not None]
        return min(ds) if ds else None

    def on_timer(self, now: float) -> list[Action]:
        p = self.pending
        if p is not None and p.tx_deadline is not None and p.tx_deadline <= now:
            p.tx_deadline = None
            return self._tx_expired(now, p)
        if self.state is not ClientState.OPEN:
            return []
        out: list[Action] = []
        reason = None
        for q in self.quotas.values():
            if q.validity_deadline is not None and q.validity_deadline <= now:
                q.validity_deadline = None
                out.append(Notice(NoticeKind.VALIDITY_EXPIRED, q.rating_group))
                reason = ReportingReason.VALIDITY_TIME
            if q.qht_deadline is not None and q.qht_deadline <= now:
                q.qht_deadline = None
                out.append(Notice(NoticeKind.QHT_EXPIRED, q.rating_group))
                reason = ReportingReason.QHT if reason is None else reason
        if reason is not None:  # Open: Validity-Time elapses -> CCR-U, start Tx -> PendingU
            out += self.update(now, None, reason)
        return out

    def _tx_expired(self, now: float, p: _Pending) -> list[Action]:
        rt, n = p.send.request_type, p.send.number
        p.tx_expired = True
        if rt is RequestType.TERMINATION:
            self._idle("terminated")
            return [Outcome(rt, n, Decision.ENDED, None, "Tx expired")]
        if self.ccfh is CCFH.TERMINATE:  # Tx expired, CCFH TERMINATE -> terminate service, Idle
            self._idle("tx_expired")
            return [Outcome(rt, n, Decision.TERMINATED, None, "Tx expired")]
        out = self._failover(now, p)
        if self.ccfh is CCFH.CONTINUE and not p.decided:  # grant service, keep waiting
            p.decided = True
            out.append(Outcome(rt, n, Decision.CONTINUED, None, "Tx expired"))
        return out  # RETRY_AND_TERMINATE: wait for the answer (or the failed-over copy's)

    # ---- server-initiated ---------------------------------------------------------------
    def on_rar(self, now: float, rating_group: int | None = None) -> tuple[int, list[Action]]:
        """RAR: (RAA Result-Code, actions). Open: RAA then CCR-U (FORCED_REAUTHORISATION)."""
        st = self.state
        if st is ClientState.IDLE:
            return DIAMETER_UNKNOWN_SESSION_ID, []
        out: list[Action] = [Notice(NoticeKind.RE_AUTH, rating_group)]
        reason = ReportingReason.FORCED_REAUTHORISATION
        if st is ClientState.OPEN:
            usages = [Usage(rating_group, reporting_reason=reason)] if rating_group is not None else None
            return DIAMETER_SUCCESS, out + self.update(now, usages, reason)
        if st is ClientState.PENDING_I:
            self._queued_update = self._queued_update or []
            self._queued_reason = reason
        return DIAMETER_SUCCESS, out  # PendingU / PendingT: send RAA only

    def on_asr(self, now: float) -> tuple[int, list[Action]]:
        """ASR: (ASA Result-Code, actions). The session ends with a CCR-T reporting the used units."""
        if self.state is ClientState.IDLE:
            return DIAMETER_UNKNOWN_SESSION_ID, []
        out: list[Action] = [Notice(NoticeKind.ABORT)]
        if self.state is ClientState.PENDING_T:
            return DIAMETER_SUCCESS, out
        n = self.number + 1
        out.append(Outcome(RequestType.TERMINATION, n, Decision.TERMINATED, None, "abort"))
        return DIAMETER_SUCCESS, out + self.terminate(now, None, TERMINATION_ADMINISTRATIVE)


class ClientEvent:
    """RFC 4006 client, event based: Idle -> PendingE -> Idle, and PendingB for stored requests."""

    def __init__(self, session_id: str, action: RequestedAction, *, tx: float = 10.0,
                 ddfh: DDFH = DDFH.TERMINATE_OR_BUFFER, failover: bool = False,
                 servers: list[str] | None = None) -> None:
        self.session_id = session_id
        self.action = RequestedAction(action)
        self.tx = tx
        self.ddfh = DDFH(ddfh)
        self.state = ClientState.IDLE
        self.fo = _Failover(servers or [], failover)
        self.pending: _Pending | None = None
        self.stored: Send | None = None   # request kept with the T flag

    def send(self, now: float, usages: list[Usage]) -> list[Action]:
        """Idle: one-time service requested -> CCR-E, start Tx -> PendingE."""
        if self.state is not ClientState.IDLE:
            raise RuntimeError(f"event {self.session_id} is {self.state.value}")
        s = Send(RequestType.EVENT, 0, usages, False, self.fo.current, int(self.action))
        self.pending = _Pending(s, now, self.tx)
        self.fo.reset()
        self.state = ClientState.PENDING_E
        return [s]

    def send_stored(self, now: float) -> list[Action]:
        """Idle with a request in storage -> send it (T flag) -> PendingB."""
        if self.state is not ClientState.IDLE or self.stored is None:
            return []
        self.pending = _Pending(self.stored, now, self.tx)
        self.state = ClientState.PENDING_B
        return [self.stored]

    def deadline(self) -> float | None:
        return self.pending.tx_deadline if self.pending is not None else None

    def _store(self, p: _Pending) -> None:
        s = p.send
        self.stored = Send(s.request_type, s.number, s.usages, True, s.server, s.requested_action)

    def _end(self, decision: Decision, rc: int | None, reason: str, view: AnswerView | None = None,
             state: ClientState = ClientState.IDLE) -> list[Action]:
        self.state = state
        if state is ClientState.IDLE:
            self.pending = None
        return [Outcome(RequestType.EVENT, 0, decision, rc, reason, view)]

    def on_answer(self, now: float, number: int, view: AnswerView) -> list[Action]:
        p = self.pending
        if p is None:
            return [Notice(NoticeKind.LATE_ANSWER, None, (number, view.result_code))]
        p.inflight -= 1
        problem = None
        if view.session_id != self.session_id:
            problem = f"unknown Session-Id {view.session_id!r}"
        elif view.request_number is not None and view.request_number != p.send.number:
            problem = f"CC-Request-Number {view.request_number} does not match {p.send.number}"
        elif view.result_code is None:
            problem = "missing Result-Code"
        if problem is not None:
            out: list[Action] = [Notice(NoticeKind.BAD_ANSWER, None, problem)]
            return out if p.inflight > 0 else out + self._failure(now, None, problem, view, answer=True)
        rc = view.result_code
        if view.ddfh is not None:
            try:
                self.ddfh = DDFH(view.ddfh)
            except ValueError:
                log.warning("event %s: unknown DDFH %r ignored", self.session_id, view.ddfh)
        if self.state is ClientState.PENDING_B:  # PendingB: any answer -> delete request, Idle
            self.stored = None
            return self._end(Decision.GRANTED if is_success(rc) else Decision.ERROR, rc, "stored request answered",
                             view)
        if is_success(rc):  # PendingE: successful answer -> grant service, Idle
            if self.stored is not None and self.action is RequestedAction.REFUND_ACCOUNT:
                self.stored = None  # the refund got through after all
            return self._end(Decision.GRANTED, rc, "answer", view)
        if is_temporary(rc):
            return self._failure(now, rc, f"temporary error {rc}", view, temporary=True)
        return self._failure(now, rc, f"failed answer {rc}", view, answer=True)

    def on_send_failed(self, now: float, number: int = 0, reason: str = "failure to send") -> list[Action]:
        p = self.pending
        if p is None:
            return []
        p.inflight -= 1
        return self._failure(now, None, reason, None, temporary=True)

    def _failure(self, now: float, rc: int | None, reason: str, view: AnswerView | None,
                 temporary: bool = False, answer: bool = False) -> list[Action]:
        p = self.pending
        assert p is not None
        if temporary:
            alt = self.fo.alternate()
            if alt is not None:
                s = Send(p.send.request_type, p.send.number, p.send.usages, True, alt, p.send.requested_action)
                p.send = s
                p.inflight += 1
                p.tx_deadline = now + self.tx
                return [Notice(NoticeKind.FAILOVER, None, alt), s]
        if p.inflight > 0:
            return []
        if self.state is ClientState.PENDING_B:  # PendingB: failure to send / temporary error -> Idle (kept)
            return self._end(Decision.BUFFERED, rc, reason, view)
        act = self.action
        if act in (RequestedAction.CHECK_BALANCE, RequestedAction.PRICE_ENQUIRY):
            return self._end(Decision.ERROR, rc, reason, view)
        if act is RequestedAction.REFUND_ACCOUNT:
            if answer:  # failed answer: indicate service error, delete request
                self.stored = None
                return self._end(Decision.ERROR, rc, reason, view)
            self._store(p)  # failure to send / temporary error: store with T flag
            return self._end(Decision.BUFFERED, rc, reason, view)
        # DIRECT_DEBITING
        if rc == DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE:
            return self._end(Decision.CONTINUED, rc, "credit control not applicable", view)
        if rc in _DENIED:
            if p.tx_expired:  # service already granted at Tx expiry: "-" (nothing more to do)
                return self._end(Decision.ENDED, rc, reason + " after Tx expiry", view)
            return self._end(Decision.TERMINATED, rc, reason, view)
        if self.ddfh is DDFH.CONTINUE:
            return self._end(Decision.CONTINUED, rc, reason, view)
        if p.tx_expired and not answer:  # TERMINATE_OR_BUFFER after Tx expiry: store with T flag
            self._store(p)
            return self._end(Decision.BUFFERED, rc, reason, view)
        if p.tx_expired:  # failed answer after Tx expiry: "-"
            return self._end(Decision.ENDED, rc, reason + " after Tx expiry", view)
        return self._end(Decision.TERMINATED, rc, reason, view)

    def on_timer(self, now: float) -> list[Action]:
        p = self.pending
        if p is None or p.tx_deadline is None or p.tx_deadline > now:
            return []
        p.tx_deadline = None
        p.tx_expired = True
        act = self.action
        if self.state is ClientState.PENDING_B:
            return self._end(Decision.BUFFERED, None, "Tx expired")
        if act in (RequestedAction.CHECK_BALANCE, RequestedAction.PRICE_ENQUIRY):
            return self._end(Decision.ERROR, None, "Tx expired")
        if act is RequestedAction.REFUND_ACCOUNT:  # store with T flag, keep waiting (PendingE)
            self._store(p)
            return [Outcome(RequestType.EVENT, 0, Decision.BUFFERED, None, "Tx expired")]
        # DIRECT_DEBITING: grant service, keep waiting (PendingE)
        return [Outcome(RequestType.EVENT, 0, Decision.CONTINUED, None, "Tx expired")]
