"""PostgreSQL's writer process (the batch's statements off the event loop) and schema 6."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from diameter.ocs import Engine, RequestKind, StorageError, Target, open_storage
from diameter.ocs.store import pg_batch, schema
from diameter.ocs.store.pg_link import PoolLink, WriterLink
from diameter.ocs.store.postgres import PostgresStorage

from .helpers import MIB, MSISDN, gy, migrations_at


async def _debits(st, key: tuple[str, int]) -> list[int]:
    snap = await st.account(Target(name="w"))
    return [r.amount for r in await st.ledger(snap.account.id)
            if r.op == "debit" and (r.session_id, r.request_number) == key]


def _kill(link: WriterLink) -> None:
    assert link.proc is not None and link.proc.pid != os.getpid()
    os.kill(link.proc.pid, signal.SIGKILL)
    link.proc.wait(10)


def test_the_writer_process_runs_the_batches_and_is_started_again_after_it_died(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            assert isinstance(st.link, WriterLink) and st.link.starts == 0  # not before a batch
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=1000)
            assert st.link.starts == 0  # administrative work runs here
            out = await eng.charge(gy("s", 0, RequestKind.INITIAL))
            assert out.result_code == 2001 and st.link.starts == 1
            _kill(st.link)
            out = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB))
            assert out.result_code == 2001 and out.balance == 1000 - 10 - 100
            assert st.link.starts == 2 and st.link.proc.poll() is None
            assert await _debits(st, ("s", 1)) == [-10]
            assert (await st.audit()).ok
        assert st.link is None
    asyncio.run(main())


def test_a_writer_killed_during_a_batch_fails_its_requests_and_a_retry_is_charged_once(pg_cluster):
    """The batch's outcome is unknown when the process dies (its statement may still commit,
    as here once the row lock is free): the request fails, and its retransmission is either
    replayed or charged, never twice."""
    import asyncpg

    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL))
            blocker = await asyncpg.connect(url)
            try:
                tr = blocker.transaction()
                await tr.start()
                await blocker.execute("SELECT 1 FROM accounts WHERE name = 'w' FOR UPDATE")
                pending = asyncio.ensure_future(eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB)))
                await asyncio.sleep(0.3)  # its batch waits for the row in the writer process
                assert not pending.done()
                _kill(st.link)
                with pytest.raises(StorageError):
                    await asyncio.wait_for(pending, 10)
                await tr.rollback()
            finally:
                await blocker.close()
            again = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB))
            assert again.result_code == 2001 and again.balance == 1000 - 10 - 100
            assert await _debits(st, ("s", 1)) == [-10]
            end = await eng.charge(gy("s", 2, RequestKind.TERMINATION, used=0, requested=None))
            assert end.balance == 1000 - 10
            assert (await st.audit()).ok
    asyncio.run(main())


@pytest.mark.parametrize("writer_process", [True, False])
def test_a_batch_refused_by_the_database_runs_its_requests_alone(pg_cluster, writer_process):
    """A statement the database refuses wrote nothing: its requests run alone (each in a
    transaction locking its account) and are charged once; in the process and without it."""
    url = pg_cluster.new_database()

    async def main():
        async with PostgresStorage(url, writer_process=writer_process) as st:
            assert isinstance(st.link, WriterLink if writer_process else PoolLink)
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL))
            async with st._conn() as conn:  # the next outcome row is refused (once: a
                await conn.execute("CREATE SEQUENCE refusals")  # sequence is not rolled back)
                await conn.execute(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF nextval('refusals') = 1 THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$")
                await conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON outcomes "
                                   "FOR EACH ROW EXECUTE FUNCTION refuse()")
            fallbacks = pg_batch.STATS["fallbacks"]
            out = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=MIB))
            assert out.result_code == 2001 and out.balance == 1000 - 10 - 100
            assert pg_batch.STATS["fallbacks"] == fallbacks + 1
            assert await _debits(st, ("s", 1)) == [-10]
            assert (await st.audit()).ok
    asyncio.run(main())


def test_schema_6_keeps_the_money_of_a_version_5_database(pg_cluster, monkeypatch):
    """A database at version 5 holding balances, open reservations and sessions is
    migrated on opening: its sessions go on and end, and every balance stays exact."""
    import asyncpg

    url = pg_cluster.new_database()
    six = migrations_at(6)  # (later versions: their own tests)
    assert max(v for v, _ in six if v < 7) == 6

    async def main():
        monkeypatch.setattr(schema, "MIGRATIONS", [m for m in six if m[0] != 6])
        async with open_storage(url) as st:
            eng = Engine(st)
            for i in range(3):
                await eng.create_account(f"m{i}", [(0, f"49170000090{i}")], amount=1000)
                await eng.charge(gy(f"m{i}", 0, RequestKind.INITIAL, msisdn=f"49170000090{i}"))
                await eng.charge(gy(f"m{i}", 1, RequestKind.UPDATE, used=2 * MIB,
                                    msisdn=f"49170000090{i}"))
        monkeypatch.setattr(schema, "MIGRATIONS", six)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version WHERE version < 7") == 5
            assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = "
                                       "'sessions_expiry'") == 1
        finally:
            await conn.close()
        async with open_storage(url) as st:
            eng = Engine(st)
            for i in range(3):
                snap = await st.account(Target(name=f"m{i}"))
                assert len(snap.reservations) == 1
                end = await eng.charge(gy(f"m{i}", 2, RequestKind.TERMINATION, used=MIB,
                                          requested=None, msisdn=f"49170000090{i}"))
                assert end.result_code == 2001 and end.balance == 1000 - 30
            report = await st.audit()
            assert report.ok and report.balances == 3, report.problems
            assert await st.due(1e12) == []  # the sweeper's scan without the expiry indexes
            assert await st.prune_outcomes(1e12) == 9  # by the BRIN index on ts
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT max(version) FROM schema_version WHERE version < 7") == 6
            idx = {r[0]: r[1] for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")}
            for gone in ("sessions_expiry", "reservations_expiry", "ledger_balance"):
                assert gone not in idx
            assert "brin" in idx["outcomes_ts"] and "ledger_account" in idx
            opts = {r[0]: r[1] for r in await conn.fetch(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN "
                "('sessions', 'reservations', 'accounts', 'balances')")}
            assert opts["sessions"] == ["fillfactor=70"] and opts["accounts"] == ["fillfactor=50"]
        finally:
            await conn.close()
    asyncio.run(main())


@pytest.mark.parametrize("writer_process", [True, False])
def test_a_server_start_warms_the_batch_path_before_its_first_request(pg_cluster, writer_process):
    """`OcsServer.start` calls `Storage.warm`: the writer process is up and the batch's LOAD
    has run once on its connection (session 19: the first batch of a server waited about 0.3 s
    for that), while administrative use of the storage still starts no writer."""
    from diameter.ocs.server import OcsServer, ServerConfig

    url = pg_cluster.new_database()

    async def main():
        st = PostgresStorage(url, writer_process=writer_process)
        srv = OcsServer(ServerConfig(port=0, database=url), store=st)
        await srv.start()
        try:
            if writer_process:
                assert isinstance(st.link, WriterLink) and st.link.starts == 1
                assert st.link.proc is not None and st.link.proc.poll() is None
                assert pg_batch.pg_sql.LOAD in st.link._sql  # prepared on the writer's side
            else:
                assert isinstance(st.link, PoolLink) and st.link.pool._count == 1 == len(st.link.pool._idle)
        finally:
            await srv.stop()
        async with open_storage(url) as admin:
            await Engine(admin).create_account("w", [(0, MSISDN)], amount=1000)
            assert admin.link.starts == 0
    asyncio.run(main())
