"""The two statements of PostgreSQL's batched money path (see `pg_batch`).

`LOAD` reads, in one snapshot, the accounts a batch needs and does not hold in its cache
(found by id, subscription or session), with their version, balances, reservations and
sessions as JSON, plus any outcome already recorded for the batch's request keys.

`WRITE` writes a whole batch in one statement (one commit). Every row carries the id of
the account whose decision produced it. The statement first locks the batch's account
rows in id order (so two instances' batches never deadlock), then bumps the version of
each account that is still at the version its decisions were taken on and has none of
its requests already recorded; every other table is written only for the accounts so
bumped, whose ids it returns. Each table's rows are passed as one JSON text, unpacked by
``json_to_recordset`` into typed columns (a few parameters per batch instead of one array
element per column and row, each of which asyncpg would check and encode in Python).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .pg_cache import AccountWrites
from .pg_fast import BAL_JSON, RES_JSON, SES_JSON

_PLACEHOLDER = re.compile(r"\?")


def renumber(sql: str) -> str:
    """``?`` placeholders (as `queries` writes them) to PostgreSQL's ``$1, $2...``."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


#: $1 subscription data (any type: a client may label the type wrongly), $2 session ids,
#: $3 account ids, $4/$5 request keys. Rows: (0, account), (1, [type, data, account id]),
#: (2, [session id, account id]), (3, [session id, request number, outcome]).
LOAD = f"""WITH
 subs AS (SELECT type, data, account_id FROM subscriptions WHERE data = ANY($1::text[])),
 ses AS (SELECT session_id, account_id FROM sessions WHERE session_id = ANY($2::text[])
         UNION SELECT session_id, account_id FROM reservations WHERE session_id = ANY($2::text[])),
 ids AS (SELECT account_id AS id FROM subs UNION SELECT account_id FROM ses
         UNION SELECT unnest($3::bigint[]))
SELECT 0, json_build_array(a.id, a.name, a.kind, a.state, a.currency, a.version,
  (SELECT json_agg({BAL_JSON} ORDER BY id) FROM balances WHERE account_id = a.id),
  (SELECT json_agg({RES_JSON}) FROM reservations WHERE account_id = a.id),
  (SELECT json_agg({SES_JSON}) FROM sessions WHERE account_id = a.id))::text
 FROM accounts a WHERE a.id IN (SELECT id FROM ids)
UNION ALL SELECT 1, json_build_array(type, data, account_id)::text FROM subs
UNION ALL SELECT 2, json_build_array(session_id, account_id)::text FROM ses
UNION ALL SELECT 3, json_build_array(o.session_id, o.request_number, o.outcome)::text
 FROM outcomes o JOIN unnest($4::text[], $5::bigint[]) AS k(sid, num)
 ON o.session_id = k.sid AND o.request_number = k.num"""

_KEYS = "abcdefghijklmnopqrstuvwxyz"


def _rows(n: int, types: str) -> str:
    """Parameter ``$n``, a row set sent as one JSON text (`pg_writer.encode_rows`: an array
    of objects keyed ``a``, ``b``... by column position), as a subquery of typed columns;
    ``json`` columns (values sent as nested JSON) come out as their exact JSON text."""
    cols = types.split()
    out = ", ".join(f"{k}::text" if t == "json" else k for k, t in zip(_KEYS, cols))
    decl = ", ".join(f"{k} {t}" for k, t in zip(_KEYS, cols))
    return f"(SELECT {out} FROM json_to_recordset(${n}::json) AS r({decl}))"


# Each table's rows arrive as one JSON text (one parameter per row set, so the writer sends
# nine values a batch, not one array element per column and row); the last column of every
# row set but the ledger's, reservations' and sessions' (whose own account id is it) is the
# account that decided it.
_ACC = _rows(1, "bigint bigint text")  # id, version, new state or null
_BALS = _rows(2, "bigint bigint bigint")  # id, amount, owner
_LEDGER = _rows(3, "float8 bigint bigint text bigint bigint bigint text bigint bigint")
_RES_DEL = _rows(4, "text int bigint")  # session, rating group, owner
_RES_PUT = _rows(5, "text int bigint text bigint json float8 bigint int text")
_SES_DEL = _rows(6, "text bigint")  # session, owner
_SES_PUT = _rows(7, "text bigint float8 float8 float8 bigint json int text int")
_CDRS = _rows(8, "float8 text bigint text bigint")  # ts, session, account, record, owner
_OUTCOMES = _rows(9, "text bigint float8 json bigint")  # session, number, ts, outcome, owner

