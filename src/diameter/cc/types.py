"""Value types of the credit-control layer (RFC 4006): units, grants, parsed requests, results.

Plain frozen/slotted dataclasses: building them needs no Diameter message objects,
so the sans-IO cores, the OCS and tests share them.
"""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

_log = logging.getLogger("diameter.cc")


class RequestType(IntEnum):
    """CC-Request-Type (416)."""
    INITIAL = 1
    UPDATE = 2
    TERMINATION = 3
    EVENT = 4


class RequestedAction(IntEnum):
    """Requested-Action (436)."""
    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class CCFH(IntEnum):
    """Credit-Control-Failure-Handling (427)."""
    TERMINATE = 0
    CONTINUE = 1
    RETRY_AND_TERMINATE = 2


class DDFH(IntEnum):
    """Direct-Debiting-Failure-Handling (428)."""
    TERMINATE_OR_BUFFER = 0
    CONTINUE = 1


class FinalUnitAction(IntEnum):
    """Final-Unit-Action (449)."""
    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


class ReportingReason(IntEnum):
    """Reporting-Reason (872, 3GPP TS 32.299)."""
    THRESHOLD = 0
    QHT = 1
    FINAL = 2
    QUOTA_EXHAUSTED = 3
    VALIDITY_TIME = 4
    OTHER_QUOTA_TYPE = 5
    RATING_CONDITION_CHANGE = 6
    FORCED_REAUTHORISATION = 7
    POOL_EXHAUSTED = 8


#: CC-Session-Failover (418)
FAILOVER_NOT_SUPPORTED = 0
FAILOVER_SUPPORTED = 1

# Result codes used by the layer (RFC 6733 / RFC 4006)
DIAMETER_SUCCESS = 2001
DIAMETER_LIMITED_SUCCESS = 2002
DIAMETER_TOO_BUSY = 3004
DIAMETER_UNABLE_TO_DELIVER = 3002
DIAMETER_END_USER_SERVICE_DENIED = 4010
DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE = 4011
DIAMETER_CREDIT_LIMIT_REACHED = 4012
DIAMETER_UNKNOWN_SESSION_ID = 5002
DIAMETER_UNABLE_TO_COMPLY = 5012
DIAMETER_USER_UNKNOWN = 5030
DIAMETER_RATING_FAILED = 5031


def is_success(code: int | None) -> bool:
    return code is not None and 2000 <= code < 3000


def is_temporary(code: int | None) -> bool:
    """Protocol errors that another server may not have (3002 unable to deliver, 3004 too busy) and
    transient failures (4xxx except the RFC 4006 final ones handled separately)."""
    return code in (3002, 3004) or (code is not None and 4000 <= code < 5000
                                    and code not in (4010, 4011, 4012))


@dataclass(frozen=True, slots=True)
class Money:
    """CC-Money: value_digits x 10^exponent in ISO 4217 currency ``currency``."""
    value_digits: int
    exponent: int = 0
    currency: int | None = None


@dataclass(frozen=True, slots=True)
class Units:
    """Requested, granted or used service units (one of each kind may be set)."""
    time: int | None = None
    total_octets: int | None = None
    input_octets: int | None = None
    output_octets: int | None = None
    service_specific: int | None = None
    money: Money | None = None

    def is_empty(self) -> bool:
        return (self.time is None and self.total_octets is None and self.input_octets is None
                and self.output_octets is None and self.service_specific is None and self.money is None)


@dataclass(frozen=True, slots=True)
class FinalUnit:
    """Final-Unit-Indication: what to do when the granted units are the last ones."""
    action: FinalUnitAction
    redirect_address_type: int | None = None
    redirect_server_address: str | None = None
    restriction_filter_rules: tuple[bytes, ...] = ()
    filter_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class MsccRequest:
    """One Multiple-Services-Credit-Control of a CCR (or the top-level units, synthesised)."""
    rating_group: int | None = None
    service_identifiers: list[int] = field(default_factory=list)
    requested: Units | None = None
    used: list[Units] = field(default_factory=list)
    reporting_reasons: list[int] = field(default_factory=list)
    triggers: list[int] = field(default_factory=list)


