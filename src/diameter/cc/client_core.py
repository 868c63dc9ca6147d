"""Sans-IO credit-control client state machine, session based (RFC 4006 §7).

:class:`ClientSession` (Idle, PendingI, Open, PendingU, PendingT) takes user events, answers,
send failures and timer ticks, always with ``now``, and returns actions
(:mod:`diameter.cc.actions`): :class:`Send` (build and send this CCR), :class:`Outcome` (what the
user's pending request came to) and :class:`Notice` (final units, validity expiry, RAR, ASR, a
bad answer ...). ``deadline()`` is the next time :meth:`ClientSession.on_timer` has work. The
event-based machine is :class:`diameter.cc.event_core.ClientEvent`. docs/credit-control.md maps
each RFC transition to the code here and to its test.
"""
from __future__ import annotations

import logging

from .actions import DENIED as _DENIED
from .actions import TERMINATION_ADMINISTRATIVE as TERMINATION_ADMINISTRATIVE
from .actions import TERMINATION_LOGOUT as TERMINATION_LOGOUT
from .actions import Action as Action
from .actions import ClientState as ClientState
from .actions import Decision as Decision
from .actions import Failover as _Failover
from .actions import Notice as Notice
from .actions import NoticeKind as NoticeKind
from .actions import Outcome as Outcome
from .actions import PendingRequest as _Pending
from .actions import Send as Send
from .actions import SessionStateError as SessionStateError
from .event_core import ClientEvent as ClientEvent
from .quota import Quota, add_units
from .types import (CCFH, DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE, DIAMETER_SUCCESS, DIAMETER_UNKNOWN_SESSION_ID,
                    FAILOVER_SUPPORTED, FinalUnitAction, ReportingReason, RequestType, Units, is_success,
                    is_temporary)
from .wire import AnswerView, Usage

log = logging.getLogger("diameter.cc.client")


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
        if self.fo.enabled:
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
            raise SessionStateError(f"session {self.session_id} already started ({self.state.value})")
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
        raise SessionStateError(f"session {self.session_id} is {st.value}: no update possible")

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

    def end_outside_cc(self, now: float) -> list[Action]:
        """The service ended while credit control was not running it (CCFH CONTINUE, 4011) or must
        stop without a CCR-T: the adapter sends an STR so the server releases the session."""
        self._idle("session_termination")
        return []

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
        best = self.pending.tx_deadline if self.pending is not None else None
        if self.state is ClientState.OPEN:
            for q in self.quotas.values():
                d = q.next_deadline()
                if d is not None and (best is None or d < best):
                    best = d
        return best

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
        # CONTINUE or RETRY_AND_TERMINATE: grant service and keep waiting (for this answer or the
        # failed-over copy's); RETRY_AND_TERMINATE terminates if the request then fails
        out = self._failover(now, p)
        if not p.decided:
            p.decided = True
            out.append(Outcome(rt, n, Decision.CONTINUED, None, "Tx expired"))
        return out

    # ---- server-initiated ---------------------------------------------------------------
    def on_rar(self, now: float, rating_group: int | None = None) -> tuple[int, list[Action]]:
        """RAR: (RAA Result-Code, actions). Open: RAA then CCR-U (FORCED_REAUTHORISATION)."""
        st = self.state
        if st is ClientState.IDLE:
            return DIAMETER_UNKNOWN_SESSION_ID, []
        out: list[Action] = [Notice(NoticeKind.RE_AUTH, rating_group)]
        reason = ReportingReason.FORCED_REAUTHORISATION
        if st is ClientState.OPEN:
            if rating_group is not None:  # re-authorise that rating group only
                return DIAMETER_SUCCESS, out + self.update(now, [Usage(rating_group, reporting_reason=reason)])
            return DIAMETER_SUCCESS, out + self.update(now, None, reason)
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