#: Returns the ids of the accounts written.
WRITE = f"""WITH
 acc AS (SELECT * FROM {_ACC} AS t(id, version, state)),
 k AS (SELECT * FROM {_OUTCOMES} AS t(sid, num, ts, outcome, owner)),
 dup AS (SELECT owner FROM k WHERE (SELECT 1 FROM outcomes o WHERE o.session_id = k.sid
                                    AND o.request_number = k.num) IS NOT NULL),
 lk AS MATERIALIZED (SELECT a.id FROM accounts a WHERE a.id IN (SELECT id FROM acc)
                     ORDER BY a.id FOR UPDATE),
 v AS (UPDATE accounts a SET version = a.version + 1, state = COALESCE(acc.state, a.state)
       FROM acc WHERE a.id = acc.id AND a.version = acc.version AND a.id IN (SELECT id FROM lk)
       AND a.id NOT IN (SELECT owner FROM dup)
       RETURNING a.id),
 b AS (UPDATE balances SET amount = t.amount FROM {_BALS} AS t(id, amount, owner)
       WHERE balances.id = t.id AND t.owner IN (SELECT id FROM v)),
 l AS (INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, session_id,
       request_number, rating_group)
       SELECT * FROM {_LEDGER} AS t(ts, account_id, balance_id, op, amount, balance_after,
       units, session_id, request_number, rating_group) WHERE t.account_id IN (SELECT id FROM v)),
 rd AS (DELETE FROM reservations r USING {_RES_DEL} AS t(sid, rg, owner)
        WHERE r.session_id = t.sid AND r.rating_group = t.rg AND t.owner IN (SELECT id FROM v)),
 rp AS (INSERT INTO reservations (session_id, rating_group, account_id, unit, units, holds, expires_at,
        request_number, final, peer)
        SELECT * FROM {_RES_PUT} AS t(session_id, rating_group, account_id, unit, units,
        holds, expires_at, request_number, final, peer) WHERE t.account_id IN (SELECT id FROM v)
        ON CONFLICT (session_id, rating_group) DO UPDATE SET units = excluded.units,
        holds = excluded.holds, expires_at = excluded.expires_at,
        request_number = excluded.request_number, final = excluded.final),
 sd AS (DELETE FROM sessions s USING {_SES_DEL} AS t(sid, owner)
        WHERE s.session_id = t.sid AND t.owner IN (SELECT id FROM v)),
 sp AS (INSERT INTO sessions (session_id, account_id, started, updated, expires_at, charged, units,
        requests, peer, final)
        SELECT * FROM {_SES_PUT} AS t(session_id, account_id, started, updated, expires_at,
        charged, units, requests, peer, final) WHERE t.account_id IN (SELECT id FROM v)
        ON CONFLICT (session_id) DO UPDATE SET updated = excluded.updated,
        expires_at = excluded.expires_at, charged = excluded.charged, units = excluded.units,
        requests = excluded.requests, final = excluded.final),
 c AS (INSERT INTO cdrs (ts, session_id, account_id, record)
       SELECT t.ts, t.sid, t.account_id, t.record FROM {_CDRS} AS t(ts, sid, account_id, record, owner)
       WHERE t.owner IN (SELECT id FROM v)),
 o AS (INSERT INTO outcomes (session_id, request_number, ts, outcome)
       SELECT sid, num, ts, outcome FROM k WHERE owner IN (SELECT id FROM v))
SELECT id FROM v"""


#: WRITE's parameters sent as row sets (`pg_writer.encode_rows`): all nine.
WRITE_JSON_ARGS = tuple(range(9))


def write_args(writes: Iterable[AccountWrites]) -> list[Any]:
    """WRITE's parameters for a batch's accounts: one list of rows per table (each still to
    be encoded as one JSON text, `WRITE_JSON_ARGS`; reservation holds, session units and
    outcomes as Python data, stored as their compact JSON text)."""
    accounts: list[tuple[Any, ...]] = []
    balances: list[tuple[Any, ...]] = []
    ledger: list[tuple[Any, ...]] = []
    res_del: list[tuple[Any, ...]] = []
    res_put: list[tuple[Any, ...]] = []
    ses_del: list[tuple[Any, ...]] = []
    ses_put: list[tuple[Any, ...]] = []
    cdrs: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    for w in writes:
        aid = w.account_id
        accounts.append((aid, w.version, w.state))
        balances.extend((bid, amount, aid) for bid, amount in w.balances.items())
        ledger.extend(w.ledger)
        for key, r in w.res_put.items():
            if r is None:
                res_del.append((key[0], key[1], aid))
            else:
                res_put.append((r.session_id, r.rating_group, r.account_id, r.unit.value, r.units,
                                [[h.balance_id, h.amount, h.units] for h in r.holds], r.expires_at,
                                r.request_number, int(r.final), r.peer))
        for sid, s in w.ses_put.items():
            if s is None:
                ses_del.append((sid, aid))
            else:
                ses_put.append((s.session_id, s.account_id, s.started, s.updated, s.expires_at,
                                s.charged, s.units, s.requests, s.peer, int(s.final)))
        cdrs.extend((*c, aid) for c in w.cdrs)
        outcomes.extend((sid, num, ts, text, aid) for sid, num, ts, text in w.outcomes)
    return [accounts, balances, ledger, res_del, res_put, ses_del, ses_put, cdrs, outcomes]
