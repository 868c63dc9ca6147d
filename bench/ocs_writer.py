"""The SQLite writer process alone: its CPU time per CCR, on recorded batches.

First the batches are recorded: an in-process `Engine` on a temporary SQLite file runs the
workload of `bench/ocs.py` (sessions of CCR-I, several CCR-U and a CCR-T, 1 MiB used per
report, `--inflight` requests at once, no Diameter) and every message sent to the writer
process is kept. Then each repetition replays them to a fresh writer process on a copy of
the file as it was before the load (``--depth`` batches in flight, as the storage sends
them) and reads the writer's CPU time from /proc: µs per CCR is that time over the CCRs
recorded. The audit of the replayed file must be clean.

    python bench/ocs_writer.py [--sessions 2000] [--updates 4] [--inflight 48] [--repeat 3]
        [--synchronous FULL] [--gap MS]

`--inflight` sets the batch size (the recording's batches hold that many CCRs): at the
server's lower rates its batches are smaller, and the per-commit work weighs more.

The batches are recorded with the code on PYTHONPATH, so running this file with
``PYTHONPATH=<other tree>/src`` measures that tree's writer (its own batch format).

Instructions (load-independent): ``--save FILE`` records the batches once (FILE, plus the
file before the load as FILE.sqlite3), then ``--inprocess FILE --messages K`` replays the
first K messages (-1: all) to the writer's message handler in this process (no socket):
run it under ``valgrind --tool=callgrind`` with all and with none of them; per CCR is the
difference of the two totals over the CCRs recorded (printed by ``--save``).

    python bench/ocs_writer.py --save /tmp/w.rec
    valgrind --tool=callgrind python bench/ocs_writer.py --inprocess /tmp/w.rec --messages -1

``--process FILE --messages K`` replays them to a writer process instead (its socket, frames,
WAL sync threads and checkpoints included): under ``valgrind --tool=callgrind
--trace-children=yes`` the writer's own file counts the whole process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MIB = 1 << 20


def msisdn(i: int) -> str:
    return f"4917{i:08d}"


async def make_accounts(path: str, n: int, amount: int) -> None:
    from diameter.ocs import AccountKind, open_storage
    from diameter.ocs.accounting import default_balances
    async with open_storage(path) as st:
        await asyncio.gather(*(st.create_account(
            f"bench{i}", kind=AccountKind.PREPAID, subscriptions=[(0, msisdn(i))],
            balances=default_balances(1, amount)) for i in range(n)))


async def record(path: str, args: argparse.Namespace) -> tuple[list[tuple[Any, ...]], int]:
    """Run the workload on `path`; the batch messages sent to the writer and the CCR count."""
    from diameter.ocs import ChargeRequest, Engine, RequestKind, ServiceUsage, UnitKind, open_storage
    from diameter.ocs.store import sqlite_link

    sent: list[tuple[Any, ...]] = []
    real = sqlite_link.WriterProcess._send

    def keep(self: Any, msg: tuple[Any, ...]) -> None:
        if msg[0] != "close":
            sent.append(msg)
        real(self, msg)

    def requests(s: int) -> list[ChargeRequest]:
        sid = f"load.bench.example.net;1;{s}"
        last = args.updates + 1
        out = []
        for n in range(last + 1):
            kind = RequestKind.INITIAL if n == 0 else (RequestKind.TERMINATION if n == last
                                                       else RequestKind.UPDATE)
            usage = ServiceUsage(1, requested={} if n != last else None,
                                 used={UnitKind.OCTETS: MIB} if n else {})
            out.append(ChargeRequest(sid, n, kind, [(0, msisdn(s % args.accounts))], "32251@3gpp.org",
                                     [usage]))
        return out

    sessions = [requests(s) for s in range(args.sessions)]
    queue = list(range(len(sessions)))
    ready: collections.deque[tuple[list[ChargeRequest], int]] = collections.deque()
    while queue and len(ready) < args.concurrency:
        ready.append((sessions[queue.pop()], 0))
    count = 0
    codes: dict[int, int] = {}
    sqlite_link.WriterProcess._send = keep  # type: ignore[method-assign]
    try:
        async with open_storage(path) as st:
            eng = Engine(st)

            async def worker() -> None:
                nonlocal count
                while ready:
                    reqs, n = ready.popleft()
                    out = await eng.charge(reqs[n])
                    codes[out.result_code] = codes.get(out.result_code, 0) + 1
                    count += 1
                    if n + 1 < len(reqs):
                        ready.append((reqs, n + 1))
                    elif queue:
                        ready.append((sessions[queue.pop()], 0))

            await asyncio.gather(*(worker() for _ in range(args.inflight)))
    finally:
        sqlite_link.WriterProcess._send = real  # type: ignore[method-assign]
    if set(codes) != {2001}:
        raise SystemExit(f"unexpected result codes while recording: {codes}")
    return sent, count


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replay(path: str, batches: list[tuple[Any, ...]], depth: int, synchronous: str = "FULL",
           waits: list[float] | None = None, gap: float = 0.0) -> tuple[float, int]:
    """Send the batches to a new writer process on `path`; its CPU seconds for them and
    the WAL's size at the end (each batch's time from its send to its reply appended to
    `waits`; with a `gap`, seconds, each batch is sent that long after the last reply, one at
    a time: the writer's latency at a load it keeps up with, its stalls included)."""
    import marshal
    import struct

    from diameter.ocs.store import sqlite_link
    frame = struct.Struct(">I")
    mine, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-I", "-S", sqlite_link.SCRIPT, str(theirs.fileno()), path,
                             synchronous, str(os.getpid())], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
    theirs.close()
    buf = bytearray()

    def send(msg: tuple[Any, ...]) -> None:
        data = marshal.dumps(msg, 4)
        mine.sendall(frame.pack(len(data)) + data)

    def reply() -> Any:
        while True:
            if len(buf) >= 4:
                (n,) = frame.unpack_from(buf)
                if len(buf) >= 4 + n:
                    msg = marshal.loads(bytes(buf[4:4 + n]))
                    del buf[:4 + n]
                    return msg
            data = mine.recv(1 << 16)
            if not data:
                raise SystemExit("the writer process ended")
            buf.extend(data)

    try:
        kind, detail = reply()
        if kind != "ready":
            raise SystemExit(f"writer did not start: {detail}")
        send(("lock",))
        version = reply()[1]
        send(("rollback",))
        reply()
        cpu0 = proc_cpu(proc.pid)
        inflight = 0
        sent: collections.deque[float] = collections.deque()

        def settle(most: int) -> None:
            nonlocal inflight
            while inflight > most:
                kind, detail = reply()
                if waits is not None:
                    waits.append(time.perf_counter() - sent.popleft())
                inflight -= 1
                if kind != "ok":
                    raise SystemExit(f"replayed batch failed: {kind} {detail}")

        for msg in batches:
            if msg[0] == "batch":  # pipelined, as the storage sends them
                sent.append(time.perf_counter())
                send((msg[0], msg[1], version, *msg[3:]))
                inflight += 1
                settle(depth - 1)
                if gap:
                    time.sleep(gap)
            else:  # a transaction driven message by message (the first batch, administration)
                settle(0)
                sent.append(time.perf_counter())
                send(msg)
                inflight += 1
                settle(0)
        settle(0)
        cpu = proc_cpu(proc.pid) - cpu0
        wal = os.path.getsize(path + "-wal")  # its most: a WAL file is reused, not cut
        send(("close",))
        reply()
    finally:
        mine.close()
        proc.wait(10)
    return cpu, wal


