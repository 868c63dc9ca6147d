"""`diameter bench` against freeDiameter's own benchmark client, same server, one run.

Starts freeDiameter's test_app server (C, a freeDiameterd with test_app.fdx in
server mode, ``benchmark;`` so that it does not write a log line per request),
then, for each of ``--rounds`` rounds, drives it in turn with

  (a) freeDiameter's test_app client in benchmark mode: WORKERS x CONNECTIONS
      freeDiameterd client daemons (freeDiameter opens one connection per peer),
      ``--inflight`` requests in flight in all, started by one SIGUSR1 burst, for
      ``--duration`` seconds; and
  (b) ``python -m diameter bench --scenario test_app -c INFLIGHT -d DURATION
      --workers WORKERS --connections CONNECTIONS`` (the command a user runs; closed
      model): the same server, in-flight window, duration and number of connections.

Default: 2 workers of one connection each (test_app: 2 daemons), so that the Python
client, like test_app's threads, can run on both cores of a machine it shares with
the server; ``--workers 1`` is the plain one-connection comparison.

Each client runs in one session of its own (the scheduler shares the CPU between
sessions first), the two runs of a round follow each other within a second, and
their order alternates from round to round (a-b, b-a, ...). Each round prints both
clients' successful answers/s (answers received while sending / seconds sent,
test_app's own definition), the CPU each client spent per answer (test_app: its
daemons while sending; ours: the bench's own measure of its processes while
sending), the server's CPU per answer and how idle the machine was. The verdict is
the ratio of the medians (and the median of the per-round ratios); issue 14's
target: (b) >= 1.0x answers/s.

    python bench/cli_bench.py [--duration 5] [--inflight 100] [--rounds 5]
                              [--workers 2] [--connections 1] [--warmup 1] [--json]
                              [--server-log]

test_app.fdx comes from tools/build_fd_test_app.sh (built once, cached).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from _machine import describe  # noqa: E402
from interop.fd_test_app import app_config, build_test_app, parse_bench  # noqa: E402
from interop.freediameter import (  # noqa: E402
    FREEDIAMETERD,
    READY_LINE,
    ConnectPeer,
    FreeDiameter,
    FreeDiameterError,
    free_tcp_port,
)

SERVER, SERVER_REALM = "server.srv.bench", "srv.bench"
CLIENT_REALM = "fd.bench"
TEST_APP, OURS = "test_app client", "diameter bench"
# test_app's results block when sending stops, up to its last line
END_BLOCK = r"app_test Benchmark results, end sending \+0s[\s\S]*?answer\(s\) received"


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a process, its exited threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return v[3] + v[4], sum(v)


def bench_config(line: list[str]) -> list[str]:
    """test_app's ``LoadExtension`` line, with ``benchmark;`` added to a server's file:
    in benchmark mode the server does not write a log line per request."""
    conf = Path(line[0].split(":", 1)[1].strip().strip(";").strip().strip('"'))
    text = conf.read_text()
    if "benchmark" not in text:
        conf.write_text(text + "benchmark;\n")
    return line


class ClientGroup:
    """test_app client daemons started together in one new session.

    Linux's scheduler (autogroup, on by default) shares the CPU between sessions
    first, then between the processes of a session. The harness gives every
    party one session: the server, the test_app client daemons (however many
    connections), and ``diameter bench`` (however many workers); so neither
    client gets more of a busy machine by being several processes."""

    def __init__(self, daemons: list[FreeDiameter]) -> None:
        self.daemons = daemons
        self.pids: list[int] = []
        self.leader: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        cmds = []
        for d in self.daemons:
            d.write_config()
            cmds.append(f"{FREEDIAMETERD} -c {shlex.quote(str(d.config_path))} "
                        f"> {shlex.quote(str(d.log_path))} 2>&1 < /dev/null &")
        script = " ".join(cmds) + " wait"
        self.leader = subprocess.Popen(["sh", "-c", script], start_new_session=True,
                                       cwd=self.daemons[0].workdir)
        deadline = time.monotonic() + timeout
        by_conf: dict[str, int] = {}
        while len(by_conf) < len(self.daemons):
            if time.monotonic() > deadline or self.leader.poll() is not None:
                raise FreeDiameterError("test_app client daemons did not start")
            for pid in children(self.leader.pid):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if len(cmd) > 2 and cmd[0] == str(FREEDIAMETERD).encode():
                    by_conf[cmd[2].decode()] = pid
            time.sleep(0.02)
        self.pids = [by_conf[str(d.config_path)] for d in self.daemons]
        for d in self.daemons:
            d.wait_for_log(re.escape(READY_LINE), timeout)

    def signal(self, sig: int) -> None:
        for pid in self.pids:
            os.kill(pid, sig)

    def cpu(self) -> float:
        return sum(cpu_of(pid) for pid in self.pids)

    def stop(self) -> None:
        """SIGTERM to each daemon (they send DPR), SIGKILL to the session after 5 s."""
        if self.leader is None:
            return
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.leader.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.leader.pid, signal.SIGKILL)
            self.leader.wait(5)
        self.leader = None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


class TestAppRun:
    """One benchmark of ``connections`` test_app client daemons (freeDiameter opens one
    connection per peer), ``inflight`` requests in flight in all, started by one SIGUSR1
    burst. :meth:`start` brings them up (connected, idle) ahead of time and
    :meth:`measure` returns as soon as they stop sending, so that the other client's
    run can follow (or precede) it within a fraction of a second."""

    def __init__(self, fdx: Path, work: Path, port: int, duration: int, inflight: int,
                 connections: int, server_pid: int) -> None:
        shares = [inflight // connections + (i < inflight % connections)
                  for i in range(connections)]
        self.group = ClientGroup([
            FreeDiameter(work / f"client{i}", f"c{i}.{CLIENT_REALM}", CLIENT_REALM,
                         peers=[ConnectPeer(SERVER, port, realm=SERVER_REALM)],
                         extra_config=app_config(work / f"ta{i}", fdx, mode="client",
                                                 dest_realm=SERVER_REALM,
                                                 bench=(duration, share)))
            for i, share in enumerate(shares)])
        self.duration, self.server_pid, self.inflight = duration, server_pid, inflight

    def start(self) -> TestAppRun:
        try:
            self.group.start()
            for d in self.group.daemons:
                d.wait_peer_state(SERVER, "STATE_OPEN", 15)
        except BaseException:
            self.group.stop()
            raise
        return self

    def measure(self) -> dict[str, Any]:
        """Signal, wait until every daemon logged its end-of-sending results."""
        daemons = self.group.daemons
        marks = [d.log_size() for d in daemons]
        c0, s0, t0 = self.group.cpu(), cpu_of(self.server_pid), time.monotonic()
        self.group.signal(signal.SIGUSR1)
        for d, mark in zip(daemons, marks):
            d.wait_for_log(END_BLOCK, self.duration + 30, start=mark)
        s1, c1 = cpu_of(self.server_pid), self.group.cpu()
        results = [parse_bench(d.log()[mark:]) for d, mark in zip(daemons, marks)]
        # the requests still in flight when sending stopped (at most --inflight) are
        # left out of the CPU per answer, like the CPU spent on them
        n = max(sum(r.answers + r.errors for r in results), 1)
        return {"rate": sum(r.rate for r in results), "sent": sum(r.sent for r in results),
                "errors": sum(r.errors for r in results), "answered": n,
                "connections": len(daemons), "inflight": self.inflight,
                "seconds": max(r.seconds for r in results),
                "client_cpu_us": (c1 - c0) / n * 1e6, "server_cpu_us": (s1 - s0) / n * 1e6,
                "idle": idle(t0, t0 + self.duration)}

    def stop(self) -> None:
        self.group.stop()


class IdleSampler:
    """The machine's idle share over a window, from /proc/stat sampled every 50 ms in a
    thread (so that a window can be placed after the fact: [start, start + duration])."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), *machine_ticks()))
            self._stop.wait(0.05)

    def idle(self, start: float, end: float) -> float:
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return float("nan")
        (_, i0, t0), (_, i1, t1) = inside[0], inside[-1]
        return (i1 - i0) / max(t1 - t0, 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


SAMPLER: IdleSampler | None = None


def idle(start: float, end: float) -> float:
    return SAMPLER.idle(start, end) if SAMPLER else float("nan")


def cli_client(port: int, duration: float, inflight: int, connections: int, workers: int,
               server_pid: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, "-m", "diameter", "bench", "--to", f"127.0.0.1:{port}",
           "--origin-host", f"cli.{CLIENT_REALM}", "--scenario", "test_app",
           "-c", str(inflight), "-d", f"{duration}s", "--connections", str(connections),
           "--no-progress", "--json", "--workers", str(workers)]
    s0 = cpu_of(server_pid)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)  # one session, as the test_app daemons
    out, err = proc.communicate(timeout=duration + 60)
    t1, s1 = time.monotonic(), cpu_of(server_pid)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"diameter bench failed ({proc.returncode}): {err.decode()[-2000:]}")
    s = json.loads(out)
    n = max(s["answered"], 1)
    return {"rate": s["rate"], "sent": s["sent"], "errors": s["errors"] + s["timeouts"],
            "answered": s["answered"], "seconds": s["seconds"], "p99_ms": s["latency_ms"]["p99"],
            "connections": s["connections"], "inflight": s["concurrency"],
            "client_cpu_us": s["cpu_us_per_answer"], "server_cpu_us": (s1 - s0) / n * 1e6,
            # the sending ended a moment before the process did (last answers, DPR, exit)
            "idle": idle(t1 - 0.1 - s["seconds"], t1 - 0.1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5, help="seconds per run")
    ap.add_argument("--inflight", type=int, default=100, help="requests in flight, in all")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (one run of each client)")
    ap.add_argument("--connections", type=int, default=1,
                    help="connections per diameter bench worker; test_app gets as many in "
                         "all (one client daemon per connection, freeDiameter opens one per peer)")
    ap.add_argument("--workers", type=int, default=2,
                    help="processes of diameter bench, one session in all (the in-flight "
                         "total stays --inflight)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="seconds of an unrecorded run of each client before the rounds")
    ap.add_argument("--server-log", action="store_true",
                    help="leave the server out of benchmark mode: it then writes three "
                         "unbuffered log lines per request (the setup of earlier runs)")
    ap.add_argument("--json", action="store_true", help="also print every figure as JSON")
    args = ap.parse_args()
    global SAMPLER
    fdx = build_test_app()
    SAMPLER = IdleSampler()
    # diameter bench runs on uvloop when it is installed, unless DIAMETER_NO_UVLOOP is set
    print(describe(uvloop_used=False if os.environ.get("DIAMETER_NO_UVLOOP") else None))
    print(f"same server: freeDiameter test_app server (C, "
          f"{'logging each request' if args.server_log else 'benchmark mode'}); {args.inflight} in "
          f"flight over {args.connections * args.workers} connection(s), {args.duration} s per run, "
          f"{args.rounds} rounds alternating the order; diameter bench with "
          f"{args.workers} worker process(es)")
    port = free_tcp_port()
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        work = Path(tmp)
        server_config = app_config(work / "server-ta", fdx, mode="server")
        if not args.server_log:
            server_config = bench_config(server_config)
        server = FreeDiameter(work / "server", SERVER, SERVER_REALM, port=port,
                              allow=[f"*.{CLIENT_REALM}"],
                              extra_config=server_config).start()
        assert server.pid is not None
        spid = server.pid

        def test_app(seconds: int, tag: str) -> TestAppRun:
            return TestAppRun(fdx, work / tag, port, seconds, args.inflight,
                              args.connections * args.workers, spid).start()

        def ours(seconds: int) -> dict[str, Any]:
            return cli_client(port, seconds, args.inflight, args.connections, args.workers,
                              spid)

        def round_(seconds: int, tag: str, order: tuple[str, str]) -> dict[str, dict[str, Any]]:
            """Both clients back to back: test_app's daemons are up (idle) before the
            first run and stopped after the second, whichever order."""
            ta = test_app(seconds, tag)
            try:
                r: dict[str, dict[str, Any]] = {}
                for who in order:
                    r[who] = ta.measure() if who == TEST_APP else ours(seconds)
                return r
            finally:
                ta.stop()

        try:
            if args.warmup:
                round_(args.warmup, "warm", (TEST_APP, OURS))
            print(f"{'round':>5} {'client':16} {'answers/s':>10} {'errors':>6} "
                  f"{'client CPU':>11} {'server CPU':>11} {'idle':>5}   ratio")
            print(f"{'':>5} {'':16} {'':>10} {'':>6} {'us/answer':>11} {'us/answer':>11}")
            for i in range(max(args.rounds, 1)):
                order = (TEST_APP, OURS) if i % 2 == 0 else (OURS, TEST_APP)
                r = round_(args.duration, f"r{i}", order)
                rounds.append(r)
                ratio = r[OURS]["rate"] / r[TEST_APP]["rate"] if r[TEST_APP]["rate"] else 0.0
                for who in order:
                    x = r[who]
                    print(f"{i + 1:>5} {who:16} {x['rate']:10.0f} {x['errors']:6d} "
                          f"{x['client_cpu_us']:11.1f} {x['server_cpu_us']:11.1f} "
                          f"{x['idle'] * 100:4.0f}%"
                          + (f"   {ratio:.2f}x" if who == order[-1] else ""), flush=True)
        finally:
            server.stop()
            SAMPLER.stop()
    med = {who: {k: statistics.median(r[who][k] for r in rounds)
                 for k in ("rate", "client_cpu_us", "server_cpu_us")} for who in (TEST_APP, OURS)}
    ratios = [r[OURS]["rate"] / r[TEST_APP]["rate"] for r in rounds if r[TEST_APP]["rate"]]
    print(f"median {TEST_APP:16} {med[TEST_APP]['rate']:10.0f} {'':6} "
          f"{med[TEST_APP]['client_cpu_us']:11.1f} {med[TEST_APP]['server_cpu_us']:11.1f}")
    print(f"median {OURS:16} {med[OURS]['rate']:10.0f} {'':6} "
          f"{med[OURS]['client_cpu_us']:11.1f} {med[OURS]['server_cpu_us']:11.1f}")
    verdict = med[OURS]["rate"] / med[TEST_APP]["rate"] if med[TEST_APP]["rate"] else 0.0
    print(f"diameter bench / test_app client: {verdict:.2f}x (ratio of the medians); "
          f"per-round ratios {', '.join(f'{x:.2f}' for x in ratios)}, "
          f"median {statistics.median(ratios) if ratios else 0:.2f}x, "
          f"{sum(x >= 1 for x in ratios)}/{len(ratios)} rounds >= 1.0x; issue 14's target "
          f"(>= 1.0x) {'met' if verdict >= 1.0 else 'NOT met'}")
    if args.json:
        print(json.dumps({"rounds": rounds, "median": med, "ratio_of_medians": verdict,
                          "round_ratios": ratios}))


if __name__ == "__main__":
    main()
