"""OCS benchmark: concurrent Gy sessions against `diameter ocs serve`, then the audit.

A load client in its own process runs many concurrent sessions (CCR-I, several CCR-U,
CCR-T, 1 MiB used per report) against the server process and reports CCRs answered per
second, p50/p99 latency, result codes and the server's CPU time per CCR (its event loop
thread and its SQLite writer process shown apart). The same run measures the reference: the same
workload against a `CreditControlServer` whose handler grants without storage, so the
ratio shows what rating, reservation and a committed ledger cost on top of the Diameter
credit-control layer. After the load, `diameter ocs audit` must be clean and every account
must have been charged exactly.

    python bench/ocs.py [--db sqlite,postgres] [--sessions 2000] [--updates 4]
        [--concurrency 1000] [--inflight 48] [--sqlite-synchronous FULL] [--client lean|node]

The load client (bench/ocs_client.py) is by default a lean Diameter client with pre-encoded
CCRs, so that little of the two cores goes to it; `--client node` uses the package's node.

PostgreSQL: `--pg-url URL`, else a throwaway cluster (initdb/pg_ctl from
/usr/lib/postgresql/*/bin, run as the `postgres` user when root).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ocs_client import MIB, REALM, client_main, cpu_seconds, msisdn  # noqa: E402

SRC = HERE.parent / "src"
ENV = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
PRICE_PER_MIB = 10  # the built-in Gy tariff


# ---------------------------------------------------------- reference server ---
async def null_server_main() -> None:
    sys.path.insert(0, str(SRC))
    from diameter.cc import CCResult, CreditControlServer, Grant, Units
    from diameter.node.aio.node import DiameterNode

    class Grants:
        async def _grant(self, req):  # type: ignore[no-untyped-def]
            return CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=10 * MIB),
                                          result_code=2001, validity_time=600) for m in req.mscc])
        on_initial = on_update = on_termination = on_event = _grant

    node = DiameterNode("ocs.bench.example.net", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                        ip_addresses=["127.0.0.1"], accept_unknown_peers=True)
    CreditControlServer(node, Grants(), validate=False)
    await node.start()
    from diameter.ocs.server import GC_THRESHOLD, tune_gc
    tune_gc(GC_THRESHOLD)  # as `diameter ocs serve` does
    print(f"null server listening on 127.0.0.1:{node.listen_ports[0]} ", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await node.stop(1)


# ------------------------------------------------------------------- driver ---
def _run(coro) -> None:  # type: ignore[no-untyped-def]
    """Run on the loop `diameter ocs serve` uses (uvloop's when installed), so the
    reference and the load client get the same loop as the server."""
    sys.path.insert(0, str(SRC))
    from diameter.node.threads import new_event_loop
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(coro)


def start_server(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, env=env or ENV, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.search(r"127\.0\.0\.1:(\d+) ", line)
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line}{proc.stderr.read()}")
    return proc, int(m.group(1))


def _family_cpu_seconds(pid: int, *, itself: bool) -> float:
    """CPU time so far of a process's running children (and of the process, with ``itself``)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid or (itself and int(entry.name) == pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children_cpu_seconds(pid: int) -> float:
    """CPU time so far of a process's running child processes (the SQLite writer process)."""
    return _family_cpu_seconds(pid, itself=False)


def db_cpu_seconds(data_dir: str | None) -> float:
    """CPU time so far of a PostgreSQL cluster started here: the postmaster and its children."""
    if data_dir is None:
        return 0.0
    try:
        master = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return _family_cpu_seconds(master, itself=True)


def run_load(port: int, args: argparse.Namespace, server_pid: int, db_dir: str | None = None) -> dict:
    cpu0 = cpu_seconds(server_pid)
    loop0 = cpu_seconds(server_pid, thread=True)
    kids0 = children_cpu_seconds(server_pid)
    db0 = db_cpu_seconds(db_dir)
    out = subprocess.run([sys.executable, __file__, "--load-client", "--client", args.client,
                          "--port", str(port), "--timeout", str(args.timeout),
                          "--sessions", str(args.sessions), "--updates", str(args.updates),
                          "--concurrency", str(args.concurrency), "--inflight", str(args.inflight),
                          "--accounts", str(args.accounts), "--server-pid", str(server_pid)],
                         env=ENV, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    result = json.loads(out.stdout)
    writer = (children_cpu_seconds(server_pid) - kids0) / result["requests"] * 1e6
    result["writer_cpu_us"] = writer
    result["server_cpu_us"] = (cpu_seconds(server_pid) - cpu0) / result["requests"] * 1e6 + writer
    result["loop_cpu_us"] = (cpu_seconds(server_pid, thread=True) - loop0) / result["requests"] * 1e6
    result["db_cpu_us"] = (db_cpu_seconds(db_dir) - db0) / result["requests"] * 1e6 if db_dir else None
    return result


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def pg_cluster() -> tuple[str, callable]:
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    tmp = tempfile.mkdtemp(prefix="ocs-bench-pg-")
    run_as = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(tmp, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(tmp, "data")
    subprocess.run([*run_as, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*run_as, f"{bindir}/pg_ctl", "-D", data, "-l", f"{tmp}/log", "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c max_connections=200",
                    "start"], check=True, capture_output=True)

    def teardown() -> None:
        subprocess.run([*run_as, f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    teardown.data_dir = data  # type: ignore[attr-defined]
    # the unix socket: on one machine it costs far less CPU per query than TCP loopback
    return f"postgresql://postgres@/postgres?host={tmp}&port={port}", teardown


async def make_accounts(url: str, n: int, amount: int) -> None:
    sys.path.insert(0, str(SRC))
    from diameter.ocs import AccountKind, open_storage
    from diameter.ocs.accounting import default_balances
    async with open_storage(url) as st:
        await asyncio.gather(*(st.create_account(
            f"bench{i}", kind=AccountKind.PREPAID, subscriptions=[(0, msisdn(i))],
            balances=default_balances(1, amount)) for i in range(n)))


async def check_books(url: str, args: argparse.Namespace, amount: int) -> tuple[bool, str]:
    from diameter.ocs import open_storage
    async with open_storage(url) as st:
        report = await st.audit()
        accounts = await st.accounts()
        snaps = [await st.account(__import__("diameter.ocs", fromlist=["Target"]).Target(account_id=a.id))
                 for a in accounts]
    per_session = (args.updates + 1) * PRICE_PER_MIB
    expected = {i: amount - per_session * len(range(i, args.sessions, args.accounts))
                for i in range(args.accounts)}
    exact = all(s.balances[0].amount == expected[int(s.account.name[5:])] and not s.reservations
                for s in snaps)
    return report.ok and exact, (f"audit {'clean' if report.ok else report.problems[:3]}, "
                                 f"{report.ledger_rows} ledger rows, balances "
                                 f"{'exact' if exact else 'NOT exact'}")


def line(name: str, r: dict) -> str:
    codes = ",".join(f"{k}:{v}" for k, v in sorted(r["codes"].items()))
    return (f"{name:24s} {r['requests']:7d} CCR {r['rate']:8.0f} CCR/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  CPU us/CCR: server {r['server_cpu_us']:4.0f} "
            f"(loop thread {r['loop_cpu_us']:4.0f}"
            + (f", writer process {r['writer_cpu_us']:3.0f}" if r.get("writer_cpu_us") else "")
            + "), "
            f"client {r['client_cpu_us']:3.0f}"
            + (f", PostgreSQL {r['db_cpu_us']:4.0f}" if r.get("db_cpu_us") is not None else "")
            + f"  results {codes}")


def window(r: dict) -> str:
    """What the machine did while the load ran: the server's event-loop thread's busy share
    (the process that bounds the rate) and the two cores' use."""
    m = r["machine"]
    return (f"{'':24s} while loaded: loop thread busy {100 * r['loop_busy']:3.0f} %; cores "
            f"user {m['user'] + m['nice']:3.0f} %, system {m['system'] + m['irq'] + m['softirq']:3.0f} %, "
            f"idle {m['idle']:3.0f} %, iowait {m['iowait']:3.0f} %, steal {m['steal']:3.0f} %; "
            f"per CCR: loop thread {r['loop_calls'][0]:.2f} reads, {r['loop_calls'][1]:.2f} "
            f"writes, {r['loop_calls'][2]:.2f} + {r['loop_calls'][3]:.2f} context switches "
            f"(voluntary + not); client {r['client_calls'][0]:.2f} reads, "
            f"{r['client_calls'][1]:.2f} writes, {r['client_calls'][2]:.2f} + "
            f"{r['client_calls'][3]:.2f} switches"
            + (f"\n{'':24s} p99 in each fifth of the run (answer order): "
               + " / ".join(f"{v:.1f}" for v in r["p99_fifths_ms"]) + f" ms; max {r['max_ms']:.1f} ms"
               if r.get("p99_fifths_ms") else ""))


def times(value: float, reference: float, digits: int) -> str:
    """``value / reference`` as "N.N x", or "- x" when the reference measured zero.

    CPU time comes in clock ticks (10 ms): a short run can measure none.
    """
    return f"{value / reference:.{digits}f} x" if reference else "- x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--updates", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=1000, help="sessions open at once")
    ap.add_argument("--inflight", type=int, default=48, help="requests on the wire at once")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--sqlite-synchronous", default="FULL", help="FULL (default) or NORMAL")
    ap.add_argument("--sqlite-trace", default=None, metavar="FILE",
                    help="record a timeline per SQLite batch in FILE and print its summary "
                         "(diameter.ocs.store.sqlite_trace; off by default)")
    ap.add_argument("--pg-trace", default=None, metavar="FILE",
                    help="record a timeline per PostgreSQL batch in FILE and print its summary "
                         "(diameter.ocs.store.pg_trace; off by default)")
    ap.add_argument("--client", choices=("lean", "node"), default="lean",
                    help="the load client (bench/ocs_client.py): lean (default), a minimal "
                         "Diameter client, or node, this package's DiameterNode.request_bytes")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds a request may stay unanswered before the run fails")
    ap.add_argument("--load-client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--null-server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--server-identity", default="ocs.bench.example.net", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load_client:
        _run(client_main(args))
        return
    if args.null_server:
        _run(null_server_main())
        return
    sys.path.insert(0, str(SRC))
    amount = 10**9
    from _machine import describe
    print(describe(uvloop_used=not os.environ.get("DIAMETER_NO_UVLOOP")))
    print(f"load average {os.getloadavg()[0]:.1f} before the run (other processes share the cores)")
    print(f"{args.sessions} sessions x {args.updates + 2} CCR, {args.concurrency} open at once, "
          f"{args.inflight} requests in flight, "
          f"{args.accounts} accounts, load client ({args.client}) and server in separate processes")
    proc, port = start_server([sys.executable, __file__, "--null-server"])
    try:
        ref = run_load(port, args, proc.pid)
    finally:
        stop(proc)
    print(line("reference (no storage)", ref))
    print(window(ref))
    ok = True
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        teardown = None
        tmp = tempfile.mkdtemp(prefix="ocs-bench-")
        if db == "sqlite":
            url = os.path.join(tmp, "ocs.sqlite3")
            if args.sqlite_synchronous.upper() != "FULL":  # see docs/ocs.md: power-loss trade-off
                url = f"sqlite:///{url}?synchronous={args.sqlite_synchronous}"
        elif args.pg_url:
            url = args.pg_url
        else:
            url, teardown = pg_cluster()
        try:
            asyncio.run(make_accounts(url, args.accounts, amount))
            env = None
            if db == "sqlite" and args.sqlite_trace:
                Path(args.sqlite_trace).unlink(missing_ok=True)
                env = dict(ENV, DIAMETER_SQLITE_TRACE=args.sqlite_trace)
            if db == "postgres" and args.pg_trace:
                Path(args.pg_trace).unlink(missing_ok=True)
                env = dict(ENV, DIAMETER_PG_TRACE=args.pg_trace)
            proc, port = start_server([sys.executable, "-m", "diameter", "ocs", "-d", url, "serve",
                                       "--port", "0", "--identity", "ocs.bench.example.net",
                                       "--realm", REALM, "--max-in-progress", "100000"], env)
            try:
                r = run_load(port, args, proc.pid, getattr(teardown, "data_dir", None))
            finally:
                stop(proc)
            good, books = asyncio.run(check_books(url, args, amount))
            ok = ok and good and r["codes"].get("2001") == r["requests"]  # JSON keys are strings
            print(line(f"ocs {db}", r) + f"  ({times(r['rate'], ref['rate'], 2)} reference rate, "
                  f"{times(r['server_cpu_us'], ref['server_cpu_us'], 1)} its CPU per CCR)")
            print(window(r))
            print(f"{'':24s} {books}")
            if env is not None and db == "sqlite":
                from diameter.ocs.store import sqlite_trace
                sqlite_trace.main([args.sqlite_trace])
            elif env is not None:
                from diameter.ocs.store import pg_trace
                pg_trace.main([args.pg_trace])
        finally:
            if teardown:
                teardown()
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
