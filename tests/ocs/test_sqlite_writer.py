"""The SQLite writer process: commit before answer across processes, its death, its exit.

Real processes and a real file: the writer is stopped (SIGSTOP) to hold a batch before its
COMMIT, killed (SIGKILL) with batches in flight, and its parent is killed to see it go too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from diameter.ocs import Engine, RequestKind, StorageError, Target, open_storage
from diameter.ocs.store.sqlite_checkpoint import Checkpointer, Policy
from diameter.ocs.store.sqlite_rows import connect
from diameter.ocs.store.sqlite_writer import Writer

from .helpers import MSISDN, gy

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _outcome_in_file(path: str, key: tuple[str, int]) -> bool:
    with sqlite3.connect(path) as conn:  # another connection: only committed rows
        return conn.execute("SELECT 1 FROM outcomes WHERE session_id = ? AND request_number = ?",
                            key).fetchone() is not None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_answer_waits_for_the_commit_in_the_writer_process(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("w", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("s0", 0, RequestKind.INITIAL))  # the account is cached
            writer = st._writer.proc.pid
            os.kill(writer, signal.SIGSTOP)
            try:
                fut = asyncio.ensure_future(eng.charge(gy("s1", 0, RequestKind.INITIAL)))
                await asyncio.sleep(0.3)
                assert not fut.done()  # decided on the loop, but not committed: no answer
                assert not _outcome_in_file(path, ("s1", 0))
            finally:
                os.kill(writer, signal.SIGCONT)
            out = await asyncio.wait_for(fut, 20)
            assert out.result_code == 2001 and out.balance == 1000 - 2 * 100
            assert _outcome_in_file(path, ("s1", 0))  # committed before it was answered
            assert (await st.audit()).ok
    asyncio.run(main())


def test_a_writer_process_killed_with_batches_in_flight_fails_them_and_is_replaced(tmp_path):
    path = str(tmp_path / "ocs.sqlite3")

    async def main():
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("k", [(0, MSISDN)], amount=1000)
            await eng.charge(gy("k0", 0, RequestKind.INITIAL))
            first = st._writer.proc.pid
            os.kill(first, signal.SIGSTOP)  # the batches below stay with it, uncommitted
            lost = [asyncio.ensure_future(eng.charge(gy(f"k{i}", 0, RequestKind.INITIAL)))
                    for i in range(1, 4)]
            await asyncio.sleep(0.2)
            os.kill(first, signal.SIGKILL)
            results = await asyncio.wait_for(asyncio.gather(*lost, return_exceptions=True), 20)
            assert all(isinstance(r, StorageError) and "writer process" in str(r) for r in results)
            # the next request starts a new writer; a retransmission of a failed one is charged once
            again = await asyncio.wait_for(eng.charge(gy("k1", 0, RequestKind.INITIAL)), 20)
            assert again.result_code == 2001 and st._writer.proc.pid != first
            replay = await eng.charge(gy("k1", 0, RequestKind.INITIAL))
            assert replay.replayed and replay.balance == again.balance == 1000 - 2 * 100
            snap = await eng.account(Target(name="k"))
            assert snap.balances[0].amount == 800 and len(snap.reservations) == 2
            assert (await st.audit()).ok
        assert not _alive(first)
    asyncio.run(main())


WORKER = """
import asyncio, sys
from diameter.ocs import open_storage
async def main():
    async with open_storage(sys.argv[1]) as st:
        print(st._writer.proc.pid, flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


def test_the_writer_process_dies_with_its_parent(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "ocs.sqlite3")],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        writer = int(proc.stdout.readline())
        assert _alive(writer)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(writer) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(writer)


