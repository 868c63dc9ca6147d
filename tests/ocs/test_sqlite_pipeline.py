"""SQLite: the next batch is decided while the previous one is written and committed.

Each test holds batch A before it goes to the writer process (an asyncio.Event around the
real send), so batch B is decided on the event loop while A is in flight, then lets A go
on and checks what the overlap must guarantee."""

from __future__ import annotations

import asyncio

from diameter.ocs import Engine, RechargeRequest, RequestKind, StorageError, Target, open_storage, rating
from diameter.ocs.tariff import DEFAULT_TARIFF

from .helpers import MIB, MSISDN, gy

TARGET = Target(subscriptions=((0, MSISDN),))


def hold_writes(st):
    """Hold each batch decided ahead until `go`, then send it to the writer process."""
    go = asyncio.Event()
    real = st._write_ahead

    def held(rows, version, epoch):
        async def later():
            await asyncio.wait_for(go.wait(), 20)
            return await real(rows, version, epoch)
        return asyncio.ensure_future(later())
    st._write_ahead = held
    return go


async def until(cond, what):
    for _ in range(400):  # bounded: 20 s
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def charge(counts, name, i, *, bad=False):
    def fn(snap):
        counts[name] = counts.get(name, 0) + 1
        dec = rating.charge(snap, gy(name, 0, RequestKind.INITIAL, requested=MIB), DEFAULT_TARIFF, 0.0)
        if bad:
            dec.reservations_put[0].units = 1 << 70  # too large for SQLite: the write fails
        return dec
    return fn


def test_a_failing_batch_makes_the_batch_decided_on_it_decided_again(tmp_path):
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("pf", [(0, MSISDN)], amount=1000)
            go = hold_writes(st)
            counts: dict[str, int] = {}
            a = [asyncio.ensure_future(st.transact(TARGET, charge(counts, f"a{i}", i, bad=i == 1),
                                                   (f"a{i}", 0), 0.0)) for i in range(3)]
            await until(lambda: len(counts) == 3, "batch A decided")
            b = [asyncio.ensure_future(st.transact(TARGET, charge(counts, f"b{i}", i), (f"b{i}", 0), 0.0))
                 for i in range(3)]
            await until(lambda: len(counts) == 6, "batch B decided ahead")
            assert all(v == 1 for v in counts.values()) and not any(f.done() for f in a + b)
            assert st.ahead == 1
            go.set()
            ra = await asyncio.gather(*a, return_exceptions=True)
            rb = await asyncio.gather(*b)
            assert isinstance(ra[1], StorageError) and "too large" in str(ra[1])
            assert ra[0].result_code == ra[2].result_code == 2001
            assert all(r.result_code == 2001 for r in rb)
            assert all(counts[f"b{i}"] == 2 for i in range(3))  # B was built on A: decided again
            assert counts["a0"] == counts["a2"] == 2  # A: one by one
            snap = await eng.account(Target(name="pf"))
            assert snap.balances[0].amount == 1000 - 5 * 10 and len(snap.reservations) == 5
            assert [r.balance for r in rb] == sorted((r.balance for r in rb), reverse=True)
            assert await st.recorded(("a1", 0)) is None and (await st.audit()).ok
    asyncio.run(main())


