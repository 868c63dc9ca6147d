"""The two statements of PostgreSQL's batched money path (see `pg_batch`).

`LOAD` reads, in one snapshot, the accounts a batch needs and does not hold in its cache
(found by id, subscription or session), with their version, balances, reservations and
sessions as JSON, plus any outcome already recorded for the batch's request keys.

`WRITE` writes a whole batch in one statement (one commit). Every row carries the id of
the account whose decision produced it. The statement first locks the batch's account
rows in id order (so two instances' batches never deadlock), then bumps the version of
each account that is still at the version its decisions were taken on; every other table
is written only for the accounts so bumped, whose ids it returns. A request already
recorded (a retransmission answered by another instance whose account's version this
instance had read after it) is refused by the outcomes' primary key: the statement fails
whole, nothing is written, and the batch's accounts are read and decided again (`pg_batch`;
no probe of the outcomes per request: that cost about 17k instructions per CCR). Rows are
passed as typed arrays (no text to parse on the database's side): one per column, or, for
the ledger, reservations, sessions and outcomes (rows of every request), one of the
table's own row type. A reservation or session row
already in the database (as the cache read it) is updated in place and a new one inserted
(no ``ON CONFLICT``: its speculative insertion and row lock cost WAL and CPU on every
request); a row the cache did not know of (another account's session id) makes the
insert fail, and with it the batch, whose requests then run alone (`pg_fast`, where such a
request fails: nothing is written over another account's rows). Those rows are tuples in the table's
column order (a migration adding a column to one of these tables must add it to the rows:
a row of the wrong length is refused whole, and `tests/ocs/test_pg_write_rows.py` fails).
"""

from __future__ import annotations

import re
from typing import Any

from .pg_decide import write_args
from .pg_fast import BAL_JSON, RES_JSON, SES_JSON

__all__ = ["LOAD", "WRITE", "WRITE_JSON_ARGS", "renumber", "write_args"]

_PLACEHOLDER = re.compile(r"\?")


def renumber(sql: str) -> str:
    """``?`` placeholders (as `queries` writes them) to PostgreSQL's ``$1, $2...``."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


#: $1 subscription data (any type: a client may label the type wrongly), $2 session ids,
#: $3 account ids, $4/$5 request keys. Rows: (0, account), (1, [type, data, account id]),
#: (2, [session id, account id]), (3, [session id, request number, outcome as JSON text or
#: null, else its marshal dump in base64]).
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
UNION ALL SELECT 3, json_build_array(o.session_id, o.request_number, o.outcome,
  encode(o.recorded, 'base64'))::text
 FROM outcomes o JOIN unnest($4::text[], $5::bigint[]) AS k(sid, num)
 ON o.session_id = k.sid AND o.request_number = k.num"""


def _rows(start: int, columns: str) -> str:
    """Consecutive array parameters as rows: ``(SELECT unnest($n::type[]) AS name, ...)``,
    `columns` as ``name:type`` words. Unnested in the select list (a ProjectSet, value per
    call), not ``FROM unnest(a, b, c)``: that is one function scan per array, each
    materialised in a tuplestore of its own and started anew by every execution (PostgreSQL's
    writer backend: -5.4k instructions per CCR at 16 CCRs a batch). The arrays of a row type
    stay in ``FROM unnest(...)``: selecting their fields from a ProjectSet cost more."""
    cols = (c.split(":") for c in columns.split())
    return "(SELECT " + ", ".join(f"unnest(${start + i}::{t}[]) AS {n}" for i, (n, t) in enumerate(cols)) + ")"


# Most row sets arrive as one array per column (`_rows`); the last column of each
# is the account that decided the row. The ledger's, reservations', sessions' and outcomes'
# rows (those of every request) arrive as one array of the table's own row type each (the
# outcomes' deciding accounts in an array beside theirs): one element per row for asyncpg to
# check and encode, not one per column and row.
_ACC = _rows(1, "id:bigint version:bigint state:text")  # id, version, new state or null
_BALS = _rows(4, "id:bigint amount:bigint owner:bigint")  # id, amount, owner
_LEDGER = "$7::ledger[]"  # the ledger's columns, id null
_RES_DEL = _rows(8, "sid:text rg:int owner:bigint")  # session, rating group, owner
_RES_PUT = "$11::reservations[]"
_SES_DEL = _rows(12, "sid:text owner:bigint")  # session, owner
_SES_PUT = "$14::sessions[]"
_CDRS = _rows(15, "ts:float8 sid:text account_id:bigint record:text owner:bigint")
_OUTCOMES = "$20::outcomes[], $21::bigint[]"  # the outcomes' columns; owners
_RES_UPD = "$22::reservations[]"  # rows in the database, updated in place
_SES_UPD = "$23::sessions[]"

