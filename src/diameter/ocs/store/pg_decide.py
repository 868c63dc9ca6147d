"""The PostgreSQL committer's work per request, compiled with the rating core (mypyc).

`pg_batch` drives it: a request waits as a `Unit` (its caller's future or `Then`),
`cached_targets` resolves a batch's units on the cache, `decide_batch` decides them in
order on the cached accounts (`CachedAccount`, at the `version` read) and gathers each
account's writes (`AccountWrites`, `apply`), `write_args` turns them into WRITE's
parameters, and `answer_written` answers the units of the accounts written. The same
decisions as the SQLite cache's: the account's view and holds are `account_ops`'.
``DIAMETER_PURE_PYTHON=1`` runs this source.
"""

from __future__ import annotations

import logging
import marshal
from collections.abc import Callable, Iterable
from typing import Any

from ..books import Decision
from ..model import AccountState, Outcome, Reservation, SessionRow, Snapshot
from . import account_ops
from .account_ops import CachedAccount

log = logging.getLogger("diameter.ocs.store")


class Then:
    """In a unit's place of a caller's future (`BatchCommitter.submit_then`): ``then(value,
    None)`` or ``then(None, exc)`` is called as the unit is answered, in the committer's
    turn of the event loop (no task wakes up for it)."""

    def __init__(self, then: Callable[[Any, BaseException | None], None]) -> None:
        self.then = then
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        if self._done:
            return
        self._done = True
        try:
            self.then(value, None)
        except Exception:  # noqa: BLE001 - the caller's bug must not stop the committer
            log.exception("ocs postgres: a transaction's callback failed")

    def set_exception(self, exc: BaseException) -> None:
        if self._done:
            return
        self._done = True
        try:
            self.then(None, exc)
        except Exception:  # noqa: BLE001
            log.exception("ocs postgres: a transaction's callback failed")


class Unit:
    """One money-path request waiting for its batch. `fut`: an asyncio future or `Then`."""

    def __init__(self, target: Any, decide: Callable[[Snapshot], Decision],
                 key: tuple[str, int] | None, now: float, scope: str | None, fut: Any) -> None:
        self.target = target
        self.decide = decide
        self.key = key
        self.now = now
        self.scope = scope
        self.fut = fut
        self.tries = 0
        self.followers: list[Any] = []
        self.account_id: int | None = None
        self.replay: Any = None  # a recorded outcome: JSON text or marshal bytes
        self.result: Outcome | None = None
        self.text: Any = None  # the result as recorded (the `marshal` dump of `Outcome.to_row`)


class AccountWrites:
    """What one batch decided for one account: final row states, written together only if
    the account is still at `version`."""

    def __init__(self, account_id: int, version: int) -> None:
        self.account_id = account_id
        self.version = version
        self.balances: dict[int, int] = {}
        self.ledger: list[tuple[Any, ...]] = []  # the ledger's columns, id None (the database's)
        self.res_put: dict[tuple[str, int], Reservation | None] = {}
        self.ses_put: dict[str, SessionRow | None] = {}
        # the keys of `res_put` / `ses_put` whose row is in the database (at `version`):
        # updated in place, the others inserted
        self.res_old: set[tuple[str, int]] = set()
        self.ses_old: set[str] = set()
        self.cdrs: list[tuple[Any, ...]] = []  # ts, session, account, the record (a dict)
        self.state: str | None = None
        # the outcomes' rows in their table's column order: (session, number, ts, None,
        # ``recorded``: the `marshal` dump of `Outcome.to_row`, as SQLite records it)
        self.outcomes: list[tuple[Any, ...]] = []
        self.units: list[Unit] = []  # the batch's units deciding on this account, in order


def apply(acc: CachedAccount, dec: Decision, w: AccountWrites, now: float,
          session_account: dict[str, int]) -> None:
    """Bring the cached account up to date with a decision and gather its writes."""
    balances = w.balances
    for bid, amount in dec.balances.items():
        balances[bid] = amount  # the Balance objects were changed in place by Books
    if dec.ledger:
        ledger = w.ledger
        for row in dec.ledger:
            ledger.append((None, row.ts, row.account_id, row.balance_id, row.op, row.amount,
                           row.balance_after, row.units, row.session_id, row.request_number,
                           row.rating_group))
    _note_old_rows(acc, dec, w)
    account_ops.apply_holds(acc.res, acc.sessions, dec, w.res_put, w.ses_put, session_account,
                            w.account_id)
    for c in dec.cdrs:  # the record's JSON text is made where the batch is sent (its floats cost)
        w.cdrs.append((now, c.get("session_id"), c.get("account_id"), c))
    if dec.account_state is not None:
        acc.snap.account.state = AccountState(dec.account_state)
        w.state = dec.account_state