def test_a_retransmission_of_a_request_in_the_uncommitted_batch_is_replayed_once(tmp_path):
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("pr", [(0, MSISDN)], amount=1000)
            go = hold_writes(st)
            first = asyncio.ensure_future(eng.charge(gy("r1", 0, RequestKind.INITIAL)))
            await until(lambda: st._cache.outcomes or st._cache.inflight, "batch A decided")
            again = asyncio.ensure_future(eng.charge(gy("r1", 0, RequestKind.INITIAL)))
            other = asyncio.ensure_future(eng.charge(gy("r2", 0, RequestKind.INITIAL)))
            await until(lambda: ("r2", 0) in st._cache.inflight, "batch B decided ahead")
            assert st.ahead == 1
            await asyncio.sleep(0.1)
            assert not first.done() and not again.done()  # nothing answered before A commits
            commits = st.commits
            go.set()
            one, two, three = await asyncio.gather(first, again, other)
            assert st.commits - commits == 2  # A, then B: nothing was decided again
            assert not one.replayed and two.replayed
            assert (two.result_code, two.grants, two.balance) == (one.result_code, one.grants, one.balance)
            assert three.balance == one.balance - 100
            snap = await eng.account(Target(name="pr"))
            assert snap.balances[0].amount == 1000 - 2 * 100 and len(snap.reservations) == 2
            assert (await st.audit()).ok
    asyncio.run(main())


