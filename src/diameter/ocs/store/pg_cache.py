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

from typing import Any

from ..books import Decision
from ..model import Account, AccountKind, AccountState, Snapshot
from . import pg_decide, queries
from .pg_decide import AccountWrites, CachedAccount

__all__ = ["AccountCache", "AccountWrites", "CachedAccount", "account_from_json"]


def account_from_json(row: list[Any]) -> CachedAccount:
    """A `pg_batch.LOAD` account row: id, name, kind, state, currency, version, balances,
    reservations, sessions (the last three JSON arrays or null)."""
    acc = Account(int(row[0]), row[1], AccountKind(int(row[2])), AccountState(row[3]), int(row[4]))
    snap = Snapshot(acc, [queries.balance_row(b) for b in row[6] or ()],
                    [queries.reservation_row(r) for r in row[7] or ()],
                    {s[0]: queries.session_row(s) for s in row[8] or ()})
    return CachedAccount(snap, int(row[5]))


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
        return pg_decide.cached_target(self.accounts, self.subs, self.session_account, target)

    def apply(self, acc: CachedAccount, dec: Decision, w: AccountWrites, now: float) -> None:
        """Bring the cached account up to date with a decision and gather its writes."""
        pg_decide.apply(acc, dec, w, now, self.session_account)
