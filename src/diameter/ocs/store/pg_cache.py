"""A PostgreSQL server instance's optimistic cache of the accounts it charges.

Each cached account remembers the `version` it was read at. Decisions are taken on the
cache (no SELECT per request) and written with a condition on that version (see
`pg_batch`): if anything else changed the account meanwhile (another instance, an
administrative command), nothing of it is written, the account is dropped from the cache
and read again. Rating changes the cached objects in place, so an account whose writes
did not commit is always dropped, never reused.

Used by the instance's committer task only (no locking). Memory is bounded: past
`max_accounts` the oldest entries are dropped between batches.
"""

from __future__ import annotations

import json
from typing import Any

from ..books import Decision
from ..model import Account, AccountKind, AccountState, Reservation, SessionRow, Snapshot
from . import queries
from .cached import CachedAccount as BaseCachedAccount


class CachedAccount(BaseCachedAccount):
    """One account as read at `version`, plus what this instance decided since."""

    __slots__ = ("version",)

    def __init__(self, snap: Snapshot, version: int) -> None:
        super().__init__(snap)
        self.version = version


def account_from_json(row: list[Any]) -> CachedAccount:
    """A `pg_batch.LOAD` account row: id, name, kind, state, currency, version, balances,
    reservations, sessions (the last three JSON arrays or null)."""
    acc = Account(int(row[0]), row[1], AccountKind(int(row[2])), AccountState(row[3]), int(row[4]))
    snap = Snapshot(acc, [queries.balance_row(b) for b in row[6] or ()],
                    [queries.reservation_row(r) for r in row[7] or ()],
                    {s[0]: queries.session_row(s) for s in row[8] or ()})
    return CachedAccount(snap, int(row[5]))


class AccountWrites:
    """What one batch decided for one account: final row states, written together only if
    the account is still at `version`."""

    __slots__ = ("account_id", "version", "balances", "ledger", "res_put", "ses_put", "cdrs",
                 "state", "outcomes", "units")

    def __init__(self, account_id: int, version: int) -> None:
        self.account_id = account_id
        self.version = version
        self.balances: dict[int, int] = {}
        self.ledger: list[tuple[Any, ...]] = []  # the ledger's columns, id None (the database's)
        self.res_put: dict[tuple[str, int], Reservation | None] = {}
        self.ses_put: dict[str, SessionRow | None] = {}
        self.cdrs: list[tuple[Any, ...]] = []
        self.state: str | None = None
        self.outcomes: list[tuple[str, int, float, Any]] = []  # outcome as `Outcome.to_row`
        self.units: list[Any] = []  # the batch's units deciding on this account, in order


class AccountCache:
    def __init__(self, max_accounts: int = 50_000, max_outcomes: int = 20_000) -> None:
        self.max_accounts = max_accounts
        self.max_outcomes = max_outcomes
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[int, CachedAccount] = {}
        self.subs: dict[tuple[int, str], int] = {}
        self.session_account: dict[str, int] = {}
        #: outcomes this instance committed, by key: a retransmission is replayed at once
        self.recent: dict[tuple[str, int], Any] = {}  # JSON text or `Outcome.to_row`

    def trim(self) -> None:
        """Keep memory bounded (call between batches, when nothing is being decided)."""
        if len(self.accounts) > self.max_accounts:
            for aid in list(self.accounts)[:len(self.accounts) - self.max_accounts * 9 // 10]:
                del self.accounts[aid]
        if len(self.subs) > 4 * self.max_accounts:
            self.subs.clear()
        if len(self.session_account) > 4 * self.max_accounts:
            self.session_account.clear()
        if len(self.recent) > self.max_outcomes:
            for key in list(self.recent)[:len(self.recent) - self.max_outcomes * 9 // 10]:
                del self.recent[key]

    def drop(self, account_id: int) -> None:
        self.accounts.pop(account_id, None)

    def put(self, acc: CachedAccount) -> None:
        aid = acc.snap.account.id
        self.accounts[aid] = acc
        for sid in acc.res:
            self.session_account[sid] = aid
        for sid in acc.sessions:
            self.session_account[sid] = aid

    def cached_target(self, target: queries.Target) -> int | None:
        """The target's account id when the cache can tell it for sure, else None."""
        if target.subscriptions:
            typ, data = target.subscriptions[0]
            aid = self.subs.get((int(typ), data))
            return aid if aid is not None and aid in self.accounts else None
        if target.session_id is not None:
            aid = self.session_account.get(target.session_id)
            acc = self.accounts.get(aid) if aid is not None else None
            return aid if acc is not None and acc.holds_session(target.session_id) else None
        if target.account_id is not None and target.account_id in self.accounts:
            return target.account_id
        return None

    def apply(self, acc: CachedAccount, dec: Decision, w: AccountWrites, now: float) -> None:
        """Bring the cached account up to date with a decision and gather its writes."""
        aid = w.account_id
        for bid, amount in dec.balances.items():
            w.balances[bid] = amount  # the Balance objects were changed in place by Books
        for row in dec.ledger:
            w.ledger.append((None, row.ts, row.account_id, row.balance_id, row.op, row.amount,
                             row.balance_after, row.units, row.session_id, row.request_number,
                             row.rating_group))
        acc.apply_holds(dec, w.res_put, w.ses_put, self.session_account, aid)
        for c in dec.cdrs:
            w.cdrs.append((now, c.get("session_id"), c.get("account_id"), json.dumps(c, sort_keys=True)))
        if dec.account_state is not None:
            acc.snap.account.state = AccountState(dec.account_state)
            w.state = dec.account_state