def test_another_writer_between_batches_is_seen_and_the_batch_decided_again(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st, open_storage(path) as other:
            eng = Engine(st)
            await eng.create_account("px", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("x0", 0, RequestKind.INITIAL))  # the account is cached: 900
            go = hold_writes(st)
            counts: dict[str, int] = {}
            a = asyncio.ensure_future(st.transact(TARGET, charge(counts, "x1", 0), ("x1", 0), 0.0))
            await until(lambda: counts.get("x1") == 1, "batch A decided ahead")
            await Engine(other).recharge(Target(name="px"), RechargeRequest(5000))  # before A's BEGIN
            stale = st.stale
            go.set()
            out = await a
            assert st.stale == stale + 1 and counts["x1"] == 2  # decided again on fresh reads
            assert out.result_code == 2001 and out.balance == 900 + 5000 - 10
            snap = await eng.account(Target(name="px"))
            assert snap.balances[0].amount == out.balance
            assert (await st.audit()).ok and (await other.audit()).ok
    asyncio.run(main())


def test_a_full_account_cache_is_emptied_only_between_batches(tmp_path):
    """Memory stays bounded with a batch always in flight: when the cache is full, the next
    batch waits for the one in flight, then is decided on an empty cache."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            subs = [f"49170000200{i}" for i in range(4)]
            for i, msisdn in enumerate(subs):
                await eng.create_account(f"m{i}", [(0, msisdn)], amount=1000)
            st._cache.max_accounts = 2
            go = hold_writes(st)
            counts: dict[str, int] = {}

            def unit(i):
                def fn(snap):
                    counts[f"m{i}"] = counts.get(f"m{i}", 0) + 1
                    return rating.charge(snap, gy(f"m{i}", 0, RequestKind.INITIAL, requested=MIB,
                                                  msisdn=subs[i]), DEFAULT_TARIFF, 0.0)
                return st.transact(Target(subscriptions=((0, subs[i]),)), fn, (f"m{i}", 0), 0.0)
            a = [asyncio.ensure_future(unit(i)) for i in range(3)]
            await until(lambda: len(counts) == 3, "batch A decided")
            assert len(st._cache.accounts) == 3  # full
            b = asyncio.ensure_future(unit(3))
            await asyncio.sleep(0.2)
            assert "m3" not in counts  # not decided ahead on a cache that must be emptied
            go.set()
            results = await asyncio.gather(*a, b)
            assert [r.balance for r in results] == [990] * 4
            assert len(st._cache.accounts) == 1 and (await st.audit()).ok
    asyncio.run(main())


def test_a_retransmission_decided_on_a_batch_that_fails_is_replayed_from_its_retry(tmp_path):
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("pq", [(0, MSISDN)], amount=1000)
            go = hold_writes(st)
            counts: dict[str, int] = {}
            a = [asyncio.ensure_future(st.transact(TARGET, charge(counts, "q1", 0), ("q1", 0), 0.0)),
                 asyncio.ensure_future(st.transact(TARGET, charge(counts, "q2", 1, bad=True), ("q2", 0), 0.0))]
            await until(lambda: len(counts) == 2, "batch A decided")
            again = asyncio.ensure_future(st.transact(TARGET, charge(counts, "q1", 0), ("q1", 0), 0.0))
            await until(lambda: st.ahead == 1, "batch B decided ahead")
            assert counts["q1"] == 1  # B replayed q1 from A's outcomes, decided nothing
            go.set()
            one, bad = await asyncio.gather(*a, return_exceptions=True)
            two = await again
            assert isinstance(bad, StorageError) and one.result_code == 2001 and two.replayed
            assert counts["q1"] == 2  # once in A, once in A's retry: never for the retransmission
            assert (two.grants, two.balance) == (one.grants, one.balance) == (two.grants, 1000 - 10)
            snap = await eng.account(Target(name="pq"))
            assert snap.balances[0].amount == 990 and len(snap.reservations) == 1
            assert (await st.audit()).ok
    asyncio.run(main())


def test_a_session_read_while_its_request_is_written_still_replays_that_request(tmp_path):
    """Which request numbers of a session have an outcome is read once and kept (bounded);
    read while one of them is being written, that one counts too: its retransmission, once
    written, is read back and replayed, not charged again."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("pk", [(0, MSISDN)], amount=10_000)
            st._cache.max_sessions_known = 1  # each session read forgets the others
            await eng.charge(gy("k1", 0, RequestKind.INITIAL))  # A: committed
            go = hold_writes(st)
            b = [asyncio.ensure_future(eng.charge(gy("k2", 0, RequestKind.INITIAL))),
                 asyncio.ensure_future(eng.charge(gy("k1", 1, RequestKind.UPDATE, used=MIB)))]
            await until(lambda: len(st._cache.inflight) == 2, "batch B taken for its write")
            assert "k1" not in st._cache.recorded_numbers  # forgotten when k2 was read
            c = asyncio.ensure_future(eng.charge(gy("k1", 2, RequestKind.UPDATE, used=MIB)))
            await until(lambda: ("k1", 2) in st._cache.inflight, "batch C decided ahead")
            assert st._cache.recorded_numbers["k1"] == {0, 1, 2}  # 1 from the batch in flight
            go.set()
            _k2, first, _c = await asyncio.gather(*b, c)
            before = (await eng.account(Target(name="pk"))).balances[0].amount
            again = await eng.charge(gy("k1", 1, RequestKind.UPDATE, used=MIB))
            assert again.replayed and (again.grants, again.balance) == (first.grants, first.balance)
            assert (await eng.account(Target(name="pk"))).balances[0].amount == before
            assert (await st.audit()).ok
    asyncio.run(main())


def test_sessions_remembered_by_the_cache_stay_bounded(tmp_path):
    """Every session charged was remembered (session -> account) for ever: now the cache
    starts again empty when it knows more sessions than its bound, and charging goes on exact."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("sb", [(0, MSISDN)], amount=100_000)
            st._cache.max_session_accounts = 8
            seen = 0
            for i in range(40):
                for n, kind in enumerate((RequestKind.INITIAL, RequestKind.TERMINATION)):
                    out = await eng.charge(gy(f"sb{i}", n, kind, used=MIB if n else 0,
                                              requested=MIB if not n else None))
                    assert out.result_code == 2001
                seen = max(seen, len(st._cache.session_account))
            assert seen <= 9  # the bound, plus the session of the batch that crossed it
            snap = await eng.account(TARGET)
            assert snap.balances[0].amount == 100_000 - 40 * 10
            assert (await st.audit()).ok
    asyncio.run(main())


def test_charge_then_calls_back_once_committed(tmp_path):
    """`Engine.charge_then` (the front's callback path): the callback gets the outcome after
    its batch is committed, the retransmission gets the recorded one, and a storage that is
    closed refuses at once."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("ct", [(0, MSISDN)], amount=1000)
            assert eng.can_charge_then()
            loop = asyncio.get_running_loop()
            got: list[asyncio.Future] = []

            def charge(req):
                fut = loop.create_future()
                commits = st.commits

                def then(out, exc):
                    assert st.commits == commits + 1  # called as its batch settles
                    fut.set_result((out, exc))
                eng.charge_then(req, then)
                got.append(fut)
                return fut
            out, exc = await charge(gy("ct1", 0, RequestKind.INITIAL, requested=MIB))
            assert exc is None and out.result_code == 2001 and not out.replayed
            again, exc = await charge(gy("ct1", 0, RequestKind.INITIAL, requested=MIB))
            assert again.replayed and again.grants[0].units == out.grants[0].units > 0
            unknown, exc = await charge(gy("ct2", 0, RequestKind.INITIAL, msisdn="999"))
            assert unknown.result_code == 5030
        try:
            eng.charge_then(gy("ct3", 0, RequestKind.INITIAL), lambda out, exc: None)
        except StorageError:
            pass
        else:
            raise AssertionError("a closed storage accepted a charge")
    asyncio.run(main())


def test_units_queued_behind_a_full_pipeline_are_all_committed(tmp_path):
    """`submit_unit` wakes the committer only when its queue was empty: units queued while
    it waits for a write (every batch slot taken), or behind others, and a unit submitted
    from another's callback, are all committed and called back once."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            st.depth = 2  # two batch slots: taken by A and B below
            eng = Engine(st)
            await eng.create_account("fp", [(0, MSISDN)], amount=10**9)
            go = hold_writes(st)
            counts: dict[str, int] = {}
            done: dict[str, object] = {}
            loop = asyncio.get_running_loop()
            finished = loop.create_future()

            def submit(name):
                def then(out, exc):
                    assert name not in done, f"{name} called back twice"
                    done[name] = exc if exc is not None else out.result_code
                    if name == "u0":  # from a callback, the queue empty or not
                        submit("chained")
                    if len(done) == 13 and not finished.done():
                        finished.set_result(None)
                st.transact_then(TARGET, charge(counts, name, 0), (name, 0), 0.0, name, then)

            for i in range(3):
                submit(f"u{i}")
            await until(lambda: len(counts) == 3, "batch A decided")
            for i in range(3, 6):
                submit(f"u{i}")
            await until(lambda: len(counts) == 6, "batch B decided (both slots taken)")
            for i in range(6, 12):  # the first one wakes the committer, the others find work queued
                submit(f"u{i}")
            await asyncio.sleep(0.1)
            assert len(counts) == 6 and not done  # nothing decided nor answered meanwhile
            go.set()
            await asyncio.wait_for(finished, 20)
            assert done == {**{f"u{i}": 2001 for i in range(12)}, "chained": 2001}
            assert st.ahead >= 1
    asyncio.run(main())


def test_a_copy_in_the_same_batch_is_replayed_and_the_next_number_charged(tmp_path):
    """The cache looks outcomes up only for request numbers its session already has
    (`recorded_numbers`): a copy decided in the same batch as its first is replayed from the
    batch, a new number of the same session is charged."""
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("pc", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("c1", 0, RequestKind.INITIAL))  # the session's numbers known: {0}
            assert st._cache.recorded_numbers.get("c1") == {0}
            commits = st.commits
            one, two, three = await asyncio.gather(  # queued in one loop pass: one batch
                eng.charge(gy("c1", 1, RequestKind.UPDATE, used=MIB)),
                eng.charge(gy("c1", 1, RequestKind.UPDATE, used=MIB)),
                eng.charge(gy("c1", 2, RequestKind.UPDATE, used=MIB)))
            assert st.commits - commits == 1
            assert not one.replayed and two.replayed and not three.replayed
            assert (two.result_code, two.grants, two.balance) == (one.result_code, one.grants, one.balance)
            assert st._cache.recorded_numbers["c1"] == {0, 1, 2}
            assert await st.recorded(("c1", 2)) is not None and (await st.audit()).ok
    asyncio.run(main())
