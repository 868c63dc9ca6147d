"""PostgreSQL's callback path (`PostgresStorage.transact_then`, `BatchCommitter.submit_then`):
the same answers as the coroutine path, byte for byte, and the same money safety when the
writer process dies with callbacks pending."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from diameter.ocs import Engine, RequestKind, StorageError, Target, open_storage
from diameter.ocs.store import pg_batch

from .helpers import MIB, MSISDN, gy
from .test_answer_soon import both_paths_answer_the_same


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


@pytest.mark.parametrize("dialect", [None, "huawei"])
def test_callback_and_coroutine_paths_answer_the_same_bytes_on_postgres(pg_cluster, dialect):
    run(both_paths_answer_the_same(pg_cluster.new_database(), pg_cluster.new_database(), dialect))


def test_the_engine_takes_the_callback_path_on_postgres(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            assert eng.can_charge_then()
            await eng.create_account("w", [(0, MSISDN)], amount=1000)
            got: list[tuple[object, object]] = []
            done = asyncio.Event()

            def then(out, exc):
                got.append((out, exc))
                done.set()
            eng.charge_then(gy("s", 0, RequestKind.INITIAL), then)
            assert not got  # answered only once its batch committed
            await asyncio.wait_for(done.wait(), 10)
            (out, exc), = got
            assert exc is None and out.result_code == 2001
            # committed before the callback: another connection sees its outcome row
            async with st._conn() as conn:
                assert await conn.fetchval("SELECT count(*) FROM outcomes WHERE session_id = 's'") == 1
            # a retransmission of a request committed here: called back at once, replayed
            again: list[tuple[object, object]] = []
            eng.charge_then(gy("s", 0, RequestKind.INITIAL), lambda o, e: again.append((o, e)))
            assert len(again) == 1 and again[0][0].replayed and again[0][0].balance == out.balance
    run(main())


def test_a_writer_killed_with_callbacks_pending_fails_them_and_retries_are_charged_once(pg_cluster):
    """Callbacks waiting on a batch whose outcome is unknown (the writer process died while
    the batch waited for a row lock, after which it may still commit) get a `StorageError`;
    the retransmissions are each either replayed or charged, never twice."""
    import asyncpg

    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=10_000)
            for i in range(4):
                await eng.charge(gy(f"s{i}", 0, RequestKind.INITIAL))
            blocker = await asyncpg.connect(url)
            try:
                tr = blocker.transaction()
                await tr.start()
                await blocker.execute("SELECT 1 FROM accounts WHERE name = 'w' FOR UPDATE")
                got: dict[str, tuple[object, object]] = {}
                for i in range(4):
                    eng.charge_then(gy(f"s{i}", 1, RequestKind.UPDATE, used=MIB),
                                    lambda o, e, i=i: got.__setitem__(f"s{i}", (o, e)))
                await asyncio.sleep(0.3)  # the batch waits for the row in the writer process
                assert not got
                link = st.link
                assert link is not None and link.proc is not None
                os.kill(link.proc.pid, signal.SIGKILL)
                link.proc.wait(10)
                for _ in range(200):
                    if len(got) == 4:
                        break
                    await asyncio.sleep(0.05)
                assert sorted(got) == ["s0", "s1", "s2", "s3"]
                assert all(o is None and isinstance(e, StorageError) for o, e in got.values())
                await tr.commit()  # the dead writer's statement may commit now
            finally:
                await blocker.close()
            for i in range(4):  # the client's retries, through the callback path too
                fut = asyncio.get_running_loop().create_future()
                eng.charge_then(gy(f"s{i}", 1, RequestKind.UPDATE, used=MIB),
                                lambda o, e, fut=fut: fut.set_result((o, e)))
                out, exc = await asyncio.wait_for(fut, 10)
                assert exc is None and out.result_code == 2001
            snap = await st.account(Target(name="w"))
            debits = [r for r in await st.ledger(snap.account.id)
                      if r.op == "debit" and r.request_number == 1]
            assert sorted(r.session_id for r in debits) == ["s0", "s1", "s2", "s3"]  # once each
            assert (await st.audit()).ok
    run(main())


def test_a_callback_that_raises_does_not_stop_the_committer(pg_cluster, caplog):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=1000)

            def bad(out, exc):
                raise RuntimeError("the caller's bug")
            eng.charge_then(gy("a", 0, RequestKind.INITIAL), bad)
            out = await eng.charge(gy("b", 0, RequestKind.INITIAL))  # the next batch still runs
            assert out.result_code == 2001
            assert "callback failed" in caplog.text
            assert pg_batch.STATS["batches"] > 0
            assert (await st.audit()).ok
    run(main())


def test_transact_then_on_a_closed_storage_raises_at_once(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        st = open_storage(url)
        await st.open()
        eng = Engine(st)
        await st.close()
        with pytest.raises(StorageError):
            eng.charge_then(gy("s", 0, RequestKind.INITIAL), lambda o, e: None)
    run(main())