async def audit(path: str) -> str:
    from diameter.ocs import open_storage
    async with open_storage(path) as st:
        report = await st.audit()
    return "clean" if report.ok else f"NOT clean: {report.problems[:3]}"


def save(path: str, args: argparse.Namespace) -> None:
    """Record the workload's batches to `path` (the file before the load: path.sqlite3)."""
    import marshal
    tmp = tempfile.mkdtemp(prefix="ocs-writer-bench-")
    try:
        base = os.path.join(tmp, "base.sqlite3")
        asyncio.run(make_accounts(base, args.accounts, 10 ** 9))
        shutil.copy(base, path + ".sqlite3")
        work = os.path.join(tmp, "record.sqlite3")
        shutil.copy(base, work)
        batches, ccrs = asyncio.run(record(work, args))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # each message as the writer process receives it: marshal bytes, decoded by it
    Path(path).write_bytes(marshal.dumps((ccrs, [marshal.dumps(m, 4) for m in batches]), 4))
    nb = sum(1 for m in batches if m[0] == "batch")
    print(f"saved {ccrs} CCR in {nb} batches and {len(batches) - nb} other messages to {path}")


def wal_pages(conn: Any, wal: str, commits: int) -> str:
    """What the WAL of `conn`'s file holds (no checkpoint ran): frames per COMMIT, and the
    share of them per table or index owning the page (as the file is at the end)."""
    import struct
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    counts: collections.Counter[str] = collections.Counter()
    with open(wal, "rb") as f:
        data = f.read()
    pos = 32
    while pos + 24 + size <= len(data):
        counts[owner.get(struct.unpack_from(">I", data, pos)[0], "(free or new)")] += 1
        pos += 24 + size
    total = sum(counts.values())
    parts = ", ".join(f"{name} {n / total * 100:.0f} %" for name, n in counts.most_common(8))
    return (f"WAL: {total} frames, {total / max(1, commits):.2f} per COMMIT "
            f"({total * (24 + size) / max(1, commits) / 1024:.1f} KiB); {parts}")


