"""What the sans-IO credit-control clients return: states, actions, outcomes and notices.

Shared by :mod:`diameter.cc.client_core` (session based) and :mod:`diameter.cc.event_core`
(event based); also the pieces both use to track a request in flight and failover.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union

from .types import (DIAMETER_CREDIT_LIMIT_REACHED, DIAMETER_END_USER_SERVICE_DENIED, DIAMETER_USER_UNKNOWN,
                    RequestType)
from .wire import AnswerView, Usage

TERMINATION_LOGOUT = 1            # Termination-Cause DIAMETER_LOGOUT
TERMINATION_ADMINISTRATIVE = 4    # DIAMETER_ADMINISTRATIVE (after ASR)
DENIED = (DIAMETER_END_USER_SERVICE_DENIED, DIAMETER_USER_UNKNOWN, DIAMETER_CREDIT_LIMIT_REACHED)


class SessionStateError(RuntimeError):
    """The request is not possible in the session's state (e.g. an update of an Idle session)."""


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


class Failover:
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


class PendingRequest:
    """The request waiting for its answer: its number, copies in flight, Tx."""

    def __init__(self, send: Send, now: float, tx: float) -> None:
        self.send = send
        self.inflight = 1
        self.tx_deadline: float | None = now + tx
        self.tx_expired = False
        self.decided = False


