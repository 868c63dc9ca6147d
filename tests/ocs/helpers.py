"""Builders for OCS tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from diameter.ocs import ChargeRequest, RequestKind, ServiceUsage, UnitKind

GY = "32251@3gpp.org"
MSISDN = "491700000001"
MIB = 1 << 20


def gy(session: str, number: int, kind: RequestKind, *, used: int = 0, requested: int | None = 0,
       rg: int | None = 1, msisdn: str = MSISDN, final: bool = False) -> ChargeRequest:
    """A Gy request for one rating group; `requested=None` sends no RSU, 0 an empty RSU."""
    req = None if requested is None else ({UnitKind.OCTETS: requested} if requested else {})
    usage = ServiceUsage(rg, requested=req, used={UnitKind.OCTETS: used} if used else {}, final=final)
    return ChargeRequest(session, number, kind, [(0, msisdn)], GY, [usage])


#: schema versions the current code cannot charge without (a column its statements write):
#: a test's "old" database has them too, applied out of their order (`migrations_at`)
NEEDED = (11,)


def migrations_at(old: int) -> list[Any]:
    """The migrations of a database at version `old` that the current code can charge on."""
    from diameter.ocs.store import schema
    return [m for m in schema.MIGRATIONS if m[0] <= old or m[0] in NEEDED]


def sqlite_file_at(path: str, versions: Any) -> tuple[Any, float]:
    """A SQLite file with schema `versions` applied in order and account "old" (prepaid, one
    main balance of 10,000) made on it, in a transaction left open; (connection, time)."""
    import sqlite3
    import time

    from diameter.ocs.accounting import default_balances
    from diameter.ocs.model import AccountKind
    from diameter.ocs.store import queries, schema
    from diameter.ocs.store.sqlite import drive

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version in versions:
        for stmt in schema.statements(version, schema.SQLITE_TYPES):
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    now = time.time()
    drive(conn, queries.create_account("old", AccountKind.PREPAID, 978, [(0, MSISDN)],
                                       default_balances(1, 10_000), now))
    return conn, now


async def charged_across_upgrade(url: str, monkeypatch: Any, old: int, msisdn: str,
                                 before: Callable[[Any], Awaitable[None]],
                                 after: Callable[[Any], Awaitable[None]]) -> None:
    """Open `url` at schema version `old` and charge a session's I and U; `before(conn)` on
    that database; open it again with every migration (the upgrade) and check that the U
    is replayed from its record, that the T ends the session exactly and that the audit is
    clean; then `after(conn)` on the upgraded database (at the latest version)."""
    import asyncpg

    from diameter.ocs import Engine, Target, open_storage
    from diameter.ocs.store import schema

    older = migrations_at(old)
    assert [m for m in older if m[0] <= old][-1][0] == old and schema.LATEST > old
    sid = f"upgrade-from-{old}"

    async def on_db(check: Callable[[Any], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(url)
        try:
            await check(conn)
        finally:
            await conn.close()

    monkeypatch.setattr(schema, "MIGRATIONS", older)
    async with open_storage(url) as st:
        eng = Engine(st)
        await eng.create_account("c", [(0, msisdn)], amount=1000)
        await eng.charge(gy(sid, 0, RequestKind.INITIAL, msisdn=msisdn))
        first = await eng.charge(gy(sid, 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
    await on_db(before)
    monkeypatch.undo()
    async with open_storage(url) as st:  # migrated; a fresh cache, as on a new instance
        eng = Engine(st)
        again = await eng.charge(gy(sid, 1, RequestKind.UPDATE, used=2 * MIB, msisdn=msisdn))
        assert again.replayed and again.balance == first.balance  # found by its key
        end = await eng.charge(gy(sid, 2, RequestKind.TERMINATION, used=MIB, requested=None,
                                  msisdn=msisdn))
        assert end.result_code == 2001 and end.balance == 1000 - 30
        assert not (await st.account(Target(name="c"))).reservations
        report = await st.audit()
        assert report.ok, report.problems

    async def latest(conn: Any) -> None:
        assert await conn.fetchval("SELECT max(version) FROM schema_version") == schema.LATEST
        await after(conn)
    await on_db(latest)
