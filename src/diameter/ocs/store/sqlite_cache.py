"""The SQLite writer's authoritative cache of the accounts it charges, and its batch writes.

The event loop is normally the only writer of its file, so it keeps what it read of an
account (balances, reservations, sessions) in memory and decides on that instead of
reading it again for every request. What one group commit decides is gathered here as
rows (:meth:`AccountCache.take`) and written by the writer process
(:mod:`.sqlite_writer`) inside the same transaction as the COMMIT, so an answer still
waits for the commit that holds its debits, ledger rows and outcome. Times travel as
seconds in whole microseconds (``round(t * 1e6) / 1e6``: floats cost less to send than
integers of that size).

Other writers (the ``diameter ocs account`` commands, another server on the same file)
are detected with ``PRAGMA data_version`` right after ``BEGIN IMMEDIATE`` (when no one
else can commit until ours): if anyone else committed since our last batch, the cache is
dropped and accounts are read again. A batch that fails drops it too.

Later batches may be decided while earlier ones are still being written: the outcomes
taken for a write stay in :attr:`AccountCache.inflight` until that write is reported
committed (:meth:`AccountCache.committed`), so a retransmission of one of its requests is
replayed from there, and the file is only read (through a read-only connection) for what
the cache lacks, which the uncommitted batches cannot have changed. Which request numbers
of a session have an outcome is read once, with the session's first request (adding those
of the batches in flight), and kept up to date: only a number already there (a
retransmission) is looked up again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..books import Decision
from ..model import UNIT_VALUE, AccountState, LedgerRow, Outcome, Reservation, SessionRow
from ..rating import Charging, charge_on
from . import account_ops, queries
from .account_ops import CachedAccount
from .base import StorageError
from .queries import Decide, Target, Work


#: recorded outcomes of a JSON array of [session id, request number] keys
RECORDED = ("SELECT o.session_id, o.request_number, o.outcome FROM json_each(?) j JOIN outcomes o "
            "ON o.session_id = json_extract(j.value, '$[0]') "
            "AND o.request_number = json_extract(j.value, '$[1]')")
#: every recorded outcome of a JSON array of session ids
SESSION_RECORDED = ("SELECT session_id, request_number, outcome FROM outcomes "
                    "WHERE session_id IN (SELECT value FROM json_each(?))")

#: the account of every session row and reservation of a JSON array of session ids
SESSION_OWNERS = ("SELECT session_id, account_id FROM sessions WHERE session_id IN (SELECT value FROM json_each(?1)) "
                  "UNION ALL SELECT session_id, account_id FROM reservations "
                  "WHERE session_id IN (SELECT value FROM json_each(?1))")
#: the account of one session's rows, if any
SESSION_OWNER = ("SELECT account_id FROM sessions WHERE session_id = ?1 "
                 "UNION ALL SELECT account_id FROM reservations WHERE session_id = ?1 LIMIT 1")

_dumps = json.JSONEncoder(separators=(",", ":")).encode
#: what a batch decided: one list per table, in the order
#: :func:`diameter.ocs.store.sqlite_rows.write_rows` takes, its rows' values one after
#: the other (no tuple per row to send and unpack); fresh lists of plain values, owned by
#: whoever takes them: they are sent to the writer process
Rows = tuple[list[Any], ...]


def _us(t: float) -> int:
    """``round(t * 1e6)`` (half to even), without the generic ``round`` call when compiled."""
    x = t * 1_000_000
    if not 0.0 <= x < 4.0e15:  # beyond: whole floats, NaN or infinity: as round() does
        return round(x)
    i = int(x)
    f = x - i  # exact: i is within 1 of x, and a float
    if f > 0.5 or (f == 0.5 and i & 1):
        i += 1
    return i


def _secs(t: float) -> float:
    """`t` in whole microseconds, ``round(t * 1e6) / 1e6``: the time stored for `t`."""
    return _us(t) / 1e6


def _ledger_groups(ledger: list[Any], balances: dict[Any, Any], rows: list[LedgerRow], now: float,
                   ts: float) -> None:
    """Append a decision's ledger rows to `ledger` as the writer takes them: runs of rows of
    one (time, account, session, request number), a decision's rows mostly, as that head
    once, the run's length, then each row's own values (balance, op, amount, balance after,
    units, rating group): fewer values to build, send and free than ten per row. Each row's
    balance after goes to `balances` too (the last row of a balance holds its new amount:
    `Decision.balances`, without its dict; the ids and amounts boxed once for both)."""
    count = 0
    at = -1  # where the run's length goes
    t0 = 0.0
    acc0 = 0
    sid0: str | None = None
    num0: int | None = None
    for r in rows:  # (a loop: a generator is an object of its own)
        t = ts if r.ts == now else _secs(r.ts)
        acc, sid, num = r.account_id, r.session_id, r.request_number
        if at < 0 or t != t0 or acc != acc0 or sid != sid0 or num != num0:
            if at >= 0:
                ledger[at] = count
            ledger.append(t)
            ledger.append(acc)
            ledger.append(sid)
            ledger.append(num)
            at = len(ledger)
            ledger.append(0)
            count = 0
            t0, acc0, sid0, num0 = t, acc, sid, num
        bid: Any = r.balance_id
        after: Any = r.balance_after
        balances[bid] = after
        ledger.append(bid)
        ledger.append(r.op)
        ledger.append(r.amount)
        ledger.append(after)
        ledger.append(r.units)
        ledger.append(r.rating_group)
        count += 1
    if at >= 0:
        ledger[at] = count


class AccountCache:
    """Used by the committer only (on the event loop; no locking)."""

    def __init__(self, drive: Callable[[Any, Work], Any], max_accounts: int = 50_000) -> None:
        self._drive = drive
        self.max_accounts = max_accounts  # beyond: start again empty (memory stays bounded)
        self.max_sessions_known = 4 * max_accounts  # see `recorded_numbers`
        self.max_session_accounts = 4 * max_accounts  # see `full`
        self._version: int | None = None
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[int, CachedAccount] = {}
        #: subscription data -> type -> account id (nested: a tuple key costs its building,
        #: hashing and comparing on every look-up)
        self.subs: dict[str, dict[int, int]] = {}
        self.session_account: dict[str, int] = {}
        #: outcomes of the batch being written (taken, maybe not committed yet)
        self.inflight: dict[tuple[str, int], Outcome] = {}
        #: session id -> every request number with an outcome in the file, committed or
        #: being written, while the cache stays valid (a number not there needs no read)
        self.recorded_numbers: dict[str, set[int]] = {}
        self._discard_pending()

    def know_recorded(self, numbers: dict[str, set[int]]) -> None:
        """Remember the request numbers with an outcome of sessions just read (bounded)."""
        if len(self.recorded_numbers) + len(numbers) > self.max_sessions_known:
            self.recorded_numbers = {}  # forget: those sessions are read again when needed
        self.recorded_numbers.update(numbers)

    def _discard_pending(self) -> None:
        self.balances: dict[int, int] = {}
        self.ledger: list[Any] = []  # runs of rows (see `_ledger_groups`)
        self.res_put: dict[tuple[str, int], Reservation | None] = {}
        self.ses_put: dict[str, SessionRow | None] = {}
        self.cdrs: list[Any] = []
        self.states: dict[int, str] = {}
        self.outcomes: dict[tuple[str, int], Outcome] = {}
        self.outcome_rows: list[Any] = []

    # -- batch boundaries ---------------------------------------------------------------
    @property
    def version(self) -> int | None:
        """``PRAGMA data_version`` the cache is valid for (None: unknown)."""
        return self._version

    def begin(self, version: int) -> None:
        """`version`: ``PRAGMA data_version`` read right after BEGIN IMMEDIATE; drops the
        cache if anyone else committed since."""
        if version != self._version or self.full:
            self.clear()
            self._version = version

    def forget(self) -> None:
        """Empty, and valid for no version (a new writer connection counts its own)."""
        self.clear()
        self._version = None

    @property
    def full(self) -> bool:
        """More accounts kept than `max_accounts`, or more sessions remembered than four times
        that (`session_account` gains every session charged: without this it grew for ever)."""
        return (len(self.accounts) > self.max_accounts
                or len(self.session_account) > self.max_session_accounts)

    def trim(self) -> None:
        """Start again empty if full (only when no batch is in flight)."""
        if self.full:
            self.clear()

    def take(self) -> tuple[Rows | None, list[tuple[str, int]]]:
        """What the batch decided, as rows for ``write_rows`` (None: nothing), and the keys
        of its outcomes, which stay in :attr:`inflight` until :meth:`committed`."""
        keys = list(self.outcomes)
        if self.inflight:
            self.inflight.update(self.outcomes)
        else:
            self.inflight = self.outcomes
        self.outcomes = {}
        if not (self.balances or self.ledger or self.res_put or self.ses_put or self.cdrs
                or self.states or self.outcome_rows):
            return None, keys
        rd: list[Any] = []
        rp: list[Any] = []
        for k, r in self.res_put.items():
            if r is None:
                rd.extend(k)
            else:
                rp.extend((r.session_id, r.rating_group, r.account_id, UNIT_VALUE[r.unit], r.units,
                           [(h.balance_id, h.amount, h.units) for h in r.holds], _secs(r.expires_at),
                           r.request_number, int(r.final), r.peer))
        sd: list[str] = []
        sp: list[Any] = []
        for sid, s in self.ses_put.items():
            if s is None:
                sd.append(sid)
            else:
                sp.extend((sid, s.account_id, _secs(s.started), _secs(s.updated), _secs(s.expires_at),
                           s.charged, s.units, s.requests, s.peer, int(s.final)))
        bal: list[Any] = []
        for bid, amount in self.balances.items():
            bal.append(bid)
            bal.append(amount)
        out = (bal, self.ledger, rd, rp, sd, sp, self.cdrs,
               [(s, a) for a, s in self.states.items()], self.outcome_rows)
        self._discard_pending()
        return out, keys

    def committed(self, keys: list[tuple[str, int]]) -> None:
        """A batch taken earlier is committed: its outcomes are read from the file now."""
        inflight = self.inflight
        ks: list[Any] = keys  # (Any: compiled, a tuple-typed key is rebuilt for each use)
        for k in ks:
            try:  # (not ``pop(k, None)``: compiled, a generic method call; nor ``in`` then ``del``)
                del inflight[k]
            except KeyError:
                pass

    def flush(self, write: Callable[[Rows | None], None]) -> None:
        """Write what the batch decided so far, in its transaction (before other work reads)."""
        rows, _keys = self.take()
        write(rows)

    # -- one unit -----------------------------------------------------------------------
    def transact(self, conn: Any, target: Target, decide: Decide,
                 key: tuple[str, int] | None, now: float, scope: str | None,
                 recorded: dict[tuple[str, int], str | bytes] | None = None) -> Outcome | None:
        """`queries.transact` on the cache: replay, resolve, decide, remember the writes.

        `recorded`: outcomes of this batch's keys already read from the file (all of them:
        a key missing there was not committed before this batch)."""
        k: Any = key  # (Any: compiled, a tuple-typed key is rebuilt for each use)
        numbers: set[int] | None = None
        if key is not None:
            numbers = self.recorded_numbers.get(key[0])
        # a number missing from its session's known numbers has no outcome in this batch, in
        # those in flight or in the file (`recorded_numbers`): nothing to look up
        if key is not None and (numbers is None or key[1] in numbers):
            done = self.outcomes.get(k)
            if done is None:
                done = self.inflight.get(k)
            if done is not None:
                return Outcome.from_json(done.to_json())
            if recorded is None:
                row = conn.execute("SELECT outcome FROM outcomes WHERE session_id = ? "
                                   "AND request_number = ?", key).fetchone()
                text = None if row is None else row[0]
            else:
                text = recorded.get(k)
            if text is not None:
                return Outcome.from_json(text)
        account_id = self._resolve(conn, target)
        if account_id is None:
            return None
        acc = self._account(conn, account_id)
        if acc is None:
            return None
        if key is not None:
            sid = key[0]
            if sid not in acc.sessions and sid not in acc.res and self._foreign(conn, sid, account_id):
                # a client reusing a Session-Id for another subscriber: its rows would be
                # written over the other account's (its holds lost to the audit)
                raise StorageError(f"Session-Id {sid!r} is open on another account")
        if isinstance(decide, Charging) and scope is not None:  # the common case: direct calls when compiled
            req = decide.req
            dec = charge_on(account_ops.session_books(acc.snap, acc.res, acc.sessions, scope, decide.now,
                                                      req.session_id, req.request_number), req, decide.tariff)
        else:
            dec = decide(account_ops.view(acc.snap, acc.res, acc.sessions, scope))
        out = dec.outcome
        if out.account_id is None:
            out.account_id = account_id
        ts = _secs(now)
        self._apply(acc, dec, account_id, now, ts)
        if key is not None:
            self.outcomes[k] = out
            sid, number = key
            self.outcome_rows.extend((sid, number, ts, out.to_row()))
            if numbers is not None:  # (the session's set read above: nothing replaced it since)
                numbers.add(number)
        return out

    def _apply(self, acc: CachedAccount, dec: Decision, account_id: int, now: float, ts: float) -> None:
        """Remember what `dec` changes (`ts`: ``_secs(now)``)."""
        if dec.ledger:  # and the balances (the Balance objects were changed in place by Books)
            _ledger_groups(self.ledger, self.balances, dec.ledger, now, ts)
        account_ops.apply_holds(acc.res, acc.sessions, dec, self.res_put, self.ses_put,
                                self.session_account, account_id)
        for c in dec.cdrs:  # the record's JSON text is made by the writer (its floats cost)
            self.cdrs.extend((ts, c.get("session_id"), c.get("account_id"), c))
        if dec.account_state is not None:
            acc.snap.account.state = AccountState(dec.account_state)
            self.states[account_id] = dec.account_state

    def know_owners(self, rows: Any) -> None:
        """Remember the accounts of session rows just read (`SESSION_OWNERS`), unless the
        cache knows newer."""
        sa = self.session_account
        for sid, account_id in rows:
            if sid not in sa:
                sa[sid] = int(account_id)

    def _foreign(self, conn: Any, sid: str, account_id: int) -> bool:
        """Whether session `sid`, not open on account `account_id`, is open on another one."""
        owner = self.session_account.get(sid)
        if owner is None:
            if sid in self.recorded_numbers:  # read with its outcomes (`know_owners`): no rows
                return False
            row = conn.execute(SESSION_OWNER, (sid,)).fetchone()
            if row is None:
                return False
            owner = self.session_account[sid] = int(row[0])
        if owner == account_id:
            return False
        other = self.accounts.get(owner)
        return other is None or sid in other.sessions or sid in other.res

    def _resolve(self, conn: Any, target: Target) -> int | None:
        if target.subscriptions:
            for typ, data in target.subscriptions:
                t = int(typ)
                by_type = self.subs.get(data)
                hit = by_type.get(t) if by_type is not None else None
                if hit is None:
                    row = conn.execute("SELECT account_id FROM subscriptions WHERE type = ? AND data = ?",
                                       (t, data)).fetchone()
                    if row is None:
                        continue
                    if by_type is None:
                        by_type = self.subs[data] = {}
                    hit = by_type[t] = int(row[0])
                return hit
        elif target.session_id is not None:
            hit = self.session_account.get(target.session_id)
            if hit is not None and hit in self.accounts:
                return hit
        elif target.account_id is not None and target.account_id in self.accounts:
            return target.account_id
        found: int | None = self._drive(conn, queries.resolve(target))
        return found

    def _account(self, conn: Any, account_id: int) -> CachedAccount | None:
        acc = self.accounts.get(account_id)
        if acc is None:
            snap = self._drive(conn, queries.load(account_id))
            if snap is None:
                return None
            acc = self.accounts[account_id] = CachedAccount(snap)
            for sid in acc.res:
                self.session_account[sid] = account_id
            for sid in acc.sessions:
                self.session_account[sid] = account_id
        return acc