def _note_old_rows(acc: CachedAccount, dec: Decision, w: AccountWrites) -> None:
    """Before `dec` changes the cached account: note which of the reservation and session
    rows it touches first in this batch are in the database (the cache holds all of the
    account's rows as of `w.version`), so the write updates those and inserts the others."""
    res = acc.res
    res_put = w.res_put
    dels: list[Any] = dec.reservations_del
    for key in dels:
        if key not in res_put:
            got = res.get(key[0])
            if got is not None and key[1] in got:
                w.res_old.add((key[0], key[1]))
    for r in dec.reservations_put:
        sid = r.session_id
        rg = r.rating_group
        if (sid, rg) not in res_put:
            got = res.get(sid)
            if got is not None and rg in got:
                w.res_old.add((sid, rg))
    sessions = acc.sessions
    ses_put = w.ses_put
    for sid in dec.sessions_del:
        if sid not in ses_put and sid in sessions:
            w.ses_old.add(sid)
    for s in dec.sessions_put:
        sid = s.session_id
        if sid not in ses_put and sid in sessions:
            w.ses_old.add(sid)


def queue(pending: list[Unit], inflight: dict[tuple[str, int], Unit],
          recent: dict[tuple[str, int], Any], target: Any, decide: Callable[[Snapshot], Decision],
          key: tuple[str, int] | None, now: float, scope: str | None, fut: Any) -> None:
    """Queue a request in `pending` as a unit answering `fut`; a retransmission of an
    outcome committed here (in `recent`) is answered at once, one of a unit still in
    progress (in `inflight`) shares its answer."""
    k: Any = key  # (Any: compiled, a narrowed tuple key is unboxed and built again for each use)
    if k is not None:
        text = recent.get(k)
        if text is not None:  # committed here: a retransmission
            fut.set_result(replay(text))
            return
        first = inflight.get(k)
        if first is not None:  # the original is still in progress: share its answer
            first.followers.append(fut)
            return
    unit = Unit(target, decide, key, now, scope, fut)
    if k is not None:
        inflight[k] = unit
    pending.append(unit)


def cached_target(accounts: dict[int, CachedAccount], subs: dict[tuple[int, str], int],
                  session_account: dict[str, int], target: Any) -> int | None:
    """The target's account id when the cache can tell it for sure, else None."""
    subscriptions: Any = target.subscriptions
    if subscriptions:
        typ, data = subscriptions[0]
        aid = subs.get((int(typ), data))
        return aid if aid is not None and aid in accounts else None
    session_id: Any = target.session_id
    if session_id is not None:
        aid = session_account.get(session_id)
        if aid is None:
            return None
        acc = accounts.get(aid)
        return aid if acc is not None and acc.holds_session(session_id) else None
    account_id: Any = target.account_id
    if account_id is not None and account_id in accounts:
        return account_id
    return None


def cached_targets(batch: list[Unit], accounts: dict[int, CachedAccount],
                   subs: dict[tuple[int, str], int], session_account: dict[str, int]) -> list[Unit]:
    """Resolve each unit's account on the cache (`Unit.account_id`); returns those it cannot."""
    need: list[Unit] = []
    for unit in batch:
        unit.replay = None
        aid = cached_target(accounts, subs, session_account, unit.target)
        unit.account_id = aid
        if aid is None:
            need.append(unit)
    return need


def decide_batch(committer: Any, batch: list[Unit], accounts: dict[int, CachedAccount],
                 session_account: dict[str, int], busy: set[int], waiting: list[Unit],
                 max_tries: int) -> tuple[dict[int, AccountWrites], list[Unit]]:
    """Decide a batch's units in order on the cache: the writes by account, and the units
    to decide again. A unit of a `busy` account goes to `waiting`; a replay, an unknown
    account, a failing decision or a unit out of tries is answered through `committer`
    (``done``, ``failed``, ``_alone``)."""
    writes: dict[int, AccountWrites] = {}
    again: list[Unit] = []
    poisoned: set[int] = set()
    for unit in batch:
        if unit.replay is not None:
            committer.done(unit, Outcome.from_json(unit.replay))
            continue
        aid = unit.account_id
        if aid is None:
            committer.done(unit, None)  # no such account: nothing to write
            continue
        if aid in poisoned:
            again.append(unit)
            continue
        w = writes.get(aid)
        if w is None and aid in busy:  # another batch's write is in the database
            waiting.append(unit)
            continue
        acc = accounts.get(aid)
        if acc is None:  # dropped meanwhile (by another batch): resolve and read again
            unit.tries += 1
            if unit.tries >= max_tries:
                committer._alone(unit)
            else:
                again.append(unit)
            continue
        if w is None:
            w = writes[aid] = AccountWrites(aid, acc.version)
        try:
            dec = unit.decide(account_ops.view(acc.snap, acc.res, acc.sessions, unit.scope))
        except Exception as exc:
            # the cached objects may be half changed: forget the account; the units
            # decided on it in this batch are decided again on what is read next time
            accounts.pop(aid, None)
            poisoned.add(aid)
            again.extend(writes.pop(aid).units)
            committer.failed(unit, exc)
            continue
        out = dec.outcome
        if out.account_id is None:
            out.account_id = aid
        apply(acc, dec, w, unit.now, session_account)
        key = unit.key
        if key is not None:
            # recorded as this dump (one bytes object to ship, not the row's ~30 objects to
            # marshal here and again in the writer process); kept for retransmissions
            text = marshal.dumps(out.to_row(), 4)
            unit.text = text
            w.outcomes.append((key[0], key[1], unit.now, None, text))
        unit.result = out
        w.units.append(unit)
    return writes, again