def inprocess(path: str, count: int, wal: bool = False) -> None:
    """Replay the first `count` messages saved in `path` to the writer's handler, in this
    process (`wal`: no checkpoint, then what the WAL holds is printed)."""
    import marshal

    from diameter.ocs.store import sqlite_rows, sqlite_writer
    ccrs, frames = marshal.loads(Path(path).read_bytes())
    if count >= 0:
        frames = frames[:count]
    tmp = tempfile.mkdtemp(prefix="ocs-writer-bench-")
    try:
        db = os.path.join(tmp, "replay.sqlite3")
        shutil.copy(path + ".sqlite3", db)
        sqlite_writer.lean_sqlite(threads=True)  # as the writer process configures SQLite
        writer = sqlite_writer.Writer(sqlite_rows.connect(db, "FULL"))
        if wal:
            writer.conn.execute("PRAGMA wal_autocheckpoint=0")
        sqlite_writer.tune()
        version = writer.handle(("lock",))[1]
        writer.handle(("rollback",))
        loads = marshal.loads
        commits = 0
        for frame in frames:
            msg = loads(frame)
            if msg[0] == "batch":
                msg = (msg[0], msg[1], version, *msg[3:])
            kind, detail = writer.handle(msg)
            if kind != "ok":
                raise SystemExit(f"replayed message failed: {kind} {detail}")
            commits += msg[0] in ("batch", "commit")
        if wal:
            print(wal_pages(writer.conn, db + "-wal", commits))
        writer.conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def process(path: str, count: int, depth: int) -> None:
    """Replay the first `count` messages saved in `path` to a writer process (as `replay`)."""
    import marshal
    ccrs, frames = marshal.loads(Path(path).read_bytes())
    msgs = [marshal.loads(f) for f in (frames if count < 0 else frames[:count])]
    tmp = tempfile.mkdtemp(prefix="ocs-writer-bench-")
    try:
        db = os.path.join(tmp, "replay.sqlite3")
        shutil.copy(path + ".sqlite3", db)
        cpu, wal = replay(db, msgs, depth)
        print(f"{len(msgs)} messages replayed: writer CPU {cpu * 1e3:.1f} ms, WAL {wal / 1e6:.1f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--updates", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=1000, help="sessions open at once")
    ap.add_argument("--inflight", type=int, default=48, help="requests in progress at once")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--depth", type=int, default=4, help="batches with the writer at once")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gap", type=float, default=0.0,
                    help="ms between a reply and the next batch (one at a time; 0: --depth in flight)")
    ap.add_argument("--synchronous", default="FULL", help="the writer's PRAGMA synchronous (replays)")
    ap.add_argument("--save", metavar="FILE", help="record the batches to FILE, nothing else")
    ap.add_argument("--inprocess", metavar="FILE", help="replay FILE's messages in this process")
    ap.add_argument("--process", metavar="FILE", help="replay FILE's messages to a writer process")
    ap.add_argument("--messages", type=int, default=-1, help="with --inprocess/--process: how many (-1: all)")
    ap.add_argument("--wal", action="store_true",
                    help="with --inprocess: no checkpoint; print the WAL's frames per COMMIT and their tables")
    args = ap.parse_args()
    if args.save:
        save(args.save, args)
        return
    if args.inprocess:
        inprocess(args.inprocess, args.messages, args.wal)
        return
    if args.process:
        process(args.process, args.messages, args.depth)
        return
    import diameter
    tmp = tempfile.mkdtemp(prefix="ocs-writer-bench-")
    try:
        base = os.path.join(tmp, "base.sqlite3")
        asyncio.run(make_accounts(base, args.accounts, 10 ** 9))
        work = os.path.join(tmp, "record.sqlite3")
        shutil.copy(base, work)
        t0 = time.perf_counter()
        batches, ccrs = asyncio.run(record(work, args))
        took = time.perf_counter() - t0
        size = os.path.getsize(work)
        print(f"diameter from {Path(diameter.__file__).parent}")
        nb = sum(1 for m in batches if m[0] == "batch")
        print(f"recorded {ccrs} CCR in {nb} batches ({ccrs / nb:.1f} CCR/batch) and {len(batches) - nb} other "
              "messages "
              f"in {took:.1f} s; file {size / 1e6:.1f} MB after")
        results = []
        for i in range(args.repeat):
            path = os.path.join(tmp, f"replay{i}.sqlite3")
            shutil.copy(base, path)
            waits: list[float] = []
            t0 = time.perf_counter()
            cpu, wal = replay(path, batches, 1 if args.gap else args.depth, args.synchronous, waits,
                              args.gap / 1e3)
            took = time.perf_counter() - t0
            results.append(cpu / ccrs * 1e6)
            waits.sort()
            print(f"replay {i + 1}: writer CPU {cpu * 1e3:7.1f} ms  {results[-1]:6.1f} us/CCR  "
                  f"{ccrs / took:6.0f} CCR/s; batch send -> reply p50 {waits[len(waits) // 2] * 1e3:.2f} "
                  f"p99 {waits[len(waits) * 99 // 100] * 1e3:.2f} max {waits[-1] * 1e3:.2f} ms; "
                  f"WAL {wal / 1e6:.1f} MB; audit {asyncio.run(audit(path))}")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
        print(f"writer CPU per CCR: min {min(results):.1f} us, median {sorted(results)[len(results) // 2]:.1f} us")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