def test_the_writer_refuses_batches_decided_on_one_that_did_not_commit(tmp_path):
    """The sans-IO core of the process: after a stale or failed batch, the later batches of
    its epoch are refused, not committed on top of what never was."""
    path = str(tmp_path / "w.sqlite3")
    conn = connect(path, "FULL")
    conn.execute("CREATE TABLE balances (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
    conn.execute("INSERT INTO balances VALUES (1, 100)")
    w = Writer(conn)
    version = w.handle(("lock",))[1]
    assert w.handle(("rollback",)) == ("ok", None)

    def rows(amount):
        return ([1, amount], [], [], [], [], [], [], [], [])
    assert w.handle(("batch", 0, version, rows(90))) == ("ok", None)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("UPDATE balances SET amount = 500")  # another writer commits
    kind, now = w.handle(("batch", 0, version, rows(80)))
    assert kind == "stale" and now != version
    assert w.handle(("batch", 0, now, rows(70))) == ("rejected", None)  # same epoch: decided on it
    assert w.handle(("batch", 1, now, rows(490))) == ("ok", None)
    kind, text = w.handle(("batch", 1, now, ([1, None], [], [], [], [], [], [], [], [])))
    assert kind == "failed" and "NOT NULL" in text
    assert w.handle(("batch", 1, now, rows(480))) == ("rejected", None)
    assert other.execute("SELECT amount FROM balances").fetchone() == (490,)
    other.close()
    conn.close()


def test_without_a_writer_process_a_file_is_written_from_a_thread(tmp_path):
    from diameter.ocs.store.sqlite import SqliteStorage

    async def main():
        async with SqliteStorage(str(tmp_path / "t.sqlite3"), process=False) as st:
            assert st._rconn is None and not hasattr(st._writer, "proc")
            eng = Engine(st)
            await eng.create_account("t", [(0, MSISDN)], amount=1000)
            outs = await asyncio.gather(*(eng.charge(gy(f"t{i}", 0, RequestKind.INITIAL)) for i in range(5)))
            again = await eng.charge(gy("t3", 0, RequestKind.INITIAL))
            assert [o.result_code for o in outs] == [2001] * 5 and again.replayed
            assert (await eng.account(Target(name="t"))).balances[0].amount == 500
            assert (await st.audit()).ok
    asyncio.run(main())


def test_a_cdr_record_is_the_sorted_json_of_the_session_whatever_writes_it(tmp_path):
    """The loop sends the CDR itself; the writer (process or thread) makes its JSON text,
    which must stay what ``json.dumps(record, sort_keys=True)`` gives (floats exact)."""
    import json

    from diameter.ocs.store.sqlite import SqliteStorage

    clock = iter([1_796_575_590.608433 + i * 0.137 for i in range(100)]).__next__

    async def main(path, process):
        async with SqliteStorage(path, process=process) as st:
            eng = Engine(st, clock=clock)
            await eng.create_account("c", [(0, MSISDN)], amount=1000)
            assert (await eng.charge(gy("c1", 0, RequestKind.INITIAL))).result_code == 2001
            out = await eng.charge(gy("c1", 1, RequestKind.TERMINATION, used=1 << 20, requested=None))
            assert out.result_code == 2001
            assert (await st.cdrs())[0][1]["type"] == "session"
    for process in (True, False):
        path = str(tmp_path / f"c{process}.sqlite3")
        asyncio.run(main(path, process))
        with sqlite3.connect(path) as conn:
            (text,), = conn.execute("SELECT record FROM cdrs").fetchall()
        record = json.loads(text)
        assert text == json.dumps(record, sort_keys=True)
        assert type(record["started"]) is float and record["ended"] > record["started"]
        assert (record["session_id"], record["requests"], record["units"]) == ("c1", 2, {"1:octets": 1 << 20})


def _balance_writer(path: str) -> tuple[Writer, int]:
    conn = connect(path, "FULL")
    conn.execute("CREATE TABLE balances (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
    conn.execute("INSERT INTO balances VALUES (1, 100)")
    w = Writer(conn)
    version = w.handle(("lock",))[1]
    w.handle(("rollback",))
    return w, version


def _amount(amount):
    return ([1, amount], [], [], [], [], [], [], [], [])


def test_batches_that_arrive_together_are_committed_in_one_transaction_in_order(tmp_path):
    path = str(tmp_path / "g.sqlite3")
    w, version = _balance_writer(path)
    other = sqlite3.connect(path, isolation_level=None)
    seen = other.execute("PRAGMA data_version").fetchone()[0]
    replies = w.group([("batch", 0, version, _amount(a)) for a in (90, 80, 70)])
    assert replies == [("ok", None)] * 3
    assert w.checkpoints.commits == 1  # one COMMIT for the three
    assert other.execute("SELECT amount FROM balances").fetchone() == (70,)  # the last one's
    assert other.execute("PRAGMA data_version").fetchone()[0] == seen + 1
    # a failing batch rolls its whole group back: the first is told, the others refused
    replies = w.group([("batch", 0, version, _amount(60)), ("batch", 0, version, _amount(None)),
                       ("batch", 0, version, _amount(50))])
    assert replies[0][0] == "failed" and "NOT NULL" in replies[0][1]
    assert replies[1:] == [("rejected", None)] * 2
    assert other.execute("SELECT amount FROM balances").fetchone() == (70,)
    # batches of a later epoch, after it, are a group of their own
    replies = w.group([("batch", 0, version, _amount(40)), ("batch", 1, version, _amount(30))])
    assert replies == [("rejected", None), ("ok", None)]
    assert other.execute("SELECT amount FROM balances").fetchone() == (30,)
    other.close()
    w.conn.close()


def _wal_done(conn):
    """Every frame of the WAL is in the database file."""
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return busy == 0 and frames == copied


def test_the_writer_checkpoints_when_idle_or_after_many_commits_not_inside_a_commit(tmp_path):
    path = str(tmp_path / "c.sqlite3")
    w, version = _balance_writer(path)
    w.conn.execute("PRAGMA wal_autocheckpoint=0")  # as the process sets it
    policy = w.checkpoints
    for i in range(policy.CHECKPOINT - 1):
        assert w.group([("batch", 0, version, _amount(i))]) == [("ok", None)]
        policy.after(lambda: True)
    assert policy.commits == policy.CHECKPOINT - 1  # not yet
    w.group([("batch", 0, version, _amount(7))])
    policy.after(lambda: False)
    assert policy.commits == policy.CHECKPOINT  # due, but batches wait
    policy.after(lambda: True)
    assert policy.commits == 0
    assert _wal_done(w.conn)  # nothing left to copy
    for i in range(policy.ANYWAY):
        w.group([("batch", 0, version, _amount(i))])
        policy.after(lambda: False)
    assert policy.commits == 0  # however busy
    assert _wal_frames(path) <= policy.ANYWAY + 4
    w.conn.close()


def _wal_frames(path):
    return max(0, os.path.getsize(path + "-wal") - 32) // (4096 + 24)


def _background(path):
    w, version = _balance_writer(path)
    w.conn.execute("PRAGMA wal_autocheckpoint=0")  # as the process sets it
    bg = Checkpointer(path, "FULL")
    w.checkpoints = policy = Policy(w.conn, bg)
    policy.RESTART, policy.MOST = 100, 200  # frames (one per commit here)
    return w, version, bg, policy


def test_a_background_checkpoint_alone_restarts_the_wal_of_a_writer_that_waits_for_it(tmp_path):
    path = str(tmp_path / "b.sqlite3")
    w, version, bg, policy = _background(path)
    for i in range(6 * policy.RESTART):
        assert w.group([("batch", 0, version, _amount(i))]) == [("ok", None)]
        policy.after(lambda: True)
        bg.wait()  # a slow writer: nothing is committed while a background checkpoint runs
    # every CHECKPOINT commits the background checkpoint copies the whole WAL, so the next
    # BEGIN restarts it: nothing is left for the writer's thread to copy
    assert bg.runs == 6 * policy.RESTART // policy.CHECKPOINT
    assert policy.catch_ups == 0
    assert _wal_frames(path) <= policy.CHECKPOINT + 4  # a frame per commit, and the first ones
    bg.close()
    w.conn.close()


def test_the_writer_catches_up_when_idle_once_the_wal_holds_restart_frames(tmp_path):
    path = str(tmp_path / "i.sqlite3")
    w, version, bg, policy = _background(path)
    bg.frames = policy.RESTART  # as if the last background checkpoint saw that many
    bg.runs += 1
    for i in range(policy.CATCH_UP + 1):
        w.group([("batch", 0, version, _amount(i))])
    policy.after(lambda: True)
    assert policy.catch_ups == 0  # too many commits since it began: wait for the next
    assert not bg.running
    for i in range(policy.CHECKPOINT - policy.CATCH_UP - 1):
        w.group([("batch", 0, version, _amount(i))])
    policy.after(lambda: True)
    assert bg.running or bg.runs == 2  # the next, after CHECKPOINT commits
    bg.wait()
    bg.frames = policy.RESTART
    w.group([("batch", 0, version, _amount(1))])
    policy.after(lambda: False)
    assert policy.catch_ups == 0  # batches wait
    policy.after(lambda: True)
    assert policy.catch_ups == 1 and policy.frames == 0
    assert _wal_done(w.conn)
    bg.close()
    w.conn.close()


def test_under_constant_commits_the_wal_stays_bounded(tmp_path):
    # the writer is never idle and commits while the background checkpoint copies: the
    # WAL never gets fully copied by it, so it would grow without end without the
    # catch-up on the writer's thread once it holds MOST frames
    path = str(tmp_path / "u.sqlite3")
    w, version, bg, policy = _background(path)
    most = 0
    for i in range(10 * policy.MOST):
        assert w.group([("batch", 0, version, _amount(i))]) == [("ok", None)]
        policy.after(lambda: False)
        most = max(most, _wal_frames(path))
    assert bg.runs >= 10
    assert most <= policy.MOST + 2 * policy.CHECKPOINT
    bg.wait()
    policy.catch_up()
    assert _wal_done(w.conn)
    assert w.conn.execute("SELECT amount FROM balances").fetchone() == (10 * policy.MOST - 1,)
    bg.close()
    w.conn.close()


def test_a_trace_records_each_batch_from_queueing_to_answers(tmp_path, monkeypatch):
    from diameter.ocs.store import sqlite_trace
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(sqlite_trace.ENV, str(trace))
    path = str(tmp_path / "t.sqlite3")

    async def main():
        store = open_storage(path)
        await store.open()
        engine = Engine(store)
        await engine.create_account("a", [(0, MSISDN)], amount=100000)
        for s in range(3):
            await asyncio.gather(*(engine.charge(gy(f"t{s}.{i}", 0, RequestKind.INITIAL, requested=10))
                                   for i in range(5)))
        await store.close()
    asyncio.run(main())
    recs = [json.loads(x) for x in trace.read_text().splitlines()]
    traced = [r for r in recs if "w" in r]
    assert traced and sum(r["n"] for r in traced) <= 15
    for r in traced:
        w = r["w"]
        assert r["first"] <= r["ship"] <= w["read"] <= w["begin"] <= w["begun"] <= w["written"]
        assert w["written"] <= w["committed"] <= r["reply"] <= r["settle"] <= r["answered"]
        assert w["committed"] <= w["sync"] <= w["synced"] <= w["sending"] <= r["reply"]  # FULL
    summary = sqlite_trace.summary(recs)
    assert "COMMIT" in summary and "reply sent -> read (loop)" in summary


def test_the_writer_process_and_its_checkpointer_close_leaving_everything_in_the_file(tmp_path):
    # the checkpointer's connection is closed before the writer's, whose close (the last
    # one) copies the WAL into the file and removes it, as without a checkpointer
    path = str(tmp_path / "k.sqlite3")

    async def main() -> None:
        async with open_storage(path) as st:
            eng = Engine(st)
            await eng.create_account("k", [(0, MSISDN)], amount=1000)
            assert (await eng.charge(gy("k0", 0, RequestKind.INITIAL))).result_code == 2001
            assert os.path.exists(path + "-wal")

    asyncio.run(main())
    assert not os.path.exists(path + "-wal")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    conn.close()