def replay(recorded: Any) -> Outcome:
    """An outcome recorded as JSON text or marshal bytes, or kept as its `Outcome.to_row`
    list, replayed."""
    if isinstance(recorded, list):
        recorded = marshal.dumps(recorded, 4)  # the form `Outcome.from_json` reads from bytes
    return Outcome.from_json(recorded)


def answer(unit: Unit, value: Outcome | None, text: Any, inflight: dict[tuple[str, int], Unit],
           recent: dict[tuple[str, int], Any]) -> None:
    """Answer a unit (and its followers); `text`: its outcome as recorded (a JSON text,
    marshal bytes or an `Outcome.to_row` list), remembered in `recent` for retransmissions."""
    k: Any = unit.key  # (Any: as in `queue`)
    if k is not None:
        try:  # (not ``pop(k, None)``: compiled, a generic method call)
            del inflight[k]
        except KeyError:
            pass
        if value is not None and not value.replayed:
            if not text:
                text = value.to_row()
            recent[k] = text
    fut = unit.fut
    if isinstance(fut, Then):
        fut.set_result(value)
    elif not fut.done():
        fut.set_result(value)
    for fut in unit.followers:
        if not fut.done():
            fut.set_result(None if value is None else replay(text or value.to_row()))


def answer_written(writes: dict[int, AccountWrites], written: set[int],
                   accounts: dict[int, CachedAccount], inflight: dict[tuple[str, int], Unit],
                   recent: dict[tuple[str, int], Any]) -> tuple[int, list[AccountWrites]]:
    """After a batch's WRITE returned the ids `written`: answer their units (and count
    them), bump their cached versions; returns the count and the writes not written."""
    answered = 0
    conflicts: list[AccountWrites] = []
    for aid, w in writes.items():
        if aid not in written:
            conflicts.append(w)
            continue
        acc = accounts.get(aid)
        if acc is not None:
            acc.version = w.version + 1
        for unit in w.units:
            answer(unit, unit.result, unit.text, inflight, recent)
        answered += len(w.units)
    return answered, conflicts


def _columns(rows: list[tuple[Any, ...]], n: int) -> list[Any]:
    return list(zip(*rows)) if rows else [()] * n


def write_args(writes: Iterable[AccountWrites]) -> list[Any]:
    """WRITE's parameters for a batch's accounts (one sequence per column; those of
    `pg_batch_sql.WRITE_JSON_ARGS` still to be encoded), but the ledger's,
    reservations' and sessions' rows, one sequence of tuples each, in their table's column
    order: the reservations and sessions to insert at $11 and $14, those to update in
    place (`AccountWrites.res_old`, `ses_old`) at $22 and $23."""
    accounts: list[tuple[Any, ...]] = []
    balances: list[tuple[Any, ...]] = []
    ledger: list[tuple[Any, ...]] = []
    res_del: list[tuple[Any, ...]] = []
    res_put: list[tuple[Any, ...]] = []
    res_upd: list[tuple[Any, ...]] = []
    ses_upd: list[tuple[Any, ...]] = []
    ses_del: list[tuple[Any, ...]] = []
    ses_put: list[tuple[Any, ...]] = []
    cdrs: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    owners: list[int] = []
    for w in writes:
        aid = w.account_id
        accounts.append((aid, w.version, w.state))
        for bid, amount in w.balances.items():
            balances.append((bid, amount, aid))
        ledger.extend(w.ledger)
        res_old = w.res_old
        for key, r in w.res_put.items():
            if r is None:
                res_del.append((key[0], key[1], aid))
            else:
                (res_upd if key in res_old else res_put).append(
                    (r.session_id, r.rating_group, r.account_id, r.unit._value_, r.units,
                     [[h.balance_id, h.amount, h.units] for h in r.holds], r.expires_at,
                     r.request_number, int(r.final), r.peer))
        ses_old = w.ses_old
        for sid, s in w.ses_put.items():
            if s is None:
                ses_del.append((sid, aid))
            else:
                (ses_upd if sid in ses_old else ses_put).append(
                    (s.session_id, s.account_id, s.started, s.updated, s.expires_at,
                     s.charged, s.units, s.requests, s.peer, int(s.final)))
        for c in w.cdrs:
            cdrs.append((c[0], c[1], c[2], c[3], aid))
        for o in w.outcomes:
            outcomes.append(o)
            owners.append(aid)
    return [*_columns(accounts, 3), *_columns(balances, 3), ledger, *_columns(res_del, 3), res_put,
            *_columns(ses_del, 2), ses_put, *_columns(cdrs, 5), outcomes, owners, res_upd, ses_upd]
