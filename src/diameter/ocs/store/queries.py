"""Database work as sans-IO generators, shared by the SQLite and PostgreSQL backends.

Each generator yields `Query` tuples ``(sql, args, mode)`` and receives their results;
a backend drives it inside one transaction (sync in SQLite's writer thread, awaited on
asyncpg). SQL is written with ``?`` placeholders; the PostgreSQL backend renumbers them.
Modes: ``one`` (first row or None), ``all`` (rows), ``exec`` (no result), ``many``
(executemany; args is a list of tuples).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from ..books import Decision
from ..model import (
    Account,
    AccountKind,
    AccountState,
    AuditReport,
    Balance,
    LedgerRow,
    Outcome,
    Reservation,
    SessionRow,
    Snapshot,
    UnitKind,
)

Query = tuple[str, Any, str]
Work = Generator[Query, Any, Any]
Decide = Callable[[Snapshot], Decision]


@dataclass(frozen=True)
class Target:
    """Which account a transaction is about: by subscription, id, name or open session."""

    subscriptions: tuple[tuple[int, str], ...] = ()
    account_id: int | None = None
    name: str | None = None
    session_id: str | None = None


_BAL_COLS = "id, account_id, kind, amount, type_code, floor, rating_groups, valid_from, valid_until, priority"
_RES_COLS = ("session_id, rating_group, account_id, unit, units, holds, expires_at, request_number, "
             "final, peer")
_SES_COLS = "session_id, account_id, started, updated, expires_at, charged, units, requests, peer, final"


def balance_row(r: Sequence[Any]) -> Balance:
    rgs = tuple(int(x) for x in r[6].split(",") if x) if r[6] else ()
    return Balance(int(r[0]), int(r[1]), UnitKind(r[2]), int(r[3]), int(r[4]), int(r[5]), rgs,
                   r[7], r[8], int(r[9]))


def reservation_row(r: Sequence[Any]) -> Reservation:
    return Reservation(r[0], int(r[1]), int(r[2]), UnitKind(r[3]), int(r[4]),
                       Reservation.holds_from_json(r[5]), float(r[6]), int(r[7]), bool(r[8]), r[9])


def session_row(r: Sequence[Any]) -> SessionRow:
    return SessionRow(r[0], int(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]),
                      json.loads(r[6]), int(r[7]), r[8], bool(r[9]))


def resolve(target: Target) -> Work:
    """Account id of a target, or None."""
    if target.account_id is not None:
        row = yield ("SELECT id FROM accounts WHERE id = ?", (target.account_id,), "one")
        return None if row is None else int(row[0])
    if target.name is not None:
        row = yield ("SELECT id FROM accounts WHERE name = ?", (target.name,), "one")
        return None if row is None else int(row[0])
    if target.session_id is not None:
        row = yield ("SELECT account_id FROM sessions WHERE session_id = ?", (target.session_id,), "one")
        if row is None:
            row = yield ("SELECT account_id FROM reservations WHERE session_id = ?",
                         (target.session_id,), "one")
        return None if row is None else int(row[0])
    for typ, data in target.subscriptions:
        row = yield ("SELECT account_id FROM subscriptions WHERE type = ? AND data = ?",
                     (int(typ), data), "one")
        if row is not None:
            return int(row[0])
    for _typ, data in target.subscriptions:  # tolerated: a client that labels the type wrongly
        row = yield ("SELECT account_id FROM subscriptions WHERE data = ?", (data,), "one")
        if row is not None:
            return int(row[0])
    return None


def load(account_id: int, lock: str = "", with_subscriptions: bool = False,
         session_id: str | None = None) -> Work:
    """Snapshot of one account; `lock` is appended to the account SELECT (FOR UPDATE OF a).

    With `session_id` only that session's reservations and row are loaded, plus the number
    of other sessions holding credit (`Snapshot.other_sessions`)."""
    cols = ", ".join(f"b.{c.strip()}" for c in _BAL_COLS.split(","))
    rows = yield (f"SELECT a.id, a.name, a.kind, a.state, a.currency, {cols} FROM accounts a "
                  f"LEFT JOIN balances b ON b.account_id = a.id WHERE a.id = ? ORDER BY b.id" + lock,
                  (account_id,), "all")
    if not rows:
        return None
    row = rows[0]
    acc = Account(int(row[0]), row[1], AccountKind(int(row[2])), AccountState(row[3]), int(row[4]))
    bals = [r[5:] for r in rows if r[5] is not None]
    if with_subscriptions:
        subs = yield ("SELECT type, data FROM subscriptions WHERE account_id = ? ORDER BY type, data",
                      (account_id,), "all")
        acc.subscriptions = [(int(t), d) for t, d in subs]
    others = None
    if session_id is None:
        ress = yield (f"SELECT {_RES_COLS} FROM reservations WHERE account_id = ?", (account_id,), "all")
        sess = yield (f"SELECT {_SES_COLS} FROM sessions WHERE account_id = ?", (account_id,), "all")
    else:
        ress = yield (f"SELECT {_RES_COLS} FROM reservations WHERE session_id = ? AND account_id = ?",
                      (session_id, account_id), "all")
        sess = yield (f"SELECT {_SES_COLS} FROM sessions WHERE session_id = ? AND account_id = ?",
                      (session_id, account_id), "all")
        row = yield ("SELECT COUNT(DISTINCT session_id) FROM reservations "
                     "WHERE account_id = ? AND session_id <> ?", (account_id, session_id), "one")
        others = int(row[0])
    return Snapshot(acc, [balance_row(b) for b in bals], [reservation_row(r) for r in ress],
                    {s[0]: session_row(s) for s in sess}, others)


def recorded(key: tuple[str, int]) -> Work:
    row = yield ("SELECT outcome FROM outcomes WHERE session_id = ? AND request_number = ?", key, "one")
    return None if row is None else Outcome.from_json(row[0])


def apply(dec: Decision, key: tuple[str, int] | None, now: float) -> Work:
    """Write a decision: balances, ledger, reservations, sessions, CDRs, the outcome."""
    balances = dec.balances  # (made from the ledger at each read)
    if balances:
        yield ("UPDATE balances SET amount = ? WHERE id = ?",
               [(amount, bid) for bid, amount in balances.items()], "many")
    if dec.ledger:
        yield ("INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, "
               "session_id, request_number, rating_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [(r.ts, r.account_id, r.balance_id, r.op, r.amount, r.balance_after, r.units,
                 r.session_id, r.request_number, r.rating_group) for r in dec.ledger], "many")
    if dec.reservations_del:
        yield ("DELETE FROM reservations WHERE session_id = ? AND rating_group = ?",
               list(dec.reservations_del), "many")
    if dec.reservations_put:
        yield (f"INSERT INTO reservations ({_RES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (session_id, rating_group) DO UPDATE SET units = excluded.units, "
               "holds = excluded.holds, expires_at = excluded.expires_at, "
               "request_number = excluded.request_number, final = excluded.final",
               [(r.session_id, r.rating_group, r.account_id, r.unit.value, r.units, r.holds_json(),
                 r.expires_at, r.request_number, int(r.final), r.peer)
                for r in dec.reservations_put], "many")
    if dec.sessions_del:
        yield ("DELETE FROM sessions WHERE session_id = ?", [(s,) for s in dec.sessions_del], "many")
    if dec.sessions_put:
        yield (f"INSERT INTO sessions ({_SES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (session_id) DO UPDATE SET updated = excluded.updated, "
               "expires_at = excluded.expires_at, charged = excluded.charged, "
               "units = excluded.units, requests = excluded.requests, final = excluded.final",
               [(s.session_id, s.account_id, s.started, s.updated, s.expires_at, s.charged,
                 json.dumps(s.units), s.requests, s.peer, int(s.final)) for s in dec.sessions_put],
               "many")
    if dec.cdrs:
        yield ("INSERT INTO cdrs (ts, session_id, account_id, record) VALUES (?, ?, ?, ?)",
               [(now, c.get("session_id"), c.get("account_id"), json.dumps(c, sort_keys=True))
                for c in dec.cdrs], "many")
    if dec.account_state is not None:
        yield ("UPDATE accounts SET state = ? WHERE id = ?",
               (dec.account_state, dec.outcome.account_id), "exec")
    if key is not None:
        yield ("INSERT INTO outcomes (session_id, request_number, ts, outcome) VALUES (?, ?, ?, ?)",
               (key[0], key[1], now, dec.outcome.to_json()), "exec")


def transact(target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
             lock: str = "", scope: str | None = None) -> Work:
    """The one transaction shape: replay a recorded outcome, or lock, decide and write."""
    account_id = None
    if key is not None and target.subscriptions:  # both lookups in one statement
        typ, data = target.subscriptions[0]
        row = yield ("SELECT (SELECT outcome FROM outcomes WHERE session_id = ? AND request_number = ?), "
                     "(SELECT account_id FROM subscriptions WHERE type = ? AND data = ?)",
                     (key[0], key[1], int(typ), data), "one")
        if row[0] is not None:
            return Outcome.from_json(row[0])
        account_id = None if row[1] is None else int(row[1])
    elif key is not None:
        done = yield from recorded(key)
        if done is not None:
            return done
    if account_id is None:
        account_id = yield from resolve(target)
    if account_id is None:
        return None
    snap = yield from load(account_id, lock, session_id=scope)
    if snap is None:
        return None
    if key is not None and lock:  # another instance may have answered while we waited
        done = yield from recorded(key)
        if done is not None:
            return done
    dec = decide(snap)
    if dec.outcome.account_id is None:
        dec.outcome.account_id = account_id
    yield from apply(dec, key, now)
    return dec.outcome


def create_account(name: str, kind: AccountKind, currency: int, subscriptions: Sequence[tuple[int, str]],
                   balances: Sequence[Balance], now: float) -> Work:
    row = yield ("INSERT INTO accounts (name, kind, state, currency, created) VALUES (?, ?, ?, ?, ?) "
                 "RETURNING id", (name, int(kind), AccountState.ACTIVE.value, currency, now), "one")
    account_id = int(row[0])
    if subscriptions:
        yield ("INSERT INTO subscriptions (type, data, account_id) VALUES (?, ?, ?)",
               [(int(t), d, account_id) for t, d in subscriptions], "many")
    for b in balances:
        yield from add_balance(account_id, b, now)
    return account_id


def add_balance(account_id: int, b: Balance, now: float) -> Work:
    brow = yield ("INSERT INTO balances (account_id, kind, amount, type_code, floor, rating_groups, "
                  "valid_from, valid_until, priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                  (account_id, b.kind.value, b.amount, int(b.type_code), b.floor,
                   ",".join(str(g) for g in b.rating_groups), b.valid_from, b.valid_until,
                   b.priority), "one")
    yield ("INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units) "
           "VALUES (?, ?, ?, 'create', ?, ?, 0)", (now, account_id, int(brow[0]), b.amount, b.amount),
           "exec")
    return int(brow[0])


def list_accounts() -> Work:
    rows = yield ("SELECT id, name, kind, state, currency FROM accounts ORDER BY id", (), "all")
    return [Account(int(r[0]), r[1], AccountKind(int(r[2])), AccountState(r[3]), int(r[4])) for r in rows]


def due(now: float, limit: int) -> Work:
    """Accounts with reservations or sessions whose time is up."""
    rows = yield ("SELECT DISTINCT account_id FROM reservations WHERE expires_at <= ? LIMIT ?",
                  (now, limit), "all")
    ids = {int(r[0]) for r in rows}
    rows = yield ("SELECT DISTINCT account_id FROM sessions WHERE expires_at <= ? LIMIT ?",
                  (now, limit), "all")
    ids.update(int(r[0]) for r in rows)
    return sorted(ids)


def ledger(account_id: int, limit: int) -> Work:
    rows = yield ("SELECT account_id, balance_id, op, amount, balance_after, units, session_id, "
                  "request_number, rating_group, ts FROM ledger WHERE account_id = ? "
                  "ORDER BY id DESC LIMIT ?", (account_id, limit), "all")
    return [LedgerRow(int(r[0]), int(r[1]), r[2], int(r[3]), int(r[4]), int(r[5]), r[6],
                      r[7], r[8], float(r[9])) for r in reversed(rows)]


def cdrs(after: int, limit: int) -> Work:
    rows = yield ("SELECT id, record FROM cdrs WHERE id > ? ORDER BY id LIMIT ?", (after, limit), "all")
    return [(int(r[0]), json.loads(r[1])) for r in rows]


def audit() -> Work:
    """Prove the books: every balance equals the sum of its ledger rows, none below its floor,
    every reservation hold matches the ledger's reserve minus release for it."""
    problems: list[str] = []
    # the ledger summed in one pass, then joined (no index on ledger.balance_id is needed)
    rows = yield ("SELECT b.id, b.amount, b.floor, COALESCE(l.total, 0), COALESCE(l.n, 0) FROM balances b "
                  "LEFT JOIN (SELECT balance_id, SUM(amount) AS total, COUNT(*) AS n FROM ledger "
                  "GROUP BY balance_id) l ON l.balance_id = b.id", (), "all")
    nrows = 0
    for bid, amount, floor, total, count in rows:
        nrows += int(count)
        if int(total) != int(amount):
            problems.append(f"balance {bid}: amount {amount} but ledger sums to {total}")
        if int(amount) < int(floor):
            problems.append(f"balance {bid}: amount {amount} below floor {floor}")
    held: dict[int, int] = {}
    for (holds,) in (yield ("SELECT holds FROM reservations", (), "all")):
        for h in Reservation.holds_from_json(holds):
            if h.amount < 0:
                problems.append(f"negative hold on balance {h.balance_id}")
            held[h.balance_id] = held.get(h.balance_id, 0) + h.amount
    ops = yield ("SELECT balance_id, op, SUM(amount) FROM ledger WHERE op IN ('reserve', 'release') "
                 "GROUP BY balance_id, op", (), "all")
    net: dict[int, int] = {}
    for bid, _op, total in ops:
        net[int(bid)] = net.get(int(bid), 0) - int(total)
    for bid in set(net) | set(held):
        if net.get(bid, 0) != held.get(bid, 0):
            problems.append(f"balance {bid}: reservations hold {held.get(bid, 0)} "
                            f"but the ledger reserved {net.get(bid, 0)}")
    return AuditReport(len(rows), nrows, problems)


