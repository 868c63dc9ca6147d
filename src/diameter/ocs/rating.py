"""Rating and reservation: pure functions from a locked snapshot and a request to a Decision.

No I/O and no clock: `now` is an argument. Storage backends call these inside their
transaction, so the same code decides on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .books import Books, Decision, rg_key
from .model import (
    CREDIT_CONTROL_NOT_APPLICABLE,
    CREDIT_LIMIT_REACHED,
    END_USER_SERVICE_DENIED,
    RATING_FAILED,
    SUCCESS,
    UNIT_VALUE,
    AccountState,
    FinalAction,
    Grant,
    Outcome,
    RequestedAction,
    RequestKind,
    Reservation,
    Snapshot,
    UnitKind,
)
from .tariff import Rate, Tariff


@dataclass(init=False)  # the __init__ below: compiled, not generated
class ServiceUsage:
    """One service (an MSCC, or the top-level units) of a request."""

    rating_group: int | None = None
    service_identifier: int | None = None
    requested: dict[UnitKind, int] | None = None  # None: no Requested-Service-Unit
    used: dict[UnitKind, int] = field(default_factory=dict)
    final: bool = False  # Reporting-Reason FINAL: report the units, ask for no more

    def __init__(self, rating_group: int | None = None, service_identifier: int | None = None,
                 requested: dict[UnitKind, int] | None = None, used: dict[UnitKind, int] | None = None,
                 final: bool = False) -> None:
        self.rating_group = rating_group
        self.service_identifier = service_identifier
        self.requested = requested
        self.used = {} if used is None else used
        self.final = final


@dataclass(init=False)  # the __init__ below: compiled, not generated
class ChargeRequest:
    """A credit-control request in the charging model's terms."""

    session_id: str
    request_number: int
    kind: RequestKind
    subscriptions: list[tuple[int, str]] = field(default_factory=list)
    service_context: str | None = None
    services: list[ServiceUsage] = field(default_factory=list)
    action: RequestedAction | None = None
    peer: str = ""

    def __init__(self, session_id: str, request_number: int, kind: RequestKind,
                 subscriptions: list[tuple[int, str]] | None = None,
                 service_context: str | None = None, services: list[ServiceUsage] | None = None,
                 action: RequestedAction | None = None, peer: str = "") -> None:
        self.session_id = session_id
        self.request_number = request_number
        self.kind = kind
        self.subscriptions = [] if subscriptions is None else subscriptions
        self.service_context = service_context
        self.services = [] if services is None else services
        self.action = action
        self.peer = peer


def _grant_units(books: Books, rate: Rate, usage: ServiceUsage, tariff: Tariff,
                 session_id: str) -> tuple[int, int]:
    """(units to grant, units affordable in total) for a new reservation."""
    target = rate.default_quota
    if usage.requested:
        asked = usage.requested.get(rate.unit, 0)
        if asked > 0:
            target = asked
    if rate.max_quota is not None:
        target = min(target, rate.max_quota)
    total = books.affordable(rate, usage.rating_group)
    share = total
    if tariff.policy.share_wallet:
        n = books.sharing(session_id)
        share = total // n
        if share >= rate.per:
            share -= share % rate.per
        share = max(share, min(rate.per, total))
    return min(target, share), total


def _settle(books: Books, rate: Rate, usage: ServiceUsage, session_id: str) -> tuple[int, int]:
    """Release the session's reservation for this service and debit its used units."""
    res = books.reservation(session_id, usage.rating_group)
    if res is not None:
        books.release(res)
    used = usage.used.get(rate.unit, 0) if usage.used else 0
    if used <= 0:
        return 0, 0
    return books.debit(rate, usage.rating_group, used)


_UNIT_VALUE: Final = UNIT_VALUE
_KEYS: Final[dict[str, dict[int | None, str]]] = {}


def _units_key(rating_group: int | None, what: str) -> str:
    """A session's running total key, ``"<rating group>:<unit or 'unpaid'>"`` (made once;
    `what` is one of a few names, the rating groups are bounded)."""
    keys = _KEYS.get(what)
    if keys is None:
        keys = _KEYS[what] = {}
    key = keys.get(rating_group)
    if key is None:
        if len(keys) > 4096:
            keys.clear()
        key = keys[rating_group] = f"{rg_key(rating_group)}:{what}"
    return key


