"""Storage backends, each test on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

from diameter.ocs import (
    AccountState,
    Balance,
    BalanceType,
    Engine,
    RechargeRequest,
    RequestKind,
    Target,
    UnitKind,
    open_storage,
)
from diameter.ocs.store import schema

from .helpers import MIB, MSISDN, gy


def run(coro):
    return asyncio.run(coro)


def test_session_charges_exactly_and_audit_is_clean(store_url):
    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            aid = await eng.create_account("alice", [(0, MSISDN), (1, "262011234567890")], amount=1000)
            out = await eng.charge(gy("s1", 0, RequestKind.INITIAL))
            assert out.grants[0].units == 10 * MIB and out.balance == 900
            out = await eng.charge(gy("s1", 1, RequestKind.UPDATE, used=4 * MIB))
            assert out.balance == 1000 - 40 - 100 and out.balance_change == -40
            out = await eng.charge(gy("s1", 2, RequestKind.TERMINATION, used=MIB, requested=None))
            assert out.balance == 950
            snap = await eng.account(Target(subscriptions=((1, "262011234567890"),)))
            assert snap.account.id == aid and snap.balances[0].amount == 950
            assert snap.account.subscriptions == [(0, MSISDN), (1, "262011234567890")]
            assert not snap.reservations and not snap.sessions
            cdrs = await st.cdrs()
            assert [c["charged"] for _i, c in cdrs] == [50]
            report = await st.audit()
            assert report.ok, report.problems
            assert report.ledger_rows == 1 + 1 + 3 + 2
    run(main())


def test_retransmission_is_replayed_not_charged_again(store_url):
    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            await eng.create_account("bob", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL))
            first = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=5 * MIB))
            again = await eng.charge(gy("s", 1, RequestKind.UPDATE, used=5 * MIB))
            assert not first.replayed and again.replayed
            assert again.balance == first.balance == 850 and again.grants == first.grants
            snap = await eng.account(Target(name="bob"))
            assert snap.balances[0].amount == 850
            assert (await st.audit()).ok
            assert await st.prune_outcomes(0.0) == 0  # outcomes are kept until they are old
            assert await st.prune_outcomes(time.time() + 1) == 2
            assert await st.recorded(("s", 1)) is None
    run(main())


def test_unknown_subscriber_is_5030_and_nothing_is_written(store_url):
    async def main():
        async with open_storage(store_url) as st:
            out = await Engine(st).charge(gy("s", 0, RequestKind.INITIAL, msisdn="999"))
            assert out.result_code == 5030
            assert await st.cdrs() == [] and await st.recorded(("s", 0)) is None
    run(main())


def test_expired_reservations_are_released_with_a_ledger_row(store_url):
    async def main():
        clock = [1000.0]
        async with open_storage(store_url) as st:
            eng = Engine(st, clock=lambda: clock[0])
            aid = await eng.create_account("carol", [(0, MSISDN)], amount=500)
            await eng.charge(gy("dead", 0, RequestKind.INITIAL))
            assert await eng.release_expired() == 0
            clock[0] += 10_000
            assert await eng.release_expired() == 1
            snap = await eng.account(Target(account_id=aid))
            assert snap.balances[0].amount == 500 and not snap.reservations and not snap.sessions
            rows = await st.ledger(aid)
            assert [r.op for r in rows] == ["create", "reserve", "release"]
            assert [c["reason"] for _i, c in await st.cdrs()] == ["expired"]
            assert (await st.audit()).ok
    run(main())


def test_recharge_suspend_buckets_and_reopen_keeps_schema(store_url):
    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            aid = await eng.create_account("dave", [(2, "sip:dave@example.net")], amount=0)
            await st.add_balance(aid, Balance(0, aid, UnitKind.OCTETS, 2 * MIB, BalanceType.FREE_UNITS,
                                              rating_groups=(1,), priority=10))
            out = await eng.recharge(Target(name="dave"), RechargeRequest(300, session_id="r", request_number=0))
            assert (out.amount_before, out.balance) == (0, 300)
            replay = await eng.recharge(Target(name="dave"), RechargeRequest(300, session_id="r", request_number=0))
            assert replay.replayed and replay.balance == 300
            await eng.set_state(Target(name="dave"), AccountState.SUSPENDED)
            snap = await eng.account(Target(account_id=aid))
            assert snap.account.state is AccountState.SUSPENDED
            assert [b.amount for b in snap.balances] == [300, 2 * MIB]
            assert [a.name for a in await st.accounts()] == ["dave"]
        async with open_storage(store_url) as st:  # migrations are not applied twice
            report = await st.audit()
            assert report.ok and report.balances == 2
            versions = await st._run(_versions)
            assert versions == [v for v, _ in schema.MIGRATIONS]
    run(main())


def _versions():
    rows = yield ("SELECT version FROM schema_version ORDER BY version", (), "all")
    return [int(r[0]) for r in rows]


def test_cdrs_are_exported_once_and_rotated(store_url, tmp_path):
    from diameter.ocs.cdr import export_cdrs

    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            await eng.create_account("erin", [(0, MSISDN)], amount=1000)
            for i in range(3):
                await eng.charge(gy(f"s{i}", 0, RequestKind.INITIAL))
                await eng.charge(gy(f"s{i}", 1, RequestKind.TERMINATION, used=MIB, requested=None))
            assert await export_cdrs(st, tmp_path, max_bytes=1) == 3
            assert await export_cdrs(st, tmp_path, max_bytes=1) == 0
            await eng.charge(gy("s9", 0, RequestKind.INITIAL))
            await eng.charge(gy("s9", 1, RequestKind.TERMINATION, used=MIB, requested=None))
            assert await export_cdrs(st, tmp_path, max_bytes=1) == 1
        files = sorted(p.name for p in tmp_path.glob("cdr*.jsonl"))
        assert len(files) == 2 and "cdr.jsonl" in files
        lines = [line for p in tmp_path.glob("cdr*.jsonl") for line in p.read_text().splitlines()]
        assert sorted(json.loads(x)["session_id"] for x in lines) == ["s0", "s1", "s2", "s9"]
    run(main())


def test_a_failing_unit_fails_alone_and_the_rest_of_its_batch_commits(store_url):
    from diameter.ocs import rating
    from diameter.ocs.tariff import DEFAULT_TARIFF

    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            await eng.create_account("gus", [(0, MSISDN)], amount=1000)

            def decide(i):
                def fn(snap):
                    if i == 3:
                        raise ValueError("broken rating")
                    return rating.charge(snap, gy(f"g{i}", 0, RequestKind.INITIAL, requested=MIB),
                                         DEFAULT_TARIFF, 0.0)
                return fn
            target = Target(subscriptions=((0, MSISDN),))
            results = await asyncio.gather(*(st.transact(target, decide(i), (f"g{i}", 0), 0.0)
                                             for i in range(8)), return_exceptions=True)
            assert isinstance(results[3], ValueError)
            assert all(r.result_code == 2001 for i, r in enumerate(results) if i != 3)
            snap = await eng.account(Target(name="gus"))
            assert snap.balances[0].amount == 1000 - 7 * 10 and len(snap.reservations) == 7
            assert await st.recorded(("g3", 0)) is None and (await st.audit()).ok
    run(main())


def test_two_stores_on_one_database_see_each_others_writes(store_url):
    """A second writer of the same database (another instance, the account CLI) changes an
    account the first one has read: the first must decide on the new state (SQLite: its
    account cache is dropped when `PRAGMA data_version` moves; PostgreSQL: the version check)."""
    async def main():
        async with open_storage(store_url) as a, open_storage(store_url) as b:
            ea, eb = Engine(a), Engine(b)
            await ea.create_account("duo", [(0, MSISDN)], amount=10_000)
            await ea.charge(gy("d1", 0, RequestKind.INITIAL))  # a has read the account
            await eb.charge(gy("d2", 0, RequestKind.INITIAL))  # b changes it behind a's back
            rch = await eb.recharge(Target(name="duo"), RechargeRequest(500))
            up = await ea.charge(gy("d1", 1, RequestKind.UPDATE, used=2 * MIB))
            assert up.balance == rch.balance - 10 * 2  # the 10 MiB re-reserved for d1 after 2 used
            again = await eb.charge(gy("d1", 1, RequestKind.UPDATE, used=2 * MIB))
            assert again.replayed and again.balance == up.balance
            await eb.charge(gy("d1", 2, RequestKind.TERMINATION, used=MIB, requested=None))
            await ea.charge(gy("d2", 1, RequestKind.TERMINATION, used=4 * MIB, requested=None))
            snap = await ea.account(Target(name="duo"))
            assert snap.balances[0].amount == 10_000 + 500 - 10 * (2 + 1 + 4) and not snap.reservations
            assert (await a.audit()).ok and (await b.audit()).ok
    run(main())


def test_sqlite_account_cache_stays_bounded(tmp_path):
    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            st._cache.max_accounts = 2
            eng = Engine(st)
            for i in range(5):
                await eng.create_account(f"n{i}", [(0, f"49170000100{i}")], amount=1000)
            for i in range(5):
                out = await eng.charge(gy(f"b{i}", 0, RequestKind.INITIAL, msisdn=f"49170000100{i}"))
                assert out.result_code == 2001 and out.balance == 900
                assert len(st._cache.accounts) <= 3
            assert (await st.audit()).ok
    run(main())


def test_recorded_outcome_format_2_round_trip_and_format_1_still_read():
    from diameter.ocs.model import Grant, Outcome

    out = Outcome(2001, [Grant(1, 2001, 7, "octets", 5 * MIB, 1, "http://top-up.example/", ["permit out ip"],
                               ["f"], 600, 30, MIB, None, 10)], account_id=3, balance=90, balance_change=-10,
                  currency=978, reauth_sessions=["s1"], error_message='quote " and é')
    text = out.to_json()
    assert json.loads(text)[0] == 2  # the format version leads
    back = Outcome.from_json(text)
    assert back.replayed and back.grants == out.grants
    back.replayed = False
    assert back == out
    old = json.dumps({"result_code": 4012, "account_id": 3, "balance": 0, "balance_change": 0, "currency": 978,
                      "cost": None, "check_balance": None, "amount_before": None, "reauth_sessions": [],
                      "error_message": None, "grants": [dataclasses.asdict(Grant(1, 4012))]})
    first = Outcome.from_json(old)
    assert first.replayed and first.result_code == 4012 and first.grants == [Grant(1, 4012)]
    try:
        Outcome.from_json("[9, 1]")
    except ValueError as exc:
        assert "unknown recorded outcome format" in str(exc)
    else:
        raise AssertionError("format 9 was accepted")


def test_an_outcome_recorded_in_format_1_is_replayed_not_charged(tmp_path):
    """A file written before format 2: its recorded outcomes still answer retransmissions."""
    import sqlite3

    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("old", [(0, MSISDN)], amount=1000)
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO outcomes (session_id, request_number, ts, outcome) VALUES (?, ?, ?, ?)",
                     ("o1", 0, time.time(), json.dumps({
                         "result_code": 2001, "account_id": 1, "balance": 900, "balance_change": 0,
                         "currency": 978, "cost": None, "check_balance": None, "amount_before": None,
                         "reauth_sessions": [], "error_message": None,
                         "grants": [{"rating_group": 1, "result_code": 2001, "service_identifier": None,
                                     "unit": "octets", "units": 10 * MIB, "final_action": None,
                                     "redirect_address": None, "restriction_filter_rules": None,
                                     "filter_ids": None, "validity_time": 600, "quota_holding_time": None,
                                     "volume_threshold": 2 * MIB, "time_threshold": None, "cost": 0}]})))
        conn.commit()
        conn.close()
        async with open_storage(path) as st:
            eng = Engine(st)
            out = await eng.charge(gy("o1", 0, RequestKind.INITIAL))
            assert out.replayed and out.grants[0].units == 10 * MIB and out.balance == 900
            snap = await eng.account(Target(name="old"))
            assert snap.balances[0].amount == 1000 and not snap.reservations  # nothing charged again
    run(main())


def test_sqlite_a_batch_whose_write_fails_is_rolled_back_and_its_units_run_one_by_one(tmp_path):
    """The writer process's write fails (a value SQLite cannot store): nothing of
    the batch is kept, every other unit commits on its own, the bad one fails alone."""
    from diameter.ocs import StorageError, rating
    from diameter.ocs.tariff import DEFAULT_TARIFF

    async def main():
        async with open_storage(str(tmp_path / "ocs.sqlite3")) as st:
            eng = Engine(st)
            await eng.create_account("wb", [(0, MSISDN)], amount=1000)

            decided = [0] * 6

            def decide(i):
                def fn(snap):
                    decided[i] += 1
                    dec = rating.charge(snap, gy(f"w{i}", 0, RequestKind.INITIAL, requested=MIB),
                                        DEFAULT_TARIFF, 0.0)
                    if i == 2:
                        dec.reservations_put[0].units = 1 << 70  # too large for SQLite: the write fails
                    return dec
                return fn
            target = Target(subscriptions=((0, MSISDN),))
            commits = st.commits
            results = await asyncio.gather(*(st.transact(target, decide(i), (f"w{i}", 0), 0.0)
                                             for i in range(6)), return_exceptions=True)
            assert isinstance(results[2], StorageError) and "too large" in str(results[2])
            assert all(r.result_code == 2001 for i, r in enumerate(results) if i != 2)
            assert decided == [2] * 6  # decided in the batch, then again each in its own transaction
            assert st.commits - commits == 5  # the failed batch committed nothing
            snap = await eng.account(Target(name="wb"))
            assert snap.balances[0].amount == 1000 - 5 * 10 and len(snap.reservations) == 5
            assert await st.recorded(("w2", 0)) is None and (await st.audit()).ok
    run(main())


def test_sqlite_a_file_locked_by_another_writer_fails_requests_one_at_a_time(tmp_path):
    """BEGIN IMMEDIATE cannot get the write lock: the first queued request fails with a
    StorageError, the others wait for the next attempt and commit once the lock is free."""
    import sqlite3

    from diameter.ocs import StorageError

    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("lk", [(0, MSISDN)], amount=1000)
            st._writer.conn.execute("PRAGMA busy_timeout=1000")  # in the writer process
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another writer holds the file
            tasks = [asyncio.ensure_future(eng.charge(gy(f"l{i}", 0, RequestKind.INITIAL))) for i in range(3)]
            for _ in range(200):  # the first attempt times out (bounded wait)
                if tasks[0].done():
                    break
                await asyncio.sleep(0.05)
            assert not tasks[1].done() and not tasks[2].done()
            other.execute("ROLLBACK")
            other.close()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert isinstance(results[0], StorageError) and "locked" in str(results[0])
            assert [r.result_code for r in results[1:]] == [2001, 2001]
            assert (await st.audit()).ok
    run(main())
