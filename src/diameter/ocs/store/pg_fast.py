"""One request alone on PostgreSQL, in two round trips (four when locking): the fallback
of the batched money path (`pg_batch`) after repeated conflicts or a failed batch.

Same transaction as `queries.transact`, shaped for a network database: one SELECT that
finds the account by subscription and reads balances, the session's reservations and row,
the number of other sessions and the recorded outcome; after rating, one statement
of data-modifying CTEs fed with JSON arrays that writes everything only if the account's
version is still the one read, and bumps it. Without a lock (autocommit) a changed version
means nothing was written: `transact` returns CONFLICT and the caller decides again. With
the lock (BEGIN; the SELECT ... FOR UPDATE; the write; COMMIT) the subqueries of the
locking SELECT read the snapshot taken when the statement began; if another transaction
changed the account while this one waited for the lock, the locked row's version (re-read
after the wait) differs from the one the snapshot saw, and the data is read again. A
recorded outcome missed either way makes the outcome INSERT fail on its primary key, and
the retry replays it.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

from ..books import Decision
from ..model import Account, AccountKind, AccountState, Outcome, Snapshot
from . import queries
from .queries import Decide, Target

BAL_JSON = ("json_build_array(id, account_id, kind, amount, type_code, floor, rating_groups, "
        "valid_from, valid_until, priority)")
RES_JSON = ("json_build_array(session_id, rating_group, account_id, unit, units, holds, expires_at, "
        "request_number, final, peer)")
SES_JSON = ("json_build_array(session_id, account_id, started, updated, expires_at, charged, units, "
        "requests, peer, final)")


def recorded(sid: str, num: str) -> str:
    """The two columns of a request's recorded outcome, `sid` and `num` its key's parameters:
    the JSON text (schema before 11) and the marshal dump (since): read by `replay`."""
    where = f"FROM outcomes WHERE session_id = {sid} AND request_number = {num}"
    return f"(SELECT outcome {where}), (SELECT recorded {where})"


def replay(text: str | None, dump: bytes | None) -> Outcome | None:
    """The outcome recorded as `text` (JSON) or `dump` (marshal), replayed; None if neither."""
    if dump is not None:
        return Outcome.from_json(dump)
    return None if text is None else Outcome.from_json(text)


#: how often a locking read had to be repeated (it waited for another transaction)
STATS = {"stale_reads": 0}


def lock_load(by_subscription: bool, scope: bool, lock: bool = True) -> str:
    """The locking SELECT (a plain one without `lock`); parameters: account ($1, or type $1
    and data $2), then session id, request session id and number."""
    where = ("(SELECT account_id FROM subscriptions WHERE type = $1 AND data = $2)"
             if by_subscription else "$1")
    n = 3 if by_subscription else 2
    sid, rsid, rnum = f"${n}", f"${n + 1}", f"${n + 2}"
    if scope:
        res = f"(SELECT json_agg({RES_JSON}) FROM reservations WHERE session_id = {sid} AND account_id = a.id)"
        ses = f"(SELECT json_agg({SES_JSON}) FROM sessions WHERE session_id = {sid} AND account_id = a.id)"
        others = (f"(SELECT COUNT(DISTINCT session_id) FROM reservations WHERE account_id = a.id "
                  f"AND session_id <> {sid})")
    else:
        res = f"(SELECT json_agg({RES_JSON}) FROM reservations WHERE account_id = a.id AND {sid}::text IS NULL)"
        ses = f"(SELECT json_agg({SES_JSON}) FROM sessions WHERE account_id = a.id)"
        others = "NULL::bigint"
    return f"""SELECT a.id, a.name, a.kind, a.state, a.currency, a.version,
 (SELECT version FROM accounts WHERE id = a.id),
 (SELECT json_agg({BAL_JSON} ORDER BY id) FROM balances WHERE account_id = a.id),
 {res}, {ses}, {others},
 {recorded(rsid, rnum)}
