"""Value types of the credit-control layer (RFC 4006): units, grants, parsed requests, results.

Plain frozen/slotted dataclasses: building them needs no Diameter message objects,
so the sans-IO cores, the OCS and tests share them.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


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


@dataclass(slots=True)
class CCRequest:
    """The parsed view of a CCR that server handlers receive."""
    session_id: str
    request_type: RequestType
    request_number: int
    retransmitted: bool = False
    origin_host: str = ""
    origin_realm: str = ""
    peer: str = ""
    dialect: str = "3gpp"
    service_context_id: str | None = None
    subscription_ids: list[tuple[int, str]] = field(default_factory=list)
    user_name: str | None = None
    requested_action: int | None = None
    event_timestamp: datetime.datetime | None = None
    termination_cause: int | None = None
    multiple_services_indicator: int | None = None
    mscc: list[MsccRequest] = field(default_factory=list)
    top_level_units: bool = False
    message: Any = None


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
