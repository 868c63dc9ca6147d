"""The money path on PostgreSQL in four round trips instead of one per statement.

Same transaction as `queries.transact`, shaped for a network database: BEGIN; one SELECT
that finds the account by subscription, locks its row ``FOR UPDATE`` and reads balances,
the session's reservations and row, the number of other sessions and the recorded
outcome as JSON; every write in one statement of data-modifying CTEs fed with arrays,
which also bumps the account's version; COMMIT.

The subqueries of the locking SELECT read the snapshot taken when the statement began;
if another transaction changed the account while this one waited for the lock, the
locked row's version (re-read after the wait) differs from the one the snapshot saw,
and the data is read again by a new statement. A recorded outcome missed that way makes
the outcome INSERT fail on its primary key, and the retry replays it.
"""

from __future__ import annotations

import json
from typing import Any

from ..books import Decision
from ..model import Account, AccountKind, AccountState, Outcome, Snapshot
from . import queries
from .queries import Decide, Target

_BAL = ("json_build_array(id, account_id, kind, amount, type_code, floor, rating_groups, "
        "valid_from, valid_until, priority)")
_RES = ("json_build_array(session_id, rating_group, account_id, unit, units, holds, expires_at, "
        "request_number, final, peer)")
_SES = ("json_build_array(session_id, account_id, started, updated, expires_at, charged, units, "
        "requests, peer, final)")

#: how often a locking read had to be repeated (it waited for another transaction)
STATS = {"stale_reads": 0}


def lock_load(by_subscription: bool, scope: bool) -> str:
    """The locking SELECT; parameters: account ($1, or type $1 and data $2), then session id,
    request session id and number."""
    where = ("(SELECT account_id FROM subscriptions WHERE type = $1 AND data = $2)"
             if by_subscription else "$1")
    n = 3 if by_subscription else 2
    sid, rsid, rnum = f"${n}", f"${n + 1}", f"${n + 2}"
    if scope:
        res = f"(SELECT json_agg({_RES}) FROM reservations WHERE session_id = {sid} AND account_id = a.id)"
        ses = f"(SELECT json_agg({_SES}) FROM sessions WHERE session_id = {sid} AND account_id = a.id)"
        others = (f"(SELECT COUNT(DISTINCT session_id) FROM reservations WHERE account_id = a.id "
                  f"AND session_id <> {sid})")
    else:
        res = f"(SELECT json_agg({_RES}) FROM reservations WHERE account_id = a.id AND {sid}::text IS NULL)"
        ses = f"(SELECT json_agg({_SES}) FROM sessions WHERE account_id = a.id)"
        others = "NULL::bigint"
    return f"""SELECT a.id, a.name, a.kind, a.state, a.currency, a.version,
 (SELECT version FROM accounts WHERE id = a.id),
 (SELECT json_agg({_BAL} ORDER BY id) FROM balances WHERE account_id = a.id),
 {res}, {ses}, {others},
 (SELECT outcome FROM outcomes WHERE session_id = {rsid} AND request_number = {rnum})
FROM accounts a WHERE a.id = {where} FOR UPDATE OF a"""


LOAD_SESSION = f"""SELECT
 (SELECT json_agg({_BAL} ORDER BY id) FROM balances WHERE account_id = $1),
 (SELECT json_agg({_RES}) FROM reservations WHERE session_id = $2 AND account_id = $1),
 (SELECT json_agg({_SES}) FROM sessions WHERE session_id = $2 AND account_id = $1),
 (SELECT COUNT(DISTINCT session_id) FROM reservations WHERE account_id = $1 AND session_id <> $2),
 (SELECT outcome FROM outcomes WHERE session_id = $3 AND request_number = $4)"""

LOAD_ACCOUNT = f"""SELECT
 (SELECT json_agg({_BAL} ORDER BY id) FROM balances WHERE account_id = $1),
 (SELECT json_agg({_RES}) FROM reservations WHERE account_id = $1),
 (SELECT json_agg({_SES}) FROM sessions WHERE account_id = $1),
 NULL::bigint,
 (SELECT outcome FROM outcomes WHERE session_id = $2 AND request_number = $3)"""

