"""Sans-IO credit-control client state machine, event based (RFC 4006 §7).

:class:`ClientEvent` (Idle, PendingE, PendingB) runs one CCR-Event (DIRECT_DEBITING,
REFUND_ACCOUNT, CHECK_BALANCE, PRICE_ENQUIRY) with Tx, Direct-Debiting-Failure-Handling and the
request stored with the T flag; actions as in :mod:`diameter.cc.actions`.
"""
from __future__ import annotations

import logging

from .actions import DENIED as _DENIED
from .actions import Action, ClientState, Decision, Failover, Notice, NoticeKind, Outcome, PendingRequest, Send
from .actions import SessionStateError
from .types import (DDFH, DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE, RequestedAction, RequestType, is_success,
                    is_temporary)
from .wire import AnswerView, Usage

log = logging.getLogger("diameter.cc.client")


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
        self.fo = Failover(servers or [], failover)
        self.pending: PendingRequest | None = None
        self.stored: Send | None = None   # request kept with the T flag

    def send(self, now: float, usages: list[Usage]) -> list[Action]:
        """Idle: one-time service requested -> CCR-E, start Tx -> PendingE."""
        if self.state is not ClientState.IDLE:
            raise SessionStateError(f"event {self.session_id} is {self.state.value}")
        s = Send(RequestType.EVENT, 0, usages, False, self.fo.current, int(self.action))
        self.pending = PendingRequest(s, now, self.tx)
        self.fo.reset()
        self.state = ClientState.PENDING_E
        return [s]

    def send_stored(self, now: float) -> list[Action]:
        """Idle with a request in storage -> send it (T flag) -> PendingB."""
        if self.state is not ClientState.IDLE or self.stored is None:
            return []
        self.pending = PendingRequest(self.stored, now, self.tx)
        self.state = ClientState.PENDING_B
        return [self.stored]

    def deadline(self) -> float | None:
        return self.pending.tx_deadline if self.pending is not None else None

    def _store(self, p: PendingRequest) -> None:
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
            return self._end(Decision.GRANTED, rc, "answer", view)
        if is_temporary(rc):
            return self._failure(now, rc, f"temporary error {rc}", view, temporary=True)
        return self._failure(now, rc, f"failed answer {rc}", view, answer=True)

    def on_send_failed(self, now: float, number: int = 0, reason: str = "failure to send") -> list[Action]:
        p = self.pending
        if p is None:
            return []
        p.inflight -= 1
        return self._failure(now, None, reason, None, temporary=True, send_failure=True)

    def _failure(self, now: float, rc: int | None, reason: str, view: AnswerView | None,
                 temporary: bool = False, answer: bool = False, send_failure: bool = False) -> list[Action]:
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
        if send_failure or (p.tx_expired and not answer):
            # TERMINATE_OR_BUFFER: failure to send, or a temporary error after Tx expiry: store with T flag
            self._store(p)
            return self._end(Decision.BUFFERED, rc, reason, view)
        if p.tx_expired:  # failed answer after Tx expiry: "-"
            return self._end(Decision.ENDED, rc, reason + " after Tx expiry", view)
        return self._end(Decision.TERMINATED, rc, reason, view)  # failed answer / temporary error, Tx running

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
        if act is RequestedAction.REFUND_ACCOUNT:  # failure to send or Tx expired: store with T flag, Idle
            self._store(p)
            return self._end(Decision.BUFFERED, None, "Tx expired")
        # DIRECT_DEBITING: grant service, keep waiting (PendingE); what a later failure does depends on DDFH
        return [Outcome(RequestType.EVENT, 0, Decision.CONTINUED, None, "Tx expired")]
