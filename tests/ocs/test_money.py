"""Money is never lost or created: retransmissions, concurrency, SIGKILL, several instances."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.store import pg_batch

from .helpers import MIB, MSISDN, gy

SRC = str(Path(__file__).resolve().parents[2] / "src")
WORKER = str(Path(__file__).with_name("charge_worker.py"))


async def _session(eng: Engine, sid: str, updates: int, used: int) -> int:
    """I, U..., T with heavy usage; returns the money charged as the answers report it."""
    charged = 0
    await eng.charge(gy(sid, 0, RequestKind.INITIAL))
    for n in range(1, updates + 1):
        out = await eng.charge(gy(sid, n, RequestKind.UPDATE, used=used))
        charged += sum(g.cost or 0 for g in out.grants)
        if out.grants[0].result_code != 2001 or out.grants[0].units is None:
            break
    out = await eng.charge(gy(sid, updates + 1, RequestKind.TERMINATION, used=used, requested=None))
    return charged + sum(g.cost or 0 for g in out.grants)


async def _check_books(eng: Engine, start: int, charged: int) -> None:
    snap = await eng.account(Target(subscriptions=((0, MSISDN),)))
    assert snap.balances[0].amount >= 0
    assert snap.balances[0].amount == start - charged
    assert not snap.reservations
    report = await eng.store.audit()
    assert report.ok, report.problems


def test_concurrent_sessions_on_one_account_never_overdraw(store_url):
    async def main():
        async with open_storage(store_url) as st:
            eng = Engine(st)
            await eng.create_account("wallet", [(0, MSISDN)], amount=1000)
            results = await asyncio.gather(*(_session(eng, f"c{i}", 6, 7 * MIB) for i in range(24)))
            assert sum(results) <= 1000
            await _check_books(eng, 1000, sum(results))
            assert sum(results) >= 990  # the wallet was used up, not left idle
    asyncio.run(main())


def test_two_instances_on_one_postgres_replay_and_never_overdraw(pg_cluster):
    url = pg_cluster.new_database()

    async def main():
        async with open_storage(url) as a, open_storage(url) as b:
            ea, eb = Engine(a), Engine(b)
            await ea.create_account("twin", [(0, MSISDN)], amount=2000)
            # a retransmission reaching the other instance is answered from the record
            await ea.charge(gy("x", 0, RequestKind.INITIAL))
            first = await ea.charge(gy("x", 1, RequestKind.UPDATE, used=3 * MIB))
            again = await eb.charge(gy("x", 1, RequestKind.UPDATE, used=3 * MIB))
            assert again.replayed and again.balance == first.balance
            # the same request racing on both instances is charged once
            racing = await asyncio.gather(ea.charge(gy("x", 2, RequestKind.UPDATE, used=MIB)),
                                          eb.charge(gy("x", 2, RequestKind.UPDATE, used=MIB)))
            assert sorted(o.replayed for o in racing) == [False, True]
            end = await eb.charge(gy("x", 3, RequestKind.TERMINATION, used=0, requested=None))
            assert end.balance == 2000 - 30 - 10
            # sessions whose requests alternate between instances
            async def split(i: int) -> int:
                return await _session(ea if i % 2 else eb, f"p{i}", 5, 9 * MIB)
            conflicts = pg_batch.STATS["conflicts"]
            results = await asyncio.gather(*(split(i) for i in range(16)))
            await _check_books(ea, 2000 - 40, sum(results))
            # each instance's cached account went stale when the other wrote: read again, decided again
            assert pg_batch.STATS["conflicts"] > conflicts
    asyncio.run(main())


def test_sigkill_mid_sessions_loses_no_committed_debit(store_url):
    _sigkill_mid_sessions(store_url)


def test_sigkill_with_synchronous_normal_loses_no_committed_debit(tmp_path):
    """WAL with synchronous=NORMAL: a commit is in the OS's page cache before the answer,
    which a killed process cannot take back."""
    _sigkill_mid_sessions(f"sqlite:///{tmp_path}/ocs.sqlite3?synchronous=NORMAL")


def test_sqlite_url_parameters_are_checked(tmp_path):
    from diameter.ocs import StorageError

    st = open_storage(f"sqlite:///{tmp_path}/a.sqlite3?synchronous=normal")
    assert st.synchronous == "NORMAL" and st.path == f"{tmp_path}/a.sqlite3"
    assert open_storage(str(tmp_path / "b.sqlite3")).synchronous == "FULL"
    for bad in ("?synchronous=OFF", "?journal_mode=MEMORY"):
        try:
            open_storage(f"sqlite:///{tmp_path}/c.sqlite3{bad}")
        except StorageError as exc:
            assert bad[1:].split("=")[0] in str(exc) or "OFF" in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")


def _sigkill_mid_sessions(store_url):
    async def setup():
        async with open_storage(store_url) as st:
            await Engine(st).create_account("killed", [(0, MSISDN)], amount=10**7)
    asyncio.run(setup())
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, WORKER, store_url, MSISDN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    committed: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 60
    try:
        while len(committed) < 60 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            _tag, sid, n, cost = line.split()
            committed.append((sid, int(n), int(cost)))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(committed) >= 60, proc.stderr.read()

    async def check():
        async with open_storage(store_url) as st:
            eng = Engine(st, clock=lambda: time.time() + 100_000)
            aid = (await eng.account(Target(name="killed"))).account.id
            rows = await st.ledger(aid, limit=100_000)
            debits: dict[tuple[str, int], int] = {}
            for r in rows:
                if r.op == "debit":
                    key = (r.session_id, r.request_number)
                    debits[key] = debits.get(key, 0) - r.amount
            for sid, n, cost in committed:
                assert debits.get((sid, n), 0) == cost, (sid, n)
                assert (await st.recorded((sid, n))) is not None
            await eng.release_expired()
            snap = await eng.account(Target(account_id=aid))
            assert not snap.reservations and not snap.sessions
            assert snap.balances[0].amount == 10**7 - sum(debits.values())
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(check())