def export_position(name: str) -> Work:
    row = yield ("SELECT last_id FROM cdr_exports WHERE name = ?", (name,), "one")
    return 0 if row is None else int(row[0])


def set_export_position(name: str, last_id: int) -> Work:
    yield ("INSERT INTO cdr_exports (name, last_id) VALUES (?, ?) "
           "ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id", (name, last_id), "exec")
    return last_id


def reserved() -> Work:
    """(open reservations, money held by them in minor units)."""
    money = {int(r[0]) for r in (yield ("SELECT id FROM balances WHERE kind = 'money'", (), "all"))}
    rows = yield ("SELECT holds FROM reservations", (), "all")
    held = sum(h.amount for (text,) in rows for h in Reservation.holds_from_json(text)
               if h.balance_id in money)
    return len(rows), held


def prune_outcomes_in_order(before: float, limit: int) -> Work:
    """`prune_outcomes` on a table without an index on ts (SQLite): the oldest `limit` rows
    in the order they were written (rowid), up to the first one not older than `before`
    (rows are written in time order; one written out of it waits for those before it)."""
    rows = yield ("SELECT rowid, ts FROM outcomes ORDER BY rowid LIMIT ?", (limit,), "all")
    n, last = 0, None
    for rowid, ts in rows:
        if not ts < before:
            break
        n, last = n + 1, rowid
    if last is not None:
        yield ("DELETE FROM outcomes WHERE rowid <= ?", (last,), "exec")
    return n


def prune_outcomes(before: float, limit: int) -> Work:
    """Forget recorded outcomes older than `before` (retransmissions come long before)."""
    rows = yield ("SELECT session_id, request_number FROM outcomes WHERE ts < ? LIMIT ?",
                  (before, limit), "all")
    if rows:
        yield ("DELETE FROM outcomes WHERE session_id = ? AND request_number = ?",
               [(r[0], r[1]) for r in rows], "many")
    return len(rows)