WRITE = """WITH
 b AS (UPDATE balances SET amount = v.amount FROM unnest($1::bigint[], $2::bigint[]) AS v(id, amount)
       WHERE balances.id = v.id),
 l AS (INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, session_id,
       request_number, rating_group)
       SELECT * FROM unnest($3::float8[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[],
       $8::bigint[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[])),
 rd AS (DELETE FROM reservations r USING unnest($13::text[], $14::int[]) AS d(s, g)
        WHERE r.session_id = d.s AND r.rating_group = d.g),
 rp AS (INSERT INTO reservations (session_id, rating_group, account_id, unit, units, holds, expires_at,
        request_number, final, peer)
        SELECT * FROM unnest($15::text[], $16::int[], $17::bigint[], $18::text[], $19::bigint[],
        $20::text[], $21::float8[], $22::bigint[], $23::int[], $24::text[])
        ON CONFLICT (session_id, rating_group) DO UPDATE SET units = excluded.units,
        holds = excluded.holds, expires_at = excluded.expires_at,
        request_number = excluded.request_number, final = excluded.final),
 sd AS (DELETE FROM sessions WHERE session_id = ANY($25::text[])),
 sp AS (INSERT INTO sessions (session_id, account_id, started, updated, expires_at, charged, units,
        requests, peer, final)
        SELECT * FROM unnest($26::text[], $27::bigint[], $28::float8[], $29::float8[], $30::float8[],
        $31::bigint[], $32::text[], $33::int[], $34::text[], $35::int[])
        ON CONFLICT (session_id) DO UPDATE SET updated = excluded.updated,
        expires_at = excluded.expires_at, charged = excluded.charged, units = excluded.units,
        requests = excluded.requests, final = excluded.final),
 c AS (INSERT INTO cdrs (ts, session_id, account_id, record)
       SELECT $36::float8, * FROM unnest($37::text[], $38::bigint[], $39::text[])),
 o AS (INSERT INTO outcomes (session_id, request_number, ts, outcome)
       SELECT $40::text, $41::bigint, $36::float8, $42::text WHERE $40::text IS NOT NULL),
 st AS (UPDATE accounts SET version = version + 1, state = COALESCE($43::text, state)
        WHERE id = $44::bigint)
SELECT 1"""


def _cols(rows: list[tuple[Any, ...]], n: int) -> list[list[Any]]:
    return [[r[i] for r in rows] for i in range(n)]


def write_args(dec: Decision, key: tuple[str, int] | None, now: float) -> list[Any]:
    bal = _cols(list(dec.balances.items()), 2)
    led = _cols([(r.ts, r.account_id, r.balance_id, r.op, r.amount, r.balance_after, r.units,
                  r.session_id, r.request_number, r.rating_group) for r in dec.ledger], 10)
    rdel = _cols([tuple(k) for k in dec.reservations_del], 2)
    rput = _cols([(r.session_id, r.rating_group, r.account_id, r.unit.value, r.units, r.holds_json(),
                   r.expires_at, r.request_number, int(r.final), r.peer)
                  for r in dec.reservations_put], 10)
    sput = _cols([(s.session_id, s.account_id, s.started, s.updated, s.expires_at, s.charged,
                   json.dumps(s.units), s.requests, s.peer, int(s.final)) for s in dec.sessions_put], 10)
    cdrs = _cols([(c.get("session_id"), c.get("account_id"), json.dumps(c, sort_keys=True))
                  for c in dec.cdrs], 3)
    return [*bal, *led, *rdel, *rput, list(dec.sessions_del), *sput, now, *cdrs,
            key[0] if key else None, key[1] if key else None,
            dec.outcome.to_json() if key else None, dec.account_state, dec.outcome.account_id]


async def transact(conn: Any, target: Target, decide: Decide, key: tuple[str, int] | None,
                   now: float, scope: str | None, drive: Any) -> Outcome | None:
    """One locked transaction on an asyncpg connection (inside `conn.transaction()`)."""
    sid, num = key if key is not None else (None, None)
    row = None
    if target.subscriptions:
        typ, data = target.subscriptions[0]
        row = await conn.fetchrow(_sql(True, scope is not None), int(typ), data, scope, sid, num)
    if row is None:
        account_id = await drive(conn, queries.resolve(target))
        if account_id is None:
            return None
        row = await conn.fetchrow(_sql(False, scope is not None), int(account_id), scope, sid, num)
        if row is None:
            return None
    if row[11] is not None:
        return Outcome.from_json(row[11])
    balances, ress, sess, others = row[7], row[8], row[9], row[10]
    if row[5] != row[6]:  # changed while we waited for the lock: read again, now locked
        STATS["stale_reads"] += 1
        fresh = (await conn.fetchrow(LOAD_SESSION, row[0], scope, sid, num) if scope is not None
                 else await conn.fetchrow(LOAD_ACCOUNT, row[0], sid, num))
        if fresh[4] is not None:
            return Outcome.from_json(fresh[4])
        balances, ress, sess, others = fresh[0], fresh[1], fresh[2], fresh[3]
    snap = Snapshot(
        Account(int(row[0]), row[1], AccountKind(int(row[2])), AccountState(row[3]), int(row[4])),
        [queries.balance_row(b) for b in json.loads(balances or "[]")],
        [queries.reservation_row(r) for r in json.loads(ress or "[]")],
        {s[0]: queries.session_row(s) for s in json.loads(sess or "[]")},
        None if others is None else int(others))
    dec = decide(snap)
    if dec.outcome.account_id is None:
        dec.outcome.account_id = snap.account.id
    await conn.execute(WRITE, *write_args(dec, key, now))
    return dec.outcome


_SQL = {(s, c): lock_load(s, c) for s in (True, False) for c in (True, False)}


def _sql(by_subscription: bool, scope: bool) -> str:
    return _SQL[(by_subscription, scope)]