#: Returns the ids of the accounts written. Every other part keeps the rows of those accounts
#: by ``= ANY`` on one array of their ids (`w`, computed once), not by a semi-join with `v`
#: (a hash table built per part and batch). The accounts are locked by id (`lk`, in id order)
#: and `v` waits for all of them (its one-time filter counts `lk`). The updates and deletes
#: join their rows to the tables' keys: the writer process's connections run with hash and
#: merge joins off (`pg_writer.PLANNER`), so these are nested loops on the indexes whatever the
#: tables' statistics (with them on, the planner chose hash joins over whole-table scans). On
#: a connection without these settings the statement is the same, only slower.
_WRITTEN = "ANY((SELECT ids FROM w)::bigint[])"

WRITE = f"""WITH
 acc AS {_ACC},
 k AS (SELECT * FROM unnest({_OUTCOMES}) AS t(sid, num, ts, outcome, recorded, owner)),
 lk AS MATERIALIZED (SELECT a.id FROM accounts a WHERE a.id = ANY($1::bigint[])
                     ORDER BY a.id FOR UPDATE),
 v AS (UPDATE accounts a SET version = a.version + 1, state = COALESCE(acc.state, a.state)
       FROM acc WHERE a.id = acc.id AND a.version = acc.version AND (SELECT count(*) FROM lk) > 0
       RETURNING a.id),
 w AS (SELECT array_agg(id) AS ids FROM v),
 b AS (UPDATE balances SET amount = t.amount FROM {_BALS} AS t
       WHERE balances.id = t.id AND t.owner = {_WRITTEN}),
 l AS (INSERT INTO ledger (ts, account_id, balance_id, op, amount, balance_after, units, session_id,
       request_number, rating_group)
       SELECT ts, account_id, balance_id, op, amount, balance_after, units, session_id,
       request_number, rating_group FROM unnest({_LEDGER}) AS t WHERE t.account_id = {_WRITTEN}),
 rd AS (DELETE FROM reservations r USING {_RES_DEL} AS t
        WHERE r.session_id = t.sid AND r.rating_group = t.rg AND t.owner = {_WRITTEN}),
 rp AS (INSERT INTO reservations (session_id, rating_group, account_id, unit, units, holds, expires_at,
        request_number, final, peer)
        SELECT session_id, rating_group, account_id, unit, units, holds, expires_at, request_number,
        final, peer FROM unnest({_RES_PUT}) AS t WHERE t.account_id = {_WRITTEN}),
 ru AS (UPDATE reservations r SET units = t.units, holds = t.holds, expires_at = t.expires_at,
        request_number = t.request_number, final = t.final FROM unnest({_RES_UPD}) AS t
        WHERE r.session_id = t.session_id AND r.rating_group = t.rating_group
        AND t.account_id = {_WRITTEN}),
 sd AS (DELETE FROM sessions s USING {_SES_DEL} AS t
        WHERE s.session_id = t.sid AND t.owner = {_WRITTEN}),
 sp AS (INSERT INTO sessions (session_id, account_id, started, updated, expires_at, charged, units,
        requests, peer, final)
        SELECT session_id, account_id, started, updated, expires_at, charged, units, requests, peer,
        final FROM unnest({_SES_PUT}) AS t WHERE t.account_id = {_WRITTEN}),
 su AS (UPDATE sessions s SET updated = t.updated, expires_at = t.expires_at, charged = t.charged,
        units = t.units, requests = t.requests, final = t.final FROM unnest({_SES_UPD}) AS t
        WHERE s.session_id = t.session_id AND t.account_id = {_WRITTEN}),
 c AS (INSERT INTO cdrs (ts, session_id, account_id, record)
       SELECT t.ts, t.sid, t.account_id, t.record FROM {_CDRS} AS t
       WHERE t.owner = {_WRITTEN}),
 o AS (INSERT INTO outcomes (session_id, request_number, ts, recorded)
       SELECT sid, num, ts, recorded FROM k WHERE owner = {_WRITTEN})
SELECT id FROM v"""


#: WRITE's parameters with values sent as Python data and stored as JSON text (the link
#: encodes them: `pg_writer.encode_json`), as (parameter, position in its rows or None for a
#: column[, how]): reservation holds, session units and CDR records (as
#: ``json.dumps(record, sort_keys=True)``, as SQLite stores them). The outcomes' rows come
#: with ``recorded`` as bytes already (`pg_decide.decide_batch`; ``outcome`` stays null).
WRITE_JSON_ARGS: tuple[tuple[Any, ...], ...] = ((10, 5), (13, 6), (17, None, True), (21, 5), (22, 6))