FROM accounts a WHERE a.id = {where}{" FOR UPDATE OF a" if lock else ""}"""


LOAD_SESSION = f"""SELECT
 (SELECT json_agg({BAL_JSON} ORDER BY id) FROM balances WHERE account_id = $1),
 (SELECT json_agg({RES_JSON}) FROM reservations WHERE session_id = $2 AND account_id = $1),
 (SELECT json_agg({SES_JSON}) FROM sessions WHERE session_id = $2 AND account_id = $1),
 (SELECT COUNT(DISTINCT session_id) FROM reservations WHERE account_id = $1 AND session_id <> $2),
 {recorded("$3", "$4")}"""

LOAD_ACCOUNT = f"""SELECT
 (SELECT json_agg({BAL_JSON} ORDER BY id) FROM balances WHERE account_id = $1),
 (SELECT json_agg({RES_JSON}) FROM reservations WHERE account_id = $1),
 (SELECT json_agg({SES_JSON}) FROM sessions WHERE account_id = $1),
 NULL::bigint,
 {recorded("$2", "$3")}"""

WRITE = """WITH
 v AS (UPDATE accounts SET version = version + 1, state = COALESCE($9::text, state)
       WHERE id = $10::bigint AND version = $11::bigint RETURNING id),
 b AS (UPDATE balances SET amount = (e->>1)::bigint FROM json_array_elements($1::json) e, v
       WHERE balances.id = (e->>0)::bigint),
 l AS (INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, session_id,
       request_number, rating_group)
       SELECT (e->>0)::float8, (e->>1)::bigint, (e->>2)::bigint, e->>3, (e->>4)::bigint,
       (e->>5)::bigint, (e->>6)::bigint, e->>7, (e->>8)::bigint, (e->>9)::bigint
       FROM json_array_elements($2::json) e CROSS JOIN v),
 rd AS (DELETE FROM reservations r USING json_array_elements($3::json) e, v
        WHERE r.session_id = e->>0 AND r.rating_group = (e->>1)::int),
 rp AS (INSERT INTO reservations (session_id, rating_group, account_id, unit, units, holds, expires_at,
        request_number, final, peer)
        SELECT e->>0, (e->>1)::int, (e->>2)::bigint, e->>3, (e->>4)::bigint, e->>5, (e->>6)::float8,
        (e->>7)::bigint, (e->>8)::int, e->>9 FROM json_array_elements($4::json) e CROSS JOIN v),
 ru AS (UPDATE reservations r SET units = (e->>4)::bigint, holds = e->>5, expires_at = (e->>6)::float8,
        request_number = (e->>7)::bigint, final = (e->>8)::int FROM json_array_elements($15::json) e, v
        WHERE r.session_id = e->>0 AND r.rating_group = (e->>1)::int),
 sd AS (DELETE FROM sessions WHERE session_id IN (SELECT json_array_elements_text($5::json))
        AND EXISTS (SELECT 1 FROM v)),
 sp AS (INSERT INTO sessions (session_id, account_id, started, updated, expires_at, charged, units,
        requests, peer, final)
        SELECT e->>0, (e->>1)::bigint, (e->>2)::float8, (e->>3)::float8, (e->>4)::float8,
        (e->>5)::bigint, e->>6, (e->>7)::int, e->>8, (e->>9)::int
        FROM json_array_elements($6::json) e CROSS JOIN v),
 su AS (UPDATE sessions s SET updated = (e->>3)::float8, expires_at = (e->>4)::float8,
        charged = (e->>5)::bigint, units = e->>6, requests = (e->>7)::int, final = (e->>9)::int
        FROM json_array_elements($16::json) e, v WHERE s.session_id = e->>0),
 c AS (INSERT INTO cdrs (ts, session_id, account_id, record)
       SELECT $7::float8, e->>0, (e->>1)::bigint, e->>2 FROM json_array_elements($8::json) e CROSS JOIN v),
 o AS (INSERT INTO outcomes (session_id, request_number, ts, recorded)
       SELECT $12::text, $13::bigint, $7::float8, $14::bytea FROM v WHERE $12::text IS NOT NULL)