def _service(books: Books, req: ChargeRequest, usage: ServiceUsage, tariff: Tariff,
             grant_more: bool) -> Grant:
    pol = tariff.policy
    rg = usage.rating_group
    grant = Grant(rg, SUCCESS, usage.service_identifier)
    rate = tariff.rate_for(req.service_context, rg, usage.service_identifier)
    if rate is None:
        res = books.reservation(req.session_id, rg)
        if res is not None:
            books.release(res)
        grant.result_code = RATING_FAILED
        return grant
    if rate.free:
        grant.result_code = CREDIT_CONTROL_NOT_APPLICABLE
        return grant
    unit = rate.unit
    row = books.sessions.get(req.session_id)
    was_final = row is not None and row.final
    charged, unpaid = _settle(books, rate, usage, req.session_id)
    grant.cost = charged
    if row is not None:
        row.charged += charged
        used = usage.used.get(unit, 0) if usage.used else 0
        if used:
            key = _units_key(rg, _UNIT_VALUE[unit])
            row.units[key] = row.units.get(key, 0) + used
        if unpaid:  # used beyond what the balances could pay down to their floors: in the CDR
            key = _units_key(rg, "unpaid")
            row.units[key] = row.units.get(key, 0) + unpaid
    asked = usage.requested is not None or req.kind is RequestKind.INITIAL
    if not grant_more or usage.final or not asked:
        return grant  # a report only (or the final one): no more units
    units, total = _grant_units(books, rate, usage, tariff, req.session_id)
    holds = books.reserve(rate, rg, units) if units > 0 else []
    granted = sum(h.units for h in holds) if len(holds) != 1 else holds[0].units
    if granted <= 0:
        # after a Final-Unit-Indication the client's report is answered with no units, not 4012
        grant.result_code = SUCCESS if was_final else CREDIT_LIMIT_REACHED
        return grant
    final = granted >= total or books.affordable(rate, rg) == 0
    books.keep(Reservation(req.session_id, rg_key(rg), books.snap.account.id, unit, granted, holds,
                           books.now + pol.validity_time + pol.reservation_grace,
                           req.request_number, final, req.peer))
    if row is not None:
        row.final = final
    grant.unit = _UNIT_VALUE[unit]
    grant.units = granted
    grant.validity_time = pol.validity_time or None
    grant.quota_holding_time = pol.quota_holding_time or None
    threshold = granted * pol.threshold_percent // 100 if pol.threshold_percent else None
    if unit is UnitKind.OCTETS:
        grant.volume_threshold = threshold
    elif unit is UnitKind.TIME:
        grant.time_threshold = threshold
    if final:
        grant.final_action = int(pol.final_unit_action)
        if pol.final_unit_action == FinalAction.REDIRECT:
            grant.redirect_address = pol.redirect_address
        elif pol.final_unit_action == FinalAction.RESTRICT_ACCESS:
            grant.restriction_filter_rules = list(pol.restriction_filter_rules) or None
            grant.filter_ids = list(pol.filter_ids) or None
    return grant


def _top_level(kind: RequestKind, grants: list[Grant]) -> int:
    """An initial or event request's services all answered the same: that is the answer."""
    if kind is not RequestKind.INITIAL and kind is not RequestKind.EVENT or not grants:
        return SUCCESS
    code = grants[0].result_code
    for g in grants:
        if g.result_code != code:
            return SUCCESS
    return code


def charge(snap: Snapshot, req: ChargeRequest, tariff: Tariff, now: float) -> Decision:
    """Decide a session request (INITIAL, UPDATE, TERMINATION) or an event."""
    return charge_on(Books(snap, now, req.session_id, req.request_number), req, tariff)


def charge_on(books: Books, req: ChargeRequest, tariff: Tariff) -> Decision:
    """:func:`charge` on books made by the caller (for `req`'s session and number, at its time)."""
    if req.kind is RequestKind.EVENT:
        return _event(books, req, tariff)
    snap = books.snap
    now = books.now
    active = snap.account.state is AccountState.ACTIVE
    terminating = req.kind is RequestKind.TERMINATION
    pol = tariff.policy
    books.touch_session(req.session_id, req.peer, now + pol.validity_time + pol.reservation_grace)
    grants = [_service(books, req, u, tariff, grant_more=active and not terminating)
              for u in req.services]
    if terminating:
        books.close_session(req.session_id, "terminated")
    if not active and req.kind is RequestKind.INITIAL:
        books.close_session(req.session_id, "denied")
        return books.decision(Outcome(END_USER_SERVICE_DENIED, grants,
                                      error_message=f"account {snap.account.state.value}"))
    if not active:
        for g in grants:
            if g.result_code == SUCCESS and not terminating:
                g.result_code = END_USER_SERVICE_DENIED
    code = _top_level(req.kind, grants)
    if req.kind is RequestKind.INITIAL and not 2000 <= code < 3000:
        books.close_session(req.session_id, "denied")  # the client will not come back for it
    return books.decision(Outcome(code, grants))