_UNSET: Any = object()


def _lazy(name: str, read: Any) -> property:
    slot = "_" + name

    def get(self: CCRequest) -> Any:
        v = getattr(self, slot)
        if v is _UNSET:
            v = read(self.message) if self.message is not None else None
            setattr(self, slot, v)
        return v

    def set_(self: CCRequest, value: Any) -> None:
        setattr(self, slot, value)
    return property(get, set_, doc=f"{name} (decoded from the CCR on first access)")


def _subs(msg: Any) -> list[tuple[int, str]]:
    subs = [(s.subscription_id_type, s.subscription_id_data) for s in (msg.subscription_id or ())
            if s.subscription_id_data is not None]
    if not subs and msg.service_information is not None:
        inner = getattr(msg.service_information, "subscription_id", None) or []
        subs = [(s.subscription_id_type, s.subscription_id_data) for s in inner if s.subscription_id_data is not None]
        if subs:
            _log.info("session %s: Subscription-Id taken from Service-Information (tolerated)", msg.session_id)
    return subs


def _mscc_get(self: CCRequest) -> list[MsccRequest]:
    v: Any = self._mscc
    if callable(v):  # left to be read from the message by a reader with a usage hook: its reader
        v = self._mscc = v(self.message)
    mscc: list[MsccRequest] = v
    return mscc


def _mscc_set(self: CCRequest, value: list[MsccRequest]) -> None:
    self._mscc = value


class CCRequest:
    """The parsed view of a CCR that server handlers receive.

    ``session_id``, ``request_type``, ``request_number``, ``retransmitted`` (T flag),
    ``origin_host``, ``origin_realm``, ``peer``, ``dialect``, ``mscc`` (one :class:`MsccRequest`
    per Multiple-Services-Credit-Control; top-level RSU/USU become one with rating_group None
    and ``top_level_units`` True) and ``message`` (the decoded CCR, for vendor AVPs) are set at
    once; ``service_context_id``, ``subscription_ids`` [(type, data)] (from Service-Information
    when missing at the top level), ``user_name``, ``requested_action``, ``event_timestamp``,
    ``termination_cause``, ``multiple_services_indicator`` and ``auth_application_id`` are decoded on
    first access. ``has_request_number`` is False when the CCR carried no CC-Request-Number
    (``request_number`` then reads 0). ``services``: what the server's handler read of the
    MSCCs itself (its ``read_request`` hook, see :mod:`diameter.cc.server`), else None; ``mscc``
    is then decoded from the message on first access.
    """

    __slots__ = ("session_id", "request_type", "request_number", "retransmitted", "origin_host", "origin_realm",
                 "peer", "dialect", "_mscc", "services", "top_level_units", "message", "has_request_number",
                 "_service_context_id", "_subscription_ids", "_user_name", "_requested_action", "_event_timestamp",
                 "_termination_cause", "_multiple_services_indicator", "_auth_application_id")

    def __init__(self, session_id: str, request_type: RequestType, request_number: int, retransmitted: bool = False,
                 origin_host: str = "", origin_realm: str = "", peer: str = "", dialect: str = "3gpp",
                 service_context_id: str | None = _UNSET, subscription_ids: list[tuple[int, str]] = _UNSET,
                 user_name: str | None = _UNSET, requested_action: int | None = _UNSET,
                 event_timestamp: datetime.datetime | None = _UNSET, termination_cause: int | None = _UNSET,
                 multiple_services_indicator: int | None = _UNSET, mscc: list[MsccRequest] | None = None,
                 top_level_units: bool = False, message: Any = None) -> None:
        self.session_id = session_id
        self.request_type = request_type
        self.request_number = request_number
        self.retransmitted = retransmitted
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.peer = peer
        self.dialect = dialect
        self._mscc: Any = mscc if mscc is not None else []
        self.services: list[Any] | None = None
        self.top_level_units = top_level_units
        self.message = message
        self.has_request_number = True
        self._auth_application_id: Any = _UNSET
        self._service_context_id = service_context_id
        self._subscription_ids = subscription_ids if subscription_ids is not _UNSET or message is not None else []
        self._user_name = user_name
        self._requested_action = requested_action
        self._event_timestamp = event_timestamp
        self._termination_cause = termination_cause
        self._multiple_services_indicator = multiple_services_indicator

    mscc = property(_mscc_get, _mscc_set, doc="mscc (read from the CCR on first access after a usage hook)")
    service_context_id = _lazy("service_context_id", lambda m: m.service_context_id)
    subscription_ids = _lazy("subscription_ids", _subs)
    user_name = _lazy("user_name", lambda m: m.user_name)
    requested_action = _lazy("requested_action", lambda m: m.requested_action)
    event_timestamp = _lazy("event_timestamp", lambda m: m.event_timestamp)
    termination_cause = _lazy("termination_cause", lambda m: m.termination_cause)
    multiple_services_indicator = _lazy("multiple_services_indicator", lambda m: m.multiple_services_indicator)
    auth_application_id = _lazy("auth_application_id", lambda m: m.auth_application_id)

    def __repr__(self) -> str:
        return (f"CCRequest({self.session_id!r}, {self.request_type.name}, {self.request_number}, "
                f"retransmitted={self.retransmitted}, peer={self.peer!r}, mscc={self.mscc!r})")


