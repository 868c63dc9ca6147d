"""The charging model: subscribers, accounts, balances, reservations, ledger rows, outcomes.

Plain dataclasses with no Diameter types, so rating and storage can be tested alone.
Money is always an integer number of minor units (cents) with an ISO 4217 numeric
currency code; unit buckets count seconds, octets or events. Times are POSIX seconds.
"""

from __future__ import annotations

import enum
import json
import marshal
from dataclasses import dataclass, field
from typing import Any, Final


class SubscriptionType(enum.IntEnum):
    """Subscription-Id-Type values (RFC 4006 8.47)."""

    E164 = 0
    IMSI = 1
    SIP_URI = 2
    NAI = 3
    PRIVATE = 4


class AccountKind(enum.IntEnum):
    """How an account pays, numbered as Huawei's I-User-Type."""

    PREPAID = 1
    POSTPAID = 2
    HYBRID = 3


class AccountState(str, enum.Enum):
    """Account life cycle; `huawei_lifecycle` gives Huawei's Lifecycle-State code."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"

    @property
    def huawei_lifecycle(self) -> int:
        return {"active": 2, "suspended": 4, "expired": 1}[self.value]


class UnitKind(str, enum.Enum):
    """What a balance or a rate counts."""

    MONEY = "money"
    TIME = "time"  # seconds
    OCTETS = "octets"
    EVENTS = "events"


class BalanceType(enum.IntEnum):
    """Huawei Account-Type / Balance-Type codes of the balances this server keeps."""

    PREPAID_MAIN = 2000
    BONUS = 2100
    POSTPAID_MAIN = 3000
    FREE_UNITS = 5000


class RequestKind(enum.IntEnum):
    """CC-Request-Type values (RFC 4006 8.3)."""

    INITIAL = 1
    UPDATE = 2
    TERMINATION = 3
    EVENT = 4


class RequestedAction(enum.IntEnum):
    """Requested-Action values for event requests (RFC 4006 8.41)."""

    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class FinalAction(enum.IntEnum):
    """Final-Unit-Action values (RFC 4006 8.35)."""

    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


#: a unit kind's value (``UnitKind.X.value`` is a Python-level property: a look-up here is not)
UNIT_VALUE: Final[dict[UnitKind, str]] = {k: k.value for k in UnitKind}


# Result codes the engine decides (RFC 4006 9 and RFC 6733).
SUCCESS: Final = 2001
END_USER_SERVICE_DENIED: Final = 4010
CREDIT_CONTROL_NOT_APPLICABLE: Final = 4011
CREDIT_LIMIT_REACHED: Final = 4012
USER_UNKNOWN: Final = 5030
RATING_FAILED: Final = 5031
UNABLE_TO_COMPLY: Final = 5012

NO_RATING_GROUP: Final = -1  # storage key of a reservation made for top-level units
_PREPAID_MAIN: Final = int(BalanceType.PREPAID_MAIN)
_POSTPAID_MAIN: Final = int(BalanceType.POSTPAID_MAIN)


@dataclass
class Balance:
    """One balance of an account: money (main or bonus) or a bucket of units."""

    id: int
    account_id: int
    kind: UnitKind
    amount: int
    type_code: int = BalanceType.PREPAID_MAIN
    floor: int = 0  # lowest allowed amount (negative = credit limit of a postpaid account)
    rating_groups: tuple[int, ...] = ()  # buckets: the rating groups they pay for (empty = all)
    valid_from: float | None = None
    valid_until: float | None = None
    priority: int = 50  # lower is consumed first

    def usable(self, now: float) -> bool:
        if self.valid_from is not None and now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until

    @property
    def available(self) -> int:
        return max(0, self.amount - self.floor)


@dataclass
class Account:
    id: int
    name: str
    kind: AccountKind = AccountKind.PREPAID
    state: AccountState = AccountState.ACTIVE
    currency: int = 978
    subscriptions: list[tuple[int, str]] = field(default_factory=list)


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Hold:
    """Part of a reservation taken from one balance."""

    balance_id: int
    amount: int  # in the balance's own unit (minor units for money)
    units: int  # service units it pays for

    def __init__(self, balance_id: int, amount: int, units: int) -> None:
        self.balance_id = balance_id
        self.amount = amount
        self.units = units


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Reservation:
    """Credit reserved for one (session, rating group); money already moved out of balances."""

    session_id: str
    rating_group: int
    account_id: int
    unit: UnitKind
    units: int
    holds: list[Hold]
    expires_at: float
    request_number: int = 0
    final: bool = False  # the grant carried a Final-Unit-Indication
    peer: str = ""

    def __init__(self, session_id: str, rating_group: int, account_id: int, unit: UnitKind, units: int,
                 holds: list[Hold], expires_at: float, request_number: int = 0, final: bool = False,
                 peer: str = "") -> None:
        self.session_id = session_id
        self.rating_group = rating_group
        self.account_id = account_id
        self.unit = unit
        self.units = units
        self.holds = holds
        self.expires_at = expires_at
        self.request_number = request_number
        self.final = final
        self.peer = peer
        #: ``(session_id, rating_group)``, the one tuple of the books' and caches' look-ups
        #: (Any: compiled, a tuple-typed attribute is rebuilt as a new tuple for each use)
        self.key: Any = (session_id, rating_group)

    def holds_json(self) -> str:
        return json.dumps([[h.balance_id, h.amount, h.units] for h in self.holds])

    @staticmethod
    def holds_from_json(text: str) -> list[Hold]:
        return [Hold(int(b), int(a), int(u)) for b, a, u in json.loads(text)]


@dataclass(init=False)  # the __init__ below: compiled, not generated
class LedgerRow:
    """One change of one balance."""

    account_id: int
    balance_id: int
    op: str  # create, reserve, release, debit, recharge, reversal, refund, adjust
    amount: int  # signed change of the balance
    balance_after: int
    units: int = 0
    session_id: str | None = None
    request_number: int | None = None
    rating_group: int | None = None
    ts: float = 0.0

    def __init__(self, account_id: int, balance_id: int, op: str, amount: int, balance_after: int,
                 units: int = 0, session_id: str | None = None, request_number: int | None = None,
                 rating_group: int | None = None, ts: float = 0.0) -> None:
        self.account_id = account_id
        self.balance_id = balance_id
        self.op = op
        self.amount = amount
        self.balance_after = balance_after
        self.units = units
        self.session_id = session_id
        self.request_number = request_number
        self.rating_group = rating_group
        self.ts = ts


@dataclass(init=False)  # the __init__ below: compiled, not generated
class SessionRow:
    """Running totals of one open charging session (becomes a CDR when it ends)."""

    session_id: str
    account_id: int
    started: float
    updated: float
    expires_at: float
    charged: int = 0
    units: dict[str, int] = field(default_factory=dict)  # "rg:unit" -> units used
    requests: int = 0
    peer: str = ""
    final: bool = False  # its last grant carried a Final-Unit-Indication

    def __init__(self, session_id: str, account_id: int, started: float, updated: float,
                 expires_at: float, charged: int = 0, units: dict[str, int] | None = None,
                 requests: int = 0, peer: str = "", final: bool = False) -> None:
        self.session_id = session_id
        self.account_id = account_id
        self.started = started
        self.updated = updated
        self.expires_at = expires_at
        self.charged = charged
        self.units = {} if units is None else units
        self.requests = requests
        self.peer = peer
        self.final = final


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Snapshot:
    """What a transaction sees of one account, locked for the transaction's duration."""

    account: Account
    balances: list[Balance]
    reservations: list[Reservation]
    sessions: dict[str, SessionRow] = field(default_factory=dict)
    other_sessions: int | None = None  # set when only one session's part was loaded

    def __init__(self, account: Account, balances: list[Balance], reservations: list[Reservation],
                 sessions: dict[str, SessionRow] | None = None,
                 other_sessions: int | None = None) -> None:
        self.account = account
        self.balances = balances
        self.reservations = reservations
        self.sessions = {} if sessions is None else sessions
        self.other_sessions = other_sessions

    def balance(self, balance_id: int) -> Balance:
        for b in self.balances:
            if b.id == balance_id:
                return b
        raise KeyError(balance_id)

    def main_balance(self) -> Balance | None:
        """The prepaid main balance, else the postpaid one, else the first monetary one."""
        first = post = None
        for b in self.balances:
            if b.kind is UnitKind.MONEY:
                if b.type_code == _PREPAID_MAIN:
                    return b
                if post is None and b.type_code == _POSTPAID_MAIN:
                    post = b
                if first is None:
                    first = b
        return post if post is not None else first


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Grant:
    """The engine's answer for one rating group."""

    rating_group: int | None
    result_code: int = SUCCESS
    service_identifier: int | None = None
    unit: str | None = None  # UnitKind value of `units`
    units: int | None = None  # granted units, None = no grant
    final_action: int | None = None  # FinalAction when this is the last grant
    redirect_address: str | None = None
    restriction_filter_rules: list[str] | None = None  # RESTRICT_ACCESS: IPFilterRules
    filter_ids: list[str] | None = None  # RESTRICT_ACCESS: Filter-Id values
    validity_time: int | None = None
    quota_holding_time: int | None = None
    volume_threshold: int | None = None
    time_threshold: int | None = None
    cost: int | None = None  # minor units charged for the used units

    def __init__(self, rating_group: int | None, result_code: int = SUCCESS,
                 service_identifier: int | None = None, unit: str | None = None,
                 units: int | None = None, final_action: int | None = None,
                 redirect_address: str | None = None,
                 restriction_filter_rules: list[str] | None = None,
                 filter_ids: list[str] | None = None, validity_time: int | None = None,
                 quota_holding_time: int | None = None, volume_threshold: int | None = None,
                 time_threshold: int | None = None, cost: int | None = None) -> None:
        self.rating_group = rating_group
        self.result_code = result_code
        self.service_identifier = service_identifier
        self.unit = unit
        self.units = units
        self.final_action = final_action
        self.redirect_address = redirect_address
        self.restriction_filter_rules = restriction_filter_rules
        self.filter_ids = filter_ids
        self.validity_time = validity_time
        self.quota_holding_time = quota_holding_time
        self.volume_threshold = volume_threshold
        self.time_threshold = time_threshold
        self.cost = cost


    def row(self) -> tuple[Any, ...]:
        """The recorded form: the fields in declaration order."""
        return (self.rating_group, self.result_code, self.service_identifier, self.unit, self.units,
                self.final_action, self.redirect_address, self.restriction_filter_rules, self.filter_ids,
                self.validity_time, self.quota_holding_time, self.volume_threshold, self.time_threshold,
                self.cost)


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Outcome:
    """A request's recorded answer (stored with its debits; replayed on retransmission)."""

    result_code: int
    grants: list[Grant] = field(default_factory=list)
    account_id: int | None = None
    balance: int | None = None  # main monetary balance after the request
    balance_change: int = 0  # sum of committed changes of the main balance
    currency: int | None = None
    cost: int | None = None  # price (enquiry) or amount charged (event)
    check_balance: int | None = None  # Check-Balance-Result: 0 enough credit, 1 no credit
    amount_before: int | None = None  # recharge: main balance before
    reauth_sessions: list[str] = field(default_factory=list)
    error_message: str | None = None
    replayed: bool = False

    def __init__(self, result_code: int, grants: list[Grant] | None = None,
                 account_id: int | None = None, balance: int | None = None, balance_change: int = 0,
                 currency: int | None = None, cost: int | None = None,
                 check_balance: int | None = None, amount_before: int | None = None,
                 reauth_sessions: list[str] | None = None, error_message: str | None = None,
                 replayed: bool = False) -> None:
        self.result_code = result_code
        self.grants = [] if grants is None else grants
        self.account_id = account_id
        self.balance = balance
        self.balance_change = balance_change
        self.currency = currency
        self.cost = cost
        self.check_balance = check_balance
        self.amount_before = amount_before
        self.reauth_sessions = [] if reauth_sessions is None else reauth_sessions
        self.error_message = error_message
        self.replayed = replayed

    def to_row(self) -> list[Any]:
        """The recorded form: ``[2, <fields of _OUTCOME_FIELDS>..., [grant row, ...]]``.

        Positional (a grant is the tuple of its fields in declaration order), so writing it is
        a few C calls; the leading 2 is the format version (version 1 was a JSON object)."""
        return [2, self.result_code, self.account_id, self.balance, self.balance_change, self.currency,
                self.cost, self.check_balance, self.amount_before, self.reauth_sessions,
                self.error_message, [g.row() for g in self.grants]]  # the order of _OUTCOME_FIELDS

    def to_json(self) -> str:
        return _encode(self.to_row())

    @staticmethod
    def from_json(text: str | bytes) -> Outcome:
        """Read a recorded outcome (either format; bytes: the row of format 2 as `marshal`
        wrote it, as the SQLite writer records it); ``replayed`` is set."""
        data: Any
        if isinstance(text, bytes):
            try:
                data = marshal.loads(text)
            except (ValueError, EOFError, TypeError) as exc:
                raise ValueError(f"unreadable recorded outcome: {text[:40]!r}") from exc
        else:
            data = json.loads(text)
        if isinstance(data, dict):  # format 1: {"result_code": ..., "grants": [{...}], ...}
            grants = [Grant(**g) for g in data.pop("grants")]
            return Outcome(grants=grants, replayed=True, **data)
        if not isinstance(data, list) or not data or data[0] != 2 or len(data) != len(_OUTCOME_FIELDS) + 2:
            raise ValueError(f"unknown recorded outcome format: {text[:40]!r}")
        out = Outcome(grants=[Grant(*g) for g in data[-1]], replayed=True,
                      **dict(zip(_OUTCOME_FIELDS, data[1:-1])))
        return out


_encode: Final = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per call
_OUTCOME_FIELDS: Final = ("result_code", "account_id", "balance", "balance_change", "currency", "cost",
                   "check_balance", "amount_before", "reauth_sessions", "error_message")



@dataclass
class AuditReport:
    """Result of `Storage.audit()`: empty problem list means the books balance."""

    balances: int
    ledger_rows: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems
