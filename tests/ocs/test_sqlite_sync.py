"""The SQLite writer's WAL sync out of its COMMIT (diameter.ocs.store.sqlite_sync): a
reply leaves only after a sync of the WAL begun after its COMMIT returned, the writer
commits the next batches meanwhile, the file synced is the WAL's, and a failed sync ends
the process with nothing sent."""

from __future__ import annotations

import asyncio
import itertools
import marshal
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from diameter.ocs import Engine, RequestKind, open_storage
from diameter.ocs.store import sqlite_sync
from diameter.ocs.store.sqlite import SqliteStorage
from diameter.ocs.store.sqlite_rows import connect
from diameter.ocs.store.sqlite_sync import Syncer, wal_syncer
from diameter.ocs.store.child_link import LEN
from diameter.ocs.store.sqlite_writer import Writer, frame, serve

from .helpers import MSISDN, gy

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _outcome_rows(first: int, n: int) -> tuple:
    outs = []
    for i in range(first, first + n):
        outs += [f"s{i}", 0, 1.0, ("ok", i)]
    return (None,) * 8 + (outs,)


def _replies(sock: socket.socket, n: int) -> list:
    buf, out = b"", []
    while len(out) < n:
        data = sock.recv(1 << 16)
        assert data, "the writer ended"
        buf += data
        while len(buf) >= 4 and len(buf) >= 4 + LEN.unpack_from(buf)[0]:
            size = LEN.unpack_from(buf)[0]
            out.append(marshal.loads(buf[4:4 + size]))
            buf = buf[4 + size:]
    return out


def test_a_reply_leaves_only_after_a_wal_sync_begun_after_its_commit(tmp_path, monkeypatch):
    path = str(tmp_path / "s.sqlite3")
    conn = connect(path, "FULL")
    SqliteStorage._migrate(conn)
    tick = itertools.count()  # one order for events of both threads (next() holds the GIL)
    commits: list[tuple[int, int]] = []  # (event, batches committed so far)
    syncs: list[tuple[int, int]] = []  # (begin, end) of each sync of the WAL
    sent: list[tuple[int, int]] = []  # (event, replies sent so far)
    real_sync = os.fdatasync

    def slow_sync(fd: int) -> None:  # a slow disk: the writer commits more meanwhile
        begin = next(tick)
        time.sleep(0.03)
        real_sync(fd)
        syncs.append((begin, next(tick)))
    monkeypatch.setattr(sqlite_sync.os, "fdatasync", slow_sync)

    class Logged(Writer):
        def _commit_group(self, epoch, version, group):  # type: ignore[no-untyped-def]
            out = super()._commit_group(epoch, version, group)
            commits.append((next(tick), (commits[-1][1] if commits else 0) + len(group)))
            return out

    ours, theirs = socket.socketpair()

    def send(replies: list) -> None:
        sent.append((next(tick), (sent[-1][1] if sent else 0) + len(replies)))
        theirs.sendall(b"".join(map(frame, replies)))
    syncer = wal_syncer(conn, path, send)
    assert syncer is not None and conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    version = int(conn.execute("PRAGMA data_version").fetchone()[0])
    writer = Logged(conn, trace=True)
    thread = threading.Thread(target=serve, args=(theirs, writer, syncer), daemon=True)
    thread.start()
    n = 0
    for wave in range(12):  # batches one by one and in bursts, while syncs run
        k = 1 + wave % 3
        ours.sendall(b"".join(frame(("batch", 0, version, _outcome_rows(2 * (n + i), 2))) for i in range(k)))
        n += k
        time.sleep(0.01)
    replies = _replies(ours, n)
    ours.sendall(frame(("close",)))
    assert _replies(ours, 1) == [("ok", None)]
    thread.join(10)
    assert [kind for kind, _d in replies] == ["ok"] * n
    assert all(d["committed"] <= d["sync"] <= d["synced"] <= d["sending"] for _k, d in replies)
    for i in range(1, n + 1):  # the i-th reply: its COMMIT, a sync begun after it, then sent
        committed = next(e for e, count in commits if count >= i)
        gone = next(e for e, count in sent if count >= i)
        assert any(committed < begin and end < gone for begin, end in syncs), i
    # the writer did not wait for the syncs: batches were committed while one ran
    assert any(begin < e < end for e, _c in commits for begin, end in syncs)
    assert len(syncs) < n  # and one sync covered several COMMITs
    conn.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 2 * n
    ours.close()
    theirs.close()


def test_a_file_not_in_wal_mode_keeps_sqlites_own_sync(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "d.sqlite3"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=FULL")
    assert wal_syncer(conn, str(tmp_path / "d.sqlite3"), lambda replies: None) is None
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, as it was
    conn.close()


def test_the_sync_follows_the_wal_file_if_its_path_names_another(tmp_path):
    wal = tmp_path / "x.sqlite3-wal"
    wal.write_bytes(b"old")
    sent: list = []
    syncer = Syncer(str(wal), sent.extend)
    first = os.fstat(syncer.fd).st_ino
    (tmp_path / "new").write_bytes(b"new")
    os.replace(tmp_path / "new", wal)
    syncer.put([("ok", None)], True)
    syncer.drain()
    assert sent == [("ok", None)] and syncer.syncs == 1
    assert os.fstat(syncer.fd).st_ino == wal.stat().st_ino != first
    syncer.put([("ok", 1)], False)  # a reply reporting no COMMIT: sent without a sync
    syncer.drain()
    assert sent == [("ok", None), ("ok", 1)] and syncer.syncs == 1


def test_a_failed_sync_ends_the_process_with_nothing_sent(tmp_path):
    wal = tmp_path / "y.sqlite3-wal"
    wal.write_bytes(b"")
    code = ("import os, sys, time; from diameter.ocs.store import sqlite_sync as s\n"
            "def broken(fd): raise OSError(5, 'Input/output error')\n"
            "s.os.fdatasync = broken\n"
            "syncer = s.Syncer(sys.argv[1], lambda r: print('sent', r, flush=True))\n"
            "syncer.put([('ok', None)], False)\n"
            "syncer.drain()\n"
            "syncer.put([('ok', 2)], True)\n"
            "time.sleep(5)\n"
            "print('still running', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code, str(wal)], capture_output=True, text=True,
                          env={"PYTHONPATH": SRC}, timeout=60)
    assert done.returncode == 70
    assert done.stdout.splitlines() == ["sent [('ok', None)]"]


def test_the_writer_process_syncs_the_wal_itself_at_full_only(tmp_path):
    async def threads(url: str) -> int:
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("f", [(0, MSISDN)], amount=1000)
            out = await eng.charge(gy("f0", 0, RequestKind.INITIAL))
            assert out.result_code == 2001
            assert (await st.audit()).ok
            return len(os.listdir(f"/proc/{st._writer.proc.pid}/task"))

    # its thread, the checkpointer's (store/sqlite_checkpoint.py) and two sync threads
    assert asyncio.run(threads(str(tmp_path / "full.sqlite3"))) == 4
    assert asyncio.run(threads(f"sqlite:///{tmp_path}/normal.sqlite3?synchronous=NORMAL")) == 2


def test_without_a_writer_process_a_transaction_that_wrote_nothing_syncs_the_wal(tmp_path, monkeypatch):
    # what it read may be a commit of another process not synced yet: it is reported only
    # after the WAL's sync (a transaction that wrote rows was synced by SQLite at FULL)
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(sqlite_sync.os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])

    async def main() -> None:
        st = SqliteStorage(str(tmp_path / "t.sqlite3"), process=False)
        await st.open()
        try:
            eng = Engine(st)
            await eng.create_account("t", [(0, MSISDN)], amount=1000)
            first = await eng.charge(gy("t0", 0, RequestKind.INITIAL))
            assert first.result_code == 2001 and synced == []
            again = await eng.charge(gy("t0", 0, RequestKind.INITIAL))  # replayed: writes nothing
            assert again.balance == first.balance and len(synced) == 1
        finally:
            await st.close()
    asyncio.run(main())