class Charging:
    """:func:`charge` of one request as a function of the snapshot: what storage calls to
    decide (a compiled callable, where a lambda would run interpreted)."""

    def __init__(self, req: ChargeRequest, tariff: Tariff, now: float) -> None:
        self.req = req
        self.tariff = tariff
        self.now = now

    def __call__(self, snap: Snapshot) -> Decision:
        return charge(snap, self.req, self.tariff, self.now)


def _event(books: Books, req: ChargeRequest, tariff: Tariff) -> Decision:
    action = req.action if req.action is not None else RequestedAction.DIRECT_DEBITING
    snap = books.snap
    if snap.account.state is not AccountState.ACTIVE and action is not RequestedAction.PRICE_ENQUIRY:
        return books.decision(Outcome(END_USER_SERVICE_DENIED,
                                      error_message=f"account {snap.account.state.value}"))
    grants: list[Grant] = []
    total_cost = 0
    enough = True
    for usage in req.services:
        g = Grant(usage.rating_group, service_identifier=usage.service_identifier)
        grants.append(g)
        rate = tariff.rate_for(req.service_context, usage.rating_group, usage.service_identifier)
        if rate is None:
            g.result_code = RATING_FAILED
            continue
        if rate.free:
            g.result_code = CREDIT_CONTROL_NOT_APPLICABLE
            continue
        units = (usage.requested or {}).get(rate.unit, 0) or usage.used.get(rate.unit, 0)
        units = units or rate.default_quota
        cost = rate.cost(units)
        g.cost = cost
        total_cost += cost
        if action is RequestedAction.PRICE_ENQUIRY:
            continue
        affordable = books.affordable(rate, usage.rating_group) >= units
        if action is RequestedAction.CHECK_BALANCE:
            enough = enough and affordable
        elif action is RequestedAction.REFUND_ACCOUNT:
            main = snap.main_balance()
            if main is None:
                g.result_code = RATING_FAILED
                continue
            books.change(main, cost, "refund", units, usage.rating_group)
            g.unit, g.units = _UNIT_VALUE[rate.unit], units
        else:  # direct debiting: all or nothing
            if not affordable:
                g.result_code = CREDIT_LIMIT_REACHED
                g.cost = None
                continue
            charged, _ = books.debit(rate, usage.rating_group, units)
            g.cost = charged
            g.unit, g.units = _UNIT_VALUE[rate.unit], units
    outcome = Outcome(_top_level(RequestKind.EVENT, grants) if grants else SUCCESS, grants)
    if action is RequestedAction.PRICE_ENQUIRY:
        outcome.cost = total_cost
    elif action is RequestedAction.CHECK_BALANCE:
        outcome.check_balance = 0 if enough else 1
        outcome.result_code = SUCCESS
        for g in grants:
            if g.result_code == SUCCESS:
                g.cost = None
    else:
        outcome.cost = sum(g.cost or 0 for g in grants if g.result_code == SUCCESS)
        charged = outcome.cost if action is RequestedAction.DIRECT_DEBITING else -outcome.cost
        if charged:
            books.cdrs.append({
                "type": "event", "session_id": req.session_id, "account_id": snap.account.id,
                "action": action.name.lower(), "charged": charged, "ended": books.now,
                "currency": snap.account.currency, "peer": req.peer,
                "units": {f"{rg_key(g.rating_group)}:{g.unit}": g.units for g in grants if g.units},
            })
    return books.decision(outcome)


def close(snap: Snapshot, session_id: str, reason: str, now: float,
          idle: float | None = None) -> Decision:
    """A session ended without a final report (STR, ASR, Tcc expiry): release its credit.

    With `idle`, only a session not charged for that long is closed: another instance
    sharing the database may still be serving it."""
    books = Books(snap, now, session_id)
    row = books.sessions.get(session_id)
    if idle is not None and row is not None and row.updated > now - idle:
        return books.decision(Outcome(SUCCESS))
    books.close_session(session_id, reason)
    return books.decision(Outcome(SUCCESS))


def expire(snap: Snapshot, now: float) -> Decision:
    """Release every reservation of the account whose time is up; close dead sessions."""
    books = Books(snap, now)
    for res in list(books.reservations.values()):
        if res.expires_at <= now:
            books.release(res)
    for sid, row in list(books.sessions.items()):
        if row.expires_at <= now and not books.session_reservations(sid):
            books.close_session(sid, "expired")
    return books.decision(Outcome(SUCCESS))
