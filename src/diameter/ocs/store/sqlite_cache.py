"""The SQLite writer thread's authoritative cache of the accounts it charges.

The writer thread is normally the only writer of its file, so it keeps what it read of
an account (balances, reservations, sessions) in memory and decides on that instead of
reading it again for every request. Writes of one group commit are gathered here and
written at its end with one ``executemany`` per table, inside the same transaction, so an
answer still waits for the commit that holds its debits, ledger rows and outcome.

Other writers (the ``diameter ocs account`` commands, another server on the same file)
are detected with ``PRAGMA data_version`` right after ``BEGIN IMMEDIATE`` (when no one
else can commit until ours): if anyone else committed since our last batch, the cache is
dropped and accounts are read again. A batch that fails drops it too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ..model import AccountState, Outcome, Reservation, SessionRow, Snapshot
from . import queries
from .queries import Decide, Target, Work

_RES_UPSERT = (f"INSERT INTO reservations ({queries._RES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (session_id, rating_group) DO UPDATE SET units = excluded.units, "
               "holds = excluded.holds, expires_at = excluded.expires_at, "
               "request_number = excluded.request_number, final = excluded.final")
_SES_UPSERT = (f"INSERT INTO sessions ({queries._SES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (session_id) DO UPDATE SET updated = excluded.updated, "
               "expires_at = excluded.expires_at, charged = excluded.charged, "
               "units = excluded.units, requests = excluded.requests, final = excluded.final")
_LEDGER = ("INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, "
           "session_id, request_number, rating_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class _Account:
    __slots__ = ("snap", "res", "sessions")

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.res: dict[str, dict[int, Reservation]] = {}
        for r in snap.reservations:
            self.res.setdefault(r.session_id, {})[r.rating_group] = r
        self.sessions: dict[str, SessionRow] = dict(snap.sessions)


class AccountCache:
    """Used by the writer thread only (no locking)."""

    def __init__(self, drive: Callable[[sqlite3.Connection, Work], Any], max_accounts: int = 50_000) -> None:
        self._drive = drive
        self.max_accounts = max_accounts  # beyond: start again empty (memory stays bounded)
        self._version: int | None = None
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[int, _Account] = {}
        self.subs: dict[tuple[int, str], int] = {}
        self.session_account: dict[str, int] = {}
        self._discard_pending()

    def _discard_pending(self) -> None:
        self.balances: dict[int, int] = {}
        self.ledger: list[tuple[Any, ...]] = []
        self.res_put: dict[tuple[str, int], Reservation | None] = {}
        self.ses_put: dict[str, SessionRow | None] = {}
        self.cdrs: list[tuple[Any, ...]] = []
        self.states: dict[int, str] = {}
        self.outcomes: dict[tuple[str, int], tuple[float, str]] = {}

    # -- batch boundaries ---------------------------------------------------------------
    def begin(self, conn: sqlite3.Connection) -> None:
        """Call right after BEGIN IMMEDIATE: drop the cache if anyone else committed."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version or len(self.accounts) > self.max_accounts:
            self.clear()
            self._version = version

    def flush(self, conn: sqlite3.Connection) -> None:
        """Write what the batch decided (inside its transaction)."""
        if self.balances:
            conn.executemany("UPDATE balances SET amount = ? WHERE id = ?",
                             [(a, b) for b, a in self.balances.items()])
        if self.ledger:
            conn.executemany(_LEDGER, self.ledger)
        if self.res_put:
            gone = [k for k, r in self.res_put.items() if r is None]
            if gone:
                conn.executemany("DELETE FROM reservations WHERE session_id = ? AND rating_group = ?", gone)
            conn.executemany(_RES_UPSERT, [
                (r.session_id, r.rating_group, r.account_id, r.unit.value, r.units, r.holds_json(),
                 r.expires_at, r.request_number, int(r.final), r.peer)
                for r in self.res_put.values() if r is not None])
        if self.ses_put:
            gone_s = [(k,) for k, s in self.ses_put.items() if s is None]
            if gone_s:
                conn.executemany("DELETE FROM sessions WHERE session_id = ?", gone_s)
            conn.executemany(_SES_UPSERT, [
                (s.session_id, s.account_id, s.started, s.updated, s.expires_at, s.charged,
                 json.dumps(s.units), s.requests, s.peer, int(s.final))
                for s in self.ses_put.values() if s is not None])
        if self.cdrs:
            conn.executemany("INSERT INTO cdrs (ts, session_id, account_id, record) VALUES (?, ?, ?, ?)",
                             self.cdrs)
        if self.states:
            conn.executemany("UPDATE accounts SET state = ? WHERE id = ?",
                             [(s, a) for a, s in self.states.items()])
        if self.outcomes:
            conn.executemany("INSERT INTO outcomes (session_id, request_number, ts, outcome) "
                             "VALUES (?, ?, ?, ?)",
                             [(k[0], k[1], ts, text) for k, (ts, text) in self.outcomes.items()])
        self._discard_pending()

    # -- one unit -----------------------------------------------------------------------
    def transact(self, conn: sqlite3.Connection, target: Target, decide: Decide,
                 key: tuple[str, int] | None, now: float, scope: str | None) -> Outcome | None:
        """`queries.transact` on the cache: replay, resolve, decide, remember the writes."""
        if key is not None:
            text = self.outcomes.get(key)
            if text is not None:
                return Outcome.from_json(text[1])
            row = conn.execute("SELECT outcome FROM outcomes WHERE session_id = ? AND request_number = ?",
                               key).fetchone()
            if row is not None:
                return Outcome.from_json(row[0])
        account_id = self._resolve(conn, target)
        if account_id is None:
            return None
        acc = self._account(conn, account_id)
        if acc is None:
            return None
        snap = acc.snap
        if scope is None:
            view = Snapshot(snap.account, snap.balances,
                            [r for rs in acc.res.values() for r in rs.values()], dict(acc.sessions))
        else:
            mine = acc.res.get(scope)
            row_s = acc.sessions.get(scope)
            others = len(acc.res) - (1 if mine else 0)
            view = Snapshot(snap.account, snap.balances, list(mine.values()) if mine else [],
                            {scope: row_s} if row_s is not None else {}, others)
        dec = decide(view)
        if dec.outcome.account_id is None:
            dec.outcome.account_id = account_id
        self._apply(acc, dec, account_id, now)
        if key is not None:
            self.outcomes[key] = (now, dec.outcome.to_json())
        return dec.outcome

    def _apply(self, acc: _Account, dec: Any, account_id: int, now: float) -> None:
        for bid, amount in dec.balances.items():
            self.balances[bid] = amount  # the Balance objects were changed in place by Books
        for r in dec.ledger:
            self.ledger.append((r.ts, r.account_id, r.balance_id, r.op, r.amount, r.balance_after, r.units,
                                r.session_id, r.request_number, r.rating_group))
        for sid, rg in dec.reservations_del:
            rs = acc.res.get(sid)
            if rs is not None:
                rs.pop(rg, None)
                if not rs:
                    del acc.res[sid]
            self.res_put[(sid, rg)] = None
        for r in dec.reservations_put:
            acc.res.setdefault(r.session_id, {})[r.rating_group] = r
            self.res_put[(r.session_id, r.rating_group)] = r
            self.session_account[r.session_id] = account_id
        for sid in dec.sessions_del:
            acc.sessions.pop(sid, None)
            self.ses_put[sid] = None
        for s in dec.sessions_put:
            acc.sessions[s.session_id] = s
            self.ses_put[s.session_id] = s
            self.session_account[s.session_id] = account_id
        for c in dec.cdrs:
            self.cdrs.append((now, c.get("session_id"), c.get("account_id"),
                              json.dumps(c, sort_keys=True)))
        if dec.account_state is not None:
            acc.snap.account.state = AccountState(dec.account_state)
            self.states[account_id] = dec.account_state

    def _resolve(self, conn: sqlite3.Connection, target: Target) -> int | None:
        if target.subscriptions:
            for typ, data in target.subscriptions:
                k = (int(typ), data)
                hit = self.subs.get(k)
                if hit is None:
                    row = conn.execute("SELECT account_id FROM subscriptions WHERE type = ? AND data = ?",
                                       k).fetchone()
                    if row is None:
                        continue
                    hit = self.subs[k] = int(row[0])
                return hit
        elif target.session_id is not None:
            hit = self.session_account.get(target.session_id)
            if hit is not None and hit in self.accounts:
                return hit
        elif target.account_id is not None and target.account_id in self.accounts:
            return target.account_id
        found: int | None = self._drive(conn, queries.resolve(target))
        return found

    def _account(self, conn: sqlite3.Connection, account_id: int) -> _Account | None:
        acc = self.accounts.get(account_id)
        if acc is None:
            snap = self._drive(conn, queries.load(account_id))
            if snap is None:
                return None
            acc = self.accounts[account_id] = _Account(snap)
            for sid in acc.res:
                self.session_account[sid] = account_id
            for sid in acc.sessions:
                self.session_account[sid] = account_id
        return acc