SELECT COUNT(*) FROM v"""

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def write_args(dec: Decision, key: tuple[str, int] | None, now: float, version: int,
               old_res: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset(),
               old_ses: frozenset[str] | set[str] = frozenset()) -> list[Any]:
    """WRITE's parameters: each table's rows as one JSON array of arrays (one text parameter
    is far cheaper for the driver to encode than a typed array per column). The reservation
    and session rows read (`old_res`, `old_ses`) are updated in place, the others inserted:
    a row of another account with the same key makes the insert fail, and nothing is written."""
    res = [(r.session_id, r.rating_group, r.account_id, r.unit.value, r.units, r.holds_json(),
            r.expires_at, r.request_number, int(r.final), r.peer) for r in dec.reservations_put]
    ses = [(s.session_id, s.account_id, s.started, s.updated, s.expires_at, s.charged,
            json.dumps(s.units), s.requests, s.peer, int(s.final)) for s in dec.sessions_put]
    return [
        _dumps(list(dec.balances.items())),
        _dumps([(r.ts, r.account_id, r.balance_id, r.op, r.amount, r.balance_after, r.units,
                 r.session_id, r.request_number, r.rating_group) for r in dec.ledger]),
        _dumps(dec.reservations_del),
        _dumps([r for r in res if (r[0], r[1]) not in old_res]),
        _dumps(dec.sessions_del),
        _dumps([s for s in ses if s[0] not in old_ses]),
        now,
        _dumps([(c.get("session_id"), c.get("account_id"), json.dumps(c, sort_keys=True))
                for c in dec.cdrs]),
        dec.account_state, dec.outcome.account_id, version,
        key[0] if key else None, key[1] if key else None,
        marshal.dumps(dec.outcome.to_row(), 4) if key else None,
        _dumps([r for r in res if (r[0], r[1]) in old_res]),
        _dumps([s for s in ses if s[0] in old_ses])]


#: `transact` without `lock` returns this when the account changed between read and write
CONFLICT: Any = object()


async def transact(conn: Any, target: Target, decide: Decide, key: tuple[str, int] | None,
                   now: float, scope: str | None, drive: Any, lock: bool = True) -> Any:
    """One decision on an asyncpg connection.

    With `lock` (inside `conn.transaction()`): lock the account row, read, decide, write.
    Without (autocommit, two round trips): read, decide, and write only if the account's
    version is still the one read, in one statement that commits on its own; CONFLICT if
    another transaction changed the account meanwhile (nothing was written: read again).
    """
    sid, num = key if key is not None else (None, None)
    row = None
    if target.subscriptions:
        typ, data = target.subscriptions[0]
        row = await conn.fetchrow(_SQL[(True, scope is not None, lock)], int(typ), data, scope, sid, num)
    if row is None:
        account_id = await drive(conn, queries.resolve(target))
        if account_id is None:
            return None
        row = await conn.fetchrow(_SQL[(False, scope is not None, lock)], int(account_id), scope, sid, num)
        if row is None:
            return None
    done = replay(row[11], row[12])
    if done is not None:
        return done
    balances, ress, sess, others = row[7], row[8], row[9], row[10]
    if row[5] != row[6]:  # changed while we waited for the lock: read again, now locked
        STATS["stale_reads"] += 1
        fresh = (await conn.fetchrow(LOAD_SESSION, row[0], scope, sid, num) if scope is not None
                 else await conn.fetchrow(LOAD_ACCOUNT, row[0], sid, num))
        done = replay(fresh[4], fresh[5])
        if done is not None:
            return done
        balances, ress, sess, others = fresh[0], fresh[1], fresh[2], fresh[3]
    snap = Snapshot(
        Account(int(row[0]), row[1], AccountKind(int(row[2])), AccountState(row[3]), int(row[4])),
        [queries.balance_row(b) for b in json.loads(balances or "[]")],
        [queries.reservation_row(r) for r in json.loads(ress or "[]")],
        {s[0]: queries.session_row(s) for s in json.loads(sess or "[]")},
        None if others is None else int(others))
    old_res = {(r.session_id, r.rating_group) for r in snap.reservations}  # the rows read
    old_ses = set(snap.sessions)
    dec = decide(snap)
    if dec.outcome.account_id is None:
        dec.outcome.account_id = snap.account.id
    written = await conn.fetchval(WRITE, *write_args(dec, key, now, row[6], old_res, old_ses))
    if not written:
        STATS["stale_reads"] += 1
        return CONFLICT
    return dec.outcome


_SQL = {(s, c, k): lock_load(s, c, k) for s in (True, False) for c in (True, False)
        for k in (True, False)}
