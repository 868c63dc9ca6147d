"""PostgreSQL's group commit on the per-instance account cache: conflicts, replays, failures."""

from __future__ import annotations

import asyncio

import pytest

from diameter.ocs import (
    Balance,
    BalanceType,
    Engine,
    RechargeRequest,
    RequestKind,
    Target,
    UnitKind,
    open_storage,
)
from diameter.ocs.accounting import adjust
from diameter.ocs.store import pg_batch
from diameter.ocs.store.postgres import PostgresStorage

from .helpers import MIB, MSISDN, gy

X, Y = "491700000101", "491700000102"


def _delta(before: dict[str, int]) -> dict[str, int]:
    return {k: pg_batch.STATS[k] - before[k] for k in before}


async def _debits(st, name: str, key: tuple[str, int]) -> list[int]:
    snap = await st.account(Target(name=name))
    return [r.amount for r in await st.ledger(snap.account.id)
            if r.op == "debit" and (r.session_id, r.request_number) == key]


async def _balance(st, name: str) -> int:
    return (await st.account(Target(name=name))).balances[0].amount


def test_conflicting_account_in_a_batch_is_decided_again_and_charged_once(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as a, open_storage(url) as b:
            ea, eb = Engine(a), Engine(b)
            await ea.create_account("x", [(0, X)], amount=1000)
            await ea.create_account("y", [(0, Y)], amount=1000)
            await ea.charge(gy("sx", 0, RequestKind.INITIAL, msisdn=X))  # a caches x and y
            await ea.charge(gy("sy", 0, RequestKind.INITIAL, msisdn=Y))
            # another instance recharges x behind a's back
            await eb.recharge(Target(name="x"), RechargeRequest(500))
            before = dict(pg_batch.STATS)
            ox, oy = await asyncio.gather(
                ea.charge(gy("sx", 1, RequestKind.UPDATE, used=3 * MIB, msisdn=X)),
                ea.charge(gy("sy", 1, RequestKind.UPDATE, used=3 * MIB, msisdn=Y)))
            delta = _delta(before)
            # one batch wrote y and found x changed; x was read again and written next batch
            assert delta["conflicts"] == 1 and delta["batches"] == 2 and delta["units"] == 2
            assert ox.balance == 900 + 500 + 100 - 30 - 100  # decided on the recharged balance
            assert oy.balance == 900 + 100 - 30 - 100
            assert await _debits(a, "x", ("sx", 1)) == [-30]
            assert await _balance(b, "x") == 1370 and await _balance(b, "y") == 870

            # an administrative change on the other instance: a new balance of free units
            await b.add_balance((await b.account(Target(name="x"))).account.id,
                                Balance(0, 0, UnitKind.OCTETS, 2 * MIB, BalanceType.FREE_UNITS,
                                        rating_groups=(1,), priority=10))
            before = dict(pg_batch.STATS)
            ox = await ea.charge(gy("sx", 2, RequestKind.UPDATE, used=3 * MIB, msisdn=X))
            assert _delta(before)["conflicts"] == 1
            # the free units were seen: 2 MiB from them, 1 MiB paid
            assert ox.balance == 1370 + 100 - 10 - 100
            snap = await a.account(Target(name="x"))
            assert [bal.amount for bal in snap.balances] == [1360, 0]
            report = await a.audit()
            assert report.ok, report.problems
    asyncio.run(main())


@pytest.mark.parametrize("writer_process", [True, False])
def test_retransmission_to_another_instance_during_a_batch_is_replayed(pg_cluster, writer_process):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as a, PostgresStorage(url, writer_process=writer_process) as b:
            ea, eb = Engine(a), Engine(b)
            await ea.create_account("r", [(0, X)], amount=1000)
            await ea.charge(gy("s", 0, RequestKind.INITIAL, msisdn=X))
            first = await ea.charge(gy("s", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=X))
            # b reads the account after a's write: its cache is current, the version matches
            await eb.charge(gy("t", 0, RequestKind.INITIAL, msisdn=X))
            before = dict(pg_batch.STATS)
            again, other = await asyncio.gather(
                eb.charge(gy("s", 1, RequestKind.UPDATE, used=2 * MIB, msisdn=X)),
                eb.charge(gy("t", 1, RequestKind.UPDATE, used=MIB, msisdn=X)))
            # the outcomes' key refused the batch holding ("s", 1): nothing of the account
            # written, read again, the retransmission replayed and the other request charged
            # in the next batch
            delta = _delta(before)
            assert delta["recorded"] == 1 and delta["conflicts"] == 1 and delta["fallbacks"] == 0
            assert again.replayed and again.balance == first.balance and again.grants == first.grants
            assert not other.replayed
            assert await _debits(a, "r", ("s", 1)) == [-20]
            assert await _debits(a, "r", ("t", 1)) == [-10]
            assert await _balance(a, "r") == 1000 - 20 - 10 - 100 - 100
            report = await b.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_retransmission_on_the_same_instance_shares_or_replays_the_answer(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("d", [(0, X)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL, msisdn=X))
            req = gy("s", 1, RequestKind.UPDATE, used=MIB, msisdn=X)
            one, two = await asyncio.gather(eng.charge(req), eng.charge(req))
            assert sorted((one.replayed, two.replayed)) == [False, True]
            assert one.balance == two.balance == 1000 - 10 - 100
            before = dict(pg_batch.STATS)
            three = await eng.charge(req)  # answered from memory: no batch at all
            assert three.replayed and three.grants == one.grants
            assert _delta(before)["batches"] == 0
            assert await _debits(st, "d", ("s", 1)) == [-10]
    asyncio.run(main())


def test_failing_decision_fails_alone_and_the_batch_is_decided_on_fresh_state(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("w", [(0, X)], amount=1000)
            await eng.charge(gy("s1", 0, RequestKind.INITIAL, msisdn=X))

            def broken(snap):
                snap.balances[0].amount = 0  # changes the cached account, then fails
                raise RuntimeError("rating bug")
            res = await asyncio.gather(
                eng.charge(gy("s1", 1, RequestKind.UPDATE, used=MIB, msisdn=X)),
                st.transact(Target(name="w"), broken),
                eng.charge(gy("s2", 0, RequestKind.INITIAL, msisdn=X)), return_exceptions=True)
            assert isinstance(res[1], RuntimeError)
            assert res[0].balance == 1000 - 10 - 100 and res[2].balance == 1000 - 10 - 100 - 100
            assert await _balance(st, "w") == 790
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_repeated_conflicts_fall_back_to_the_account_lock_and_memory_stays_bounded(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with PostgresStorage(url, optimistic_tries=1) as a, open_storage(url) as b:
            ea, eb = Engine(a), Engine(b)
            assert a.committer is not None
            a.committer.cache.max_accounts = 2
            for i in range(5):
                await ea.create_account(f"m{i}", [(0, f"4917000002{i}")], amount=1000)
                await ea.charge(gy(f"m{i}", 0, RequestKind.INITIAL, msisdn=f"4917000002{i}"))
            assert len(a.committer.cache.accounts) <= 2
            await eb.recharge(Target(name="m4"), RechargeRequest(500))  # a's m4 is stale
            before = dict(pg_batch.STATS)
            out = await ea.charge(gy("m4", 1, RequestKind.UPDATE, used=MIB, msisdn="491700000204"))
            delta = _delta(before)
            assert delta["conflicts"] == 1 and delta["fallbacks"] == 1
            assert out.balance == 900 + 500 + 100 - 10 - 100 and not out.replayed
            assert await _debits(a, "m4", ("m4", 1)) == [-10]
            report = await b.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_batch_resolves_mislabelled_and_unknown_subscriptions_in_one_read(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("l", [(0, X)], amount=1000)
            before = dict(pg_batch.STATS)
            wrong_type, unknown = await asyncio.gather(
                st.transact(Target(subscriptions=((1, X),)), lambda snap: _charge(snap, 7)),
                eng.charge(gy("u", 0, RequestKind.INITIAL, msisdn="4999")))
            assert wrong_type.balance == 993  # an E.164 sent as IMSI: found by its data
            assert unknown.result_code == 5030
            assert _delta(before)["loads"] == 1
            assert await st.recorded(("u", 0)) is None
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def _charge(snap, amount: int):
    return adjust(snap, snap.balances[0].id, -amount, 0.0)


def test_two_batches_in_flight_keep_accounts_apart(pg_cluster):
    """While one batch waits in the database, the next one writes other accounts; a request
    of the waiting batch's account waits for it, and nothing is charged twice or lost."""
    import asyncpg

    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("x", [(0, X)], amount=1000)
            await eng.create_account("y", [(0, Y)], amount=1000)
            await eng.charge(gy("sx", 0, RequestKind.INITIAL, msisdn=X))  # both cached
            await eng.charge(gy("sy", 0, RequestKind.INITIAL, msisdn=Y))
            blocker = await asyncpg.connect(url)
            try:
                tr = blocker.transaction()
                await tr.start()
                await blocker.execute("SELECT 1 FROM accounts WHERE name = 'x' FOR UPDATE")
                first = asyncio.ensure_future(
                    eng.charge(gy("sx", 1, RequestKind.UPDATE, used=MIB, msisdn=X)))
                await asyncio.sleep(0.3)  # its batch now waits for x's row
                second = asyncio.ensure_future(
                    eng.charge(gy("sx2", 0, RequestKind.INITIAL, msisdn=X)))
                other = await asyncio.wait_for(
                    eng.charge(gy("sy", 1, RequestKind.UPDATE, used=MIB, msisdn=Y)), 10)
                assert other.balance == 1000 - 10 - 100 and not other.replayed
                await asyncio.sleep(0.2)
                assert not first.done() and not second.done()  # x is busy: both wait
                await tr.rollback()
                one, two = await asyncio.wait_for(asyncio.gather(first, second), 10)
            finally:
                await blocker.close()
            assert one.balance == 1000 - 10 - 100
            assert two.balance == 1000 - 10 - 100 - 100  # decided after the first committed
            assert await _balance(st, "x") == 790 and await _balance(st, "y") == 890
            assert await _debits(st, "x", ("sx", 1)) == [-10]
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_batch_updates_known_rows_and_inserts_new_ones(pg_cluster):
    """A batch updates in place the reservation and session rows the cache read from the
    database and inserts the new ones (no upsert): mixed in one batch (a session starting,
    one reporting, one ending) the rows in the database are the cache's, nothing falls back,
    and another instance reading them charges on from there."""
    import asyncpg

    url = pg_cluster.new_database()
    sql_res = ("SELECT session_id, rating_group, units, holds, request_number, final FROM reservations"
               " ORDER BY 1, 2")
    sql_ses = "SELECT session_id, charged, units, requests, final FROM sessions ORDER BY 1"

    async def main():
        async with open_storage(url) as a:
            eng = Engine(a)
            await eng.create_account("x", [(0, X)], amount=10_000)
            before = dict(pg_batch.STATS)
            await asyncio.gather(eng.charge(gy("s1", 0, RequestKind.INITIAL, msisdn=X)),
                                 eng.charge(gy("s2", 0, RequestKind.INITIAL, msisdn=X)))
            await asyncio.gather(  # one batch: an update, a termination, an initial
                eng.charge(gy("s1", 1, RequestKind.UPDATE, used=MIB, msisdn=X)),
                eng.charge(gy("s2", 1, RequestKind.TERMINATION, used=2 * MIB, requested=None, msisdn=X)),
                eng.charge(gy("s3", 0, RequestKind.INITIAL, msisdn=X)))
            await asyncio.gather(eng.charge(gy("s1", 2, RequestKind.UPDATE, used=MIB, msisdn=X)),
                                 eng.charge(gy("s3", 1, RequestKind.UPDATE, used=MIB, msisdn=X)))
            delta = _delta(before)
            assert delta["fallbacks"] == 0 and delta["conflicts"] == 0 and delta["units"] == 7
            snap = await a.account(Target(name="x"))
            cache = a.committer.cache.accounts[snap.account.id]
            conn = await asyncpg.connect(url)
            try:
                res = [tuple(r) for r in await conn.fetch(sql_res)]
                ses = [tuple(r) for r in await conn.fetch(sql_ses)]
            finally:
                await conn.close()
            assert [(sid, rg) for sid, rg, *_ in res] == [("s1", 1), ("s3", 1)]
            assert [r[0] for r in ses] == ["s1", "s3"]
            for sid, rg, units, _holds, number, final in res:
                r = cache.res[sid][rg]
                assert (units, number, final) == (r.units, r.request_number, int(r.final))
            for sid, charged, _units, requests, final in ses:
                s = cache.sessions[sid]
                assert (charged, requests, final) == (s.charged, s.requests, int(s.final))
            assert [r[4] for r in res] == [2, 1] and [r[1] for r in ses] == [20, 10]
        async with open_storage(url) as b:  # another instance reads the rows and charges on
            out = await Engine(b).charge(gy("s1", 3, RequestKind.TERMINATION, used=MIB, requested=None,
                                            msisdn=X))
            assert out.balance == 10_000 - 60 - 100  # s3 still holds its grant
            assert (await b.audit()).ok
    asyncio.run(main())


def test_a_session_id_held_by_another_account_is_refused_and_the_books_stay_exact(pg_cluster):
    """A request whose session id names another account's open session (a client reusing a
    Session-Id for another subscriber) would write over that account's rows: its insert
    fails, in the batch and then alone under the account lock, so the request fails
    (StorageError: the front answers 5012) and nothing of either account changes."""
    import asyncpg
    import pytest

    from diameter.ocs.store.base import StorageError

    url = pg_cluster.new_database()
    sql = "SELECT session_id, rating_group, account_id, holds FROM reservations ORDER BY 1"

    async def main():
        async with open_storage(url) as a:
            eng = Engine(a)
            await eng.create_account("x", [(0, X)], amount=1000)
            await eng.create_account("y", [(0, Y)], amount=1000)
            await eng.charge(gy("sx", 0, RequestKind.INITIAL, msisdn=X))  # a caches x
            async with open_storage(url) as b:  # y's session "dup", on another instance
                await Engine(b).charge(gy("dup", 0, RequestKind.INITIAL, msisdn=Y))
            conn = await asyncpg.connect(url)
            try:
                rows = [tuple(r) for r in await conn.fetch(sql)]
                before = dict(pg_batch.STATS)
                with pytest.raises(StorageError):
                    await eng.charge(gy("dup", 5, RequestKind.INITIAL, msisdn=X))
                assert _delta(before)["fallbacks"] == 1 and _delta(before)["units"] == 0
                assert [tuple(r) for r in await conn.fetch(sql)] == rows  # y's hold untouched
            finally:
                await conn.close()
            assert await _balance(a, "x") == 1000 - 100 and await _balance(a, "y") == 1000 - 100
            report = await a.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_a_trace_records_each_batch_from_taken_to_answered(pg_cluster, tmp_path, monkeypatch):
    """`DIAMETER_PG_TRACE=FILE`: one JSON line per batch, written when the storage closes,
    its times in order and each unit's age; the summary reads the file back."""
    import json

    from diameter.ocs.store import pg_trace, trace_file
    trace = tmp_path / "pg-trace.jsonl"
    monkeypatch.setenv(pg_trace.ENV, str(trace))
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as store:
            engine = Engine(store)
            await engine.create_account("a", [(0, MSISDN)], amount=100000)
            for s in range(3):
                await asyncio.gather(*(engine.charge(gy(f"p{s}.{i}", 0, RequestKind.INITIAL, requested=10))
                                       for i in range(5)))
    asyncio.run(main())
    recs = [json.loads(x) for x in trace.read_text().splitlines()]
    assert recs == trace_file.read(str(trace))
    assert recs and sum(r["n"] for r in recs) == 15
    for r in recs:
        assert r["take"] <= r["decided"] <= r["returned"] <= r["answered"]
        assert len(r["ages"]) == r["n"] and 0 <= r["wait"] <= r["oldest"] <= max(r["ages"])
    summary = pg_trace.summary(recs)
    assert summary.startswith(f"{len(recs)} batches") and "decided -> WRITE returned" in summary
