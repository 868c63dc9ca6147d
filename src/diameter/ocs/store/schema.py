"""Schema versions. Each migration is a list of statements; `{id}` is the dialect's
auto-increment primary key and `{real}` its double type; a ``(dialect, statement)`` pair
runs on that dialect only (``"sqlite"`` or ``"postgres"``). A database records the
versions applied in `schema_version`; opening a store applies the missing ones in order."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str | tuple[str, str]]]] = [
    (1, [
        "CREATE TABLE accounts (id {id}, name TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL, "
        "state TEXT NOT NULL, currency INTEGER NOT NULL, created {real} NOT NULL)",
        "CREATE TABLE subscriptions (type INTEGER NOT NULL, data TEXT NOT NULL, "
        "account_id BIGINT NOT NULL REFERENCES accounts(id), PRIMARY KEY (type, data))",
        "CREATE INDEX subscriptions_data ON subscriptions (data)",
        "CREATE TABLE balances (id {id}, account_id BIGINT NOT NULL REFERENCES accounts(id), "
        "kind TEXT NOT NULL, amount BIGINT NOT NULL, type_code INTEGER NOT NULL, "
        "floor BIGINT NOT NULL DEFAULT 0, rating_groups TEXT NOT NULL DEFAULT '', "
        "valid_from {real}, valid_until {real}, priority INTEGER NOT NULL)",
        "CREATE INDEX balances_account ON balances (account_id)",
        "CREATE TABLE reservations (session_id TEXT NOT NULL, rating_group INTEGER NOT NULL, "
        "account_id BIGINT NOT NULL, unit TEXT NOT NULL, units BIGINT NOT NULL, holds TEXT NOT NULL, "
        "expires_at {real} NOT NULL, request_number BIGINT NOT NULL, final INTEGER NOT NULL, "
        "peer TEXT NOT NULL, PRIMARY KEY (session_id, rating_group))",
        "CREATE INDEX reservations_account ON reservations (account_id)",
        "CREATE INDEX reservations_expiry ON reservations (expires_at)",
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, account_id BIGINT NOT NULL, "
        "started {real} NOT NULL, updated {real} NOT NULL, expires_at {real} NOT NULL, "
        "charged BIGINT NOT NULL, units TEXT NOT NULL, requests INTEGER NOT NULL, peer TEXT NOT NULL)",
        "CREATE INDEX sessions_account ON sessions (account_id)",
        "CREATE INDEX sessions_expiry ON sessions (expires_at)",
        "CREATE TABLE ledger (id {id}, ts {real} NOT NULL, account_id BIGINT NOT NULL, "
        "balance_id BIGINT NOT NULL, op TEXT NOT NULL, amount BIGINT NOT NULL, "
        "balance_after BIGINT NOT NULL, units BIGINT NOT NULL, session_id TEXT, "
        "request_number BIGINT, rating_group BIGINT)",
        "CREATE INDEX ledger_balance ON ledger (balance_id)",
        "CREATE INDEX ledger_account ON ledger (account_id)",
        "CREATE TABLE outcomes (session_id TEXT NOT NULL, request_number BIGINT NOT NULL, "
        "ts {real} NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (session_id, request_number))",
        "CREATE TABLE cdrs (id {id}, ts {real} NOT NULL, session_id TEXT, account_id BIGINT, "
        "record TEXT NOT NULL)",
    ]),
    (2, [
        # pruning recorded outcomes by age; CDR export bookkeeping
        "CREATE INDEX outcomes_ts ON outcomes (ts)",
        "CREATE TABLE cdr_exports (name TEXT PRIMARY KEY, last_id BIGINT NOT NULL)",
    ]),
    (3, [
        # sessions remember a Final-Unit-Indication, so a recharge can re-authorise them
        "ALTER TABLE sessions ADD COLUMN final INTEGER NOT NULL DEFAULT 0",
    ]),
    (4, [
        # bumped by every PostgreSQL write to an account: a read taken before its lock was
        # granted is recognised as stale and done again
        "ALTER TABLE accounts ADD COLUMN version BIGINT NOT NULL DEFAULT 0",
    ]),
    (5, [
        # SQLite: every index costs each row written, and these four cost the most: a
        # group commit touches one leaf page of each ledger index per account it charges
        # and the expiry indexes change with every request. The audit sums the ledger in
        # one pass, the sweeper scans the open reservations and sessions, and an account's
        # ledger is read newest first from the end of the table. PostgreSQL keeps them.
        ("sqlite", "DROP INDEX IF EXISTS ledger_balance"),
        ("sqlite", "DROP INDEX IF EXISTS ledger_account"),
        ("sqlite", "DROP INDEX IF EXISTS reservations_expiry"),
        ("sqlite", "DROP INDEX IF EXISTS sessions_expiry"),
    ]),
    (6, [
        # PostgreSQL: a reservation's and a session's row is updated by nearly every request;
        # with no index on a column that changes (the expiry indexes go: the sweeper scans
        # the open reservations and sessions) and room left on each page, the update is HOT
        # (no index entry written). The audit sums the ledger in one pass, so the ledger's
        # balance index goes too; pruning recorded outcomes by age needs only a BRIN index
        # (rows arrive in time order), far cheaper to keep than a B-tree per request.
        ("postgres", "DROP INDEX IF EXISTS reservations_expiry"),
        ("postgres", "DROP INDEX IF EXISTS sessions_expiry"),
        ("postgres", "DROP INDEX IF EXISTS ledger_balance"),
        ("postgres", "DROP INDEX IF EXISTS outcomes_ts"),
        ("postgres", "CREATE INDEX outcomes_ts ON outcomes USING brin (ts)"),
        ("postgres", "ALTER TABLE reservations SET (fillfactor = 70)"),
        ("postgres", "ALTER TABLE sessions SET (fillfactor = 70)"),
        ("postgres", "ALTER TABLE accounts SET (fillfactor = 50)"),
        ("postgres", "ALTER TABLE balances SET (fillfactor = 50)"),
    ]),
    (7, [
        # SQLite: every recorded outcome cost an entry in the ts index too (a third B-tree
        # written per request). Pruning reads the oldest rows in the order they were
        # written (rowid order: times only grow) and stops at the first young one.
        ("sqlite", "DROP INDEX IF EXISTS outcomes_ts"),
    ]),
    (8, [
        # PostgreSQL: each ledger row (2.5 per request) cost an entry in two B-trees, the
        # primary key on `id` and `ledger_account`. Nothing reads the ledger by id alone: an
        # account's ledger is read newest first (`queries.ledger`), which one B-tree on
        # (account_id, id) serves better; it is the primary key (ids come from their sequence).
        ("postgres", "ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_pkey"),
        ("postgres", "DROP INDEX IF EXISTS ledger_account"),
        ("postgres", "ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (account_id, id)"),
    ]),
    (9, [
        # PostgreSQL: the session ids that key the outcomes, reservations and sessions are
        # compared bytewise (collation "C"): every request descends these B-trees, and under
        # the database's collation each comparison went through strcoll (PostgreSQL 15 treats
        # only "C" and "POSIX" as bytewise, not "C.UTF-8"). Equality, and so every key, is the
        # same under any deterministic collation; only the indexes are rebuilt (no rewrite).
        ("postgres", 'ALTER TABLE outcomes ALTER COLUMN session_id TYPE TEXT COLLATE "C"'),
        ("postgres", 'ALTER TABLE reservations ALTER COLUMN session_id TYPE TEXT COLLATE "C"'),
        ("postgres", 'ALTER TABLE sessions ALTER COLUMN session_id TYPE TEXT COLLATE "C"'),
    ]),
    (10, [
        # PostgreSQL: every autovacuum or autoanalyze of a table the batch statements read
        # or write invalidates their cached plans on every connection, and each is planned
        # again (the write statement: ~3.5M instructions). With the defaults, charging
        # traffic had the launcher's every visit (each minute) process the hot tables: all
        # of them modified by every request, the small ones (accounts, balances) even past
        # 50 rows + 10-20 %. What charging changes does not move a plan: amounts, versions
        # and times in place (HOT updates, pruned as pages are read), sessions and
        # reservations come and go at about the same rate, and the append-only tables are
        # read by key. The planner scales row counts to the tables' current size anyway.
        # So these tables are analysed after 1M changes and vacuumed after 20,000 dead rows
        # or 1M inserts (each plus the default share of the table); wraparound vacuums run
        # as always.
        *(("postgres", f"ALTER TABLE {t} SET (autovacuum_analyze_threshold = 1000000, "
           "autovacuum_vacuum_threshold = 20000, autovacuum_vacuum_insert_threshold = 1000000)")
          for t in ("accounts", "balances", "reservations", "sessions", "ledger", "outcomes", "cdrs")),
    ]),
    (11, [
        # PostgreSQL: a recorded outcome is written as the `marshal` dump of its row
        # (`Outcome.to_row`, as SQLite records it) in `recorded`, not as JSON text in
        # `outcome`: the JSON cost the writer process more than a third of its encoding per
        # request. Rows recorded before keep their JSON `outcome` (both are read). No
        # rewrite: a new nullable column. (No CHECK that a row has one of the two: it cost
        # PostgreSQL more per insert than the bytea saved; every writer here fills
        # `recorded`, and a row without either would only make its retransmission fail on
        # the outcomes' primary key, never charge it twice.)
        ("postgres", "ALTER TABLE outcomes ADD COLUMN recorded BYTEA, "
         "ALTER COLUMN outcome DROP NOT NULL"),
    ]),
    (12, [
        # PostgreSQL: at fillfactor 70 about a fifth of the reservation and session updates
        # found no room on their page and were not HOT (an entry in each of the table's two
        # indexes: `bench/ocs_loop.py --node`, 2,000 sessions: 6,503 and 6,344 of 8,000 HOT);
        # at 50 all but a few are (8,000 and 7,937), and the batch statement writes about
        # 5 % less WAL. Only open sessions live in these tables, so the room costs little.
        # Pages written from now on keep it (no rewrite).
        ("postgres", "ALTER TABLE reservations SET (fillfactor = 50)"),
        ("postgres", "ALTER TABLE sessions SET (fillfactor = 50)"),
    ]),
    (13, [
        # SQLite: the ledger and the CDRs without AUTOINCREMENT: it kept each table's
        # highest id in `sqlite_sequence`, one more page (WAL frame) written by every COMMIT
        # that added either. Ids stay unique and growing (a new row takes the highest id + 1;
        # the OCS never deletes these rows, so the highest one given stays in the table);
        # the rows are copied with their ids (`ocs cdr` export positions stay valid).
        ("sqlite", "CREATE TABLE ledger_13 (id INTEGER PRIMARY KEY, ts REAL NOT NULL, "
         "account_id BIGINT NOT NULL, balance_id BIGINT NOT NULL, op TEXT NOT NULL, "
         "amount BIGINT NOT NULL, balance_after BIGINT NOT NULL, units BIGINT NOT NULL, "
         "session_id TEXT, request_number BIGINT, rating_group BIGINT)"),
        ("sqlite", "INSERT INTO ledger_13 (id, ts, account_id, balance_id, op, amount, balance_after, "
         "units, session_id, request_number, rating_group) SELECT id, ts, account_id, balance_id, op, "
         "amount, balance_after, units, session_id, request_number, rating_group FROM ledger ORDER BY id"),
        ("sqlite", "DROP TABLE ledger"),
        ("sqlite", "ALTER TABLE ledger_13 RENAME TO ledger"),
        ("sqlite", "CREATE TABLE cdrs_13 (id INTEGER PRIMARY KEY, ts REAL NOT NULL, session_id TEXT, "
         "account_id BIGINT, record TEXT NOT NULL)"),
        ("sqlite", "INSERT INTO cdrs_13 (id, ts, session_id, account_id, record) "
         "SELECT id, ts, session_id, account_id, record FROM cdrs ORDER BY id"),
        ("sqlite", "DROP TABLE cdrs"),
        ("sqlite", "ALTER TABLE cdrs_13 RENAME TO cdrs"),
    ]),
]

LATEST = MIGRATIONS[-1][0]

SQLITE_TYPES = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL", "dialect": "sqlite"}
POSTGRES_TYPES = {"id": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "dialect": "postgres"}


def statements(version: int, types: dict[str, str]) -> list[str]:
    """The statements of one version for a dialect (`types`: SQLITE_TYPES, POSTGRES_TYPES)."""
    for v, stmts in MIGRATIONS:
        if v == version:
            out = []
            for s in stmts:
                if isinstance(s, tuple):
                    if s[0] != types.get("dialect"):
                        continue
                    s = s[1]
                out.append(s.format(**types))
            return out
    raise KeyError(version)
