"""Working books of one transaction: balance changes as ledger rows, reservations, sessions.

`Books` wraps a locked `Snapshot`; the rating functions change balances only through
`Books.change`, which writes a ledger row with the balance after. The resulting
`Decision` is what a storage backend applies atomically, together with the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from .model import (
    NO_RATING_GROUP,
    Balance,
    Hold,
    LedgerRow,
    Outcome,
    Reservation,
    SessionRow,
    Snapshot,
    UnitKind,
)
from .tariff import Rate


@dataclass(init=False)  # the __init__ below: compiled, not generated
class Decision:
    """Everything a transaction changes; applied by storage in one commit."""

    outcome: Outcome
    ledger: list[LedgerRow] = field(default_factory=list)
    reservations_put: list[Reservation] = field(default_factory=list)
    reservations_del: list[tuple[str, int]] = field(default_factory=list)
    sessions_put: list[SessionRow] = field(default_factory=list)
    sessions_del: list[str] = field(default_factory=list)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    account_state: str | None = None

    def __init__(self, outcome: Outcome, ledger: list[LedgerRow] | None = None,
                 reservations_put: list[Reservation] | None = None,
                 reservations_del: list[tuple[str, int]] | None = None,
                 sessions_put: list[SessionRow] | None = None, sessions_del: list[str] | None = None,
                 cdrs: list[dict[str, Any]] | None = None, account_state: str | None = None) -> None:
        self.outcome = outcome
        self.ledger = [] if ledger is None else ledger
        self.reservations_put = [] if reservations_put is None else reservations_put
        self.reservations_del = [] if reservations_del is None else reservations_del
        self.sessions_put = [] if sessions_put is None else sessions_put
        self.sessions_del = [] if sessions_del is None else sessions_del
        self.cdrs = [] if cdrs is None else cdrs
        self.account_state = account_state

    @property
    def balances(self) -> dict[int, int]:
        """Balance id -> new amount, made from the ledger when asked: balances change only
        through `Books.change`, so a balance's last row holds its new amount (the SQLite cache
        takes them while it walks the rows, and no dict is made per decision for it)."""
        return {r.balance_id: r.balance_after for r in self.ledger}


def rg_key(rating_group: int | None) -> int:
    return _NO_RG if rating_group is None else rating_group


_HOLD_OPS: Final = ("reserve", "release")
#: (Final: a constant when compiled, where the imported name is a look-up in the globals)
_NO_RG: Final = NO_RATING_GROUP
_MONEY: Final = UnitKind.MONEY


def _consumption_order(b: Balance) -> tuple[int, float, int]:
    return (b.priority, b.valid_until if b.valid_until is not None else 1e18, b.id)


class Books:
    """Mutable view of a snapshot for one request."""

    __slots__ = ("snap", "now", "session_id", "request_number", "rows", "reservations", "put",
                 "deleted", "sessions", "sessions_put", "sessions_del", "cdrs", "others", "_eligible",
                 "_el_unit", "_el_rg", "_el")

    def __init__(self, snap: Snapshot, now: float, session_id: str | None = None,
                 request_number: int | None = None,
                 reservations: dict[tuple[str, int], Reservation] | None = None,
                 sessions: dict[str, SessionRow] | None = None, others: int | None = None) -> None:
        """`reservations`, `sessions`, `others`: what the books see instead of `snap`'s
        reservations, session rows and ``other_sessions`` (fresh dicts, the books' own from
        then on: a cache's part of one session, without a snapshot made for it)."""
        self.snap = snap
        self.now = now
        self.session_id = session_id
        self.request_number = request_number
        self.rows: list[LedgerRow] = []
        if reservations is None:
            reservations = {r.key: r for r in snap.reservations}
            sessions = dict(snap.sessions)
            others = snap.other_sessions
        self.reservations = reservations
        self.put: dict[tuple[str, int], Reservation] = {}
        self.deleted: set[tuple[str, int]] | None = None  # made when first needed
        self.sessions: dict[str, SessionRow] = {} if sessions is None else sessions
        #: sessions other than this one holding credit of the account (None: count them)
        self.others = others
        self.sessions_put: dict[str, SessionRow] = {}
        self.sessions_del: set[str] | None = None  # made when first needed
        self.cdrs: list[dict[str, Any]] = []
        #: eligible balances of the first (unit, rating group) asked (most requests ask one)
        self._el_unit: UnitKind | None = None
        self._el_rg: int | None = None
        self._el: list[Balance] | None = None
        self._eligible: dict[tuple[UnitKind, int | None], list[Balance]] | None = None

    # -- balances ---------------------------------------------------------------------
    def change(self, bal: Balance, delta: int, op: str, units: int = 0,
               rating_group: int | None = None, session_id: str | None = None) -> None:
        """The only way a balance changes: by `delta`, written down as a ledger row."""
        if delta == 0:
            return
        after = bal.amount + delta
        bal.amount = after
        self.rows.append(LedgerRow(bal.account_id, bal.id, op, delta, after, units,
                                   self.session_id if session_id is None else session_id,
                                   self.request_number, rating_group, self.now))

    def eligible(self, rate: Rate, rating_group: int | None) -> list[Balance]:
        """Balances that can pay for `rate`'s units, in consumption order (the order and the
        eligibility do not depend on amounts: worked out once per request)."""
        unit = rate.unit
        first = self._el
        if first is not None and unit is self._el_unit and rating_group == self._el_rg:
            return first
        key = (unit, rating_group)
        more = self._eligible
        out = more.get(key) if more is not None else None
        if out is None:
            now = self.now
            out = [b for b in self.snap.balances
                   if (b.kind is _MONEY or (b.kind is unit and (not b.rating_groups
                                                                or rating_group in b.rating_groups)))
                   and (b.valid_from is None or now >= b.valid_from)
                   and (b.valid_until is None or now < b.valid_until)]  # Balance.usable(now)
            if len(out) > 1:
                out.sort(key=_consumption_order)
            if first is None:
                self._el_unit, self._el_rg, self._el = unit, rating_group, out
            else:
                if more is None:
                    more = self._eligible = {}
                more[key] = out
        return out

    def affordable(self, rate: Rate, rating_group: int | None) -> int:
        """Units the account can pay for now at `rate`."""
        units = 0
        money = 0
        for b in self.eligible(rate, rating_group):
            if b.kind is UnitKind.MONEY:
                money += b.available
            else:
                units += b.available
        return units + rate.affordable(money)

    def reserve(self, rate: Rate, rating_group: int | None, units: int) -> list[Hold]:
        """Move up to `units` worth of credit out of the balances into holds."""
        holds: list[Hold] = []
        left = units
        for b in self.eligible(rate, rating_group):
            if left <= 0:
                break
            if b.kind is UnitKind.MONEY:
                take = min(left, rate.affordable(b.available))
                amount = rate.cost(take)
            else:
                take = min(left, b.available)
                amount = take
            if take <= 0:
                continue
            self.change(b, -amount, "reserve", take, rating_group)
            holds.append(Hold(b.id, amount, take))
            left -= take
        return holds

    def release(self, res: Reservation) -> None:
        """Give a reservation's holds back to their balances and forget it."""
        for h in res.holds:
            try:
                bal = self.snap.balance(h.balance_id)
            except KeyError:
                continue  # balance deleted since; nothing to give back to
            self.change(bal, h.amount, "release", h.units,
                        None if res.rating_group == _NO_RG else res.rating_group,
                        session_id=res.session_id)
        key: Any = res.key  # (Any: compiled, a tuple-typed key is rebuilt for each use)
        # (``del``, not ``pop(key, None)``: compiled, dict.pop is a generic method call, and
        # ``in`` then ``del`` hashes the tuple twice)
        try:
            del self.reservations[key]
        except KeyError:
            pass
        put = self.put
        if put:  # mostly empty here: released before anything is kept
            try:
                del put[key]
            except KeyError:
                pass
        deleted = self.deleted
        if deleted is None:
            deleted = self.deleted = set()
        deleted.add(key)

    def debit(self, rate: Rate, rating_group: int | None, units: int) -> tuple[int, int]:
        """Charge used units in consumption order; returns (money charged, units left unpaid)."""
        left = units
        charged = 0
        for b in self.eligible(rate, rating_group):
            if left <= 0:
                break
            if b.kind is UnitKind.MONEY:
                cost = rate.cost(left)
                if cost <= b.available:
                    pay, covered = cost, left
                else:  # whole blocks only; the rest stays unpaid (never below the floor)
                    blocks = b.available // rate.price if rate.price else 0
                    pay, covered = blocks * rate.price, blocks * rate.per
                if pay <= 0:
                    continue
                self.change(b, -pay, "debit", covered, rating_group)
                charged += pay
                left -= covered
            else:
                take = min(left, b.available)
                if take > 0:
                    self.change(b, -take, "debit", take, rating_group)
                    left -= take
        return charged, left

    # -- reservations and sessions --------------------------------------------------
    def reservation(self, session_id: str, rating_group: int | None) -> Reservation | None:
        key: Any = (session_id, rg_key(rating_group))  # (Any: see `release`)
        return self.reservations.get(key)

    def keep(self, res: Reservation) -> None:
        key: Any = res.key  # (Any: see `release`)
        self.reservations[key] = res
        self.put[key] = res
        if self.deleted is not None:
            self.deleted.discard(key)

    def session_reservations(self, session_id: str) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.session_id == session_id]

    def sharing(self, session_id: str) -> int:
        """Sessions other than `session_id` holding credit of this account, plus one."""
        if self.others is not None:
            return self.others + 1
        return len({r.session_id for r in self.reservations.values() if r.session_id != session_id}) + 1

    def touch_session(self, session_id: str, peer: str, expires_at: float) -> SessionRow:
        row = self.sessions.get(session_id)
        if row is None:
            row = SessionRow(session_id, self.snap.account.id, self.now, self.now, expires_at, peer=peer)
            self.sessions[session_id] = row
        row.updated = self.now
        if expires_at > row.expires_at:  # max(), without the generic call when compiled
            row.expires_at = expires_at
        row.requests += 1
        self.sessions_put[session_id] = row
        if self.sessions_del is not None:
            self.sessions_del.discard(session_id)
        return row

    def close_session(self, session_id: str, reason: str) -> None:
        for res in self.session_reservations(session_id):
            self.release(res)
        row = self.sessions.get(session_id)
        if row is not None:
            del self.sessions[session_id]
        if session_id in self.sessions_put:
            del self.sessions_put[session_id]
        if self.sessions_del is None:
            self.sessions_del = set()
        self.sessions_del.add(session_id)
        if row is not None:
            self.cdrs.append({
                "type": "session", "session_id": session_id, "account_id": row.account_id,
                "started": row.started, "ended": self.now, "charged": row.charged,
                "units": row.units, "requests": row.requests, "reason": reason, "peer": row.peer,
                "currency": self.snap.account.currency,
            })

    def decision(self, outcome: Outcome) -> Decision:
        snap = self.snap
        rows = self.rows
        main = snap.main_balance()
        if main is not None:
            outcome.account_id = snap.account.id
            outcome.balance = main.amount
            outcome.currency = snap.account.currency
            mid = main.id
            change = 0
            for r in rows:
                if r.balance_id == mid and r.op not in _HOLD_OPS:
                    change += r.amount
            outcome.balance_change = change
        return Decision(outcome, rows, list(self.put.values()), _sorted(self.deleted), list(self.sessions_put.values()),
                        _sorted(self.sessions_del), self.cdrs)


def _sorted(keys: Any) -> list[Any]:
    """``sorted(keys)`` of a set that may be None (empty); one key needs no sort."""
    if not keys:
        return []
    if len(keys) == 1:
        return list(keys)
    return sorted(keys)