def _made(session_id: str, request_type: RequestType, request_number: int, retransmitted: bool,
          origin_host: str, origin_realm: str, peer: str, dialect: str, mscc: Any, services: list[Any] | None,
          top_level_units: bool, message: Any, has_request_number: bool, service_context_id: Any,
          subscription_ids: Any, user_name: Any, requested_action: Any, auth_application_id: Any) -> CCRequest:
    """A CCRequest with every slot as given (``_UNSET``: decoded on first access), the other
    lazily decoded ones not decoded yet: what the compiled CCR reader calls (interpreted, a
    slot's store is specialised; compiled, each is a generic attribute set)."""
    r = _new(CCRequest)
    r.session_id = session_id
    r.request_type = request_type
    r.request_number = request_number
    r.retransmitted = retransmitted
    r.origin_host = origin_host
    r.origin_realm = origin_realm
    r.peer = peer
    r.dialect = dialect
    r._mscc = mscc
    r.services = services
    r.top_level_units = top_level_units
    r.message = message
    r.has_request_number = has_request_number
    r._service_context_id = service_context_id
    r._subscription_ids = subscription_ids
    r._user_name = user_name
    r._requested_action = requested_action
    r._auth_application_id = auth_application_id
    r._event_timestamp = r._termination_cause = r._multiple_services_indicator = _UNSET
    return r


_new = object.__new__


@dataclass(slots=True)
class Grant:
    """The answer for one rating group (one MSCC of the CCA)."""
    rating_group: int | None = None
    service_identifiers: list[int] = field(default_factory=list)
    granted: Units | None = None
    result_code: int | None = None
    validity_time: int | None = None
    quota_holding_time: int | None = None
    volume_quota_threshold: int | None = None
    time_quota_threshold: int | None = None
    final_unit: FinalUnit | None = None
    triggers: list[int] = field(default_factory=list)


@dataclass(slots=True)
class CCResult:
    """What a server handler returns; the layer turns it into the CCA."""
    result_code: int = DIAMETER_SUCCESS
    grants: list[Grant] = field(default_factory=list)
    validity_time: int | None = None
    cost_information: Any = None
    credit_control_failure_handling: int | None = None
    direct_debiting_failure_handling: int | None = None
    cc_session_failover: int | None = None
    final_unit: FinalUnit | None = None
    extra_avps: list[Any] = field(default_factory=list)
    error_message: str | None = None


#: the contract's other name for :class:`CCResult`
CCAnswer = CCResult
