"""`diameter bench` against freeDiameter's own benchmark client, same server, one run.

Starts freeDiameter's test_app server (C, a freeDiameterd with test_app.fdx in
server mode), then drives it in turn with

  (a) freeDiameter's test_app client in benchmark mode (a second freeDiameterd,
      ``--inflight`` requests in flight for ``--duration`` seconds), and
  (b) ``python -m diameter bench --scenario test_app -c INFLIGHT -d DURATION``
      (the command a user runs; closed model, same number in flight),

and prints each one's successful answers/s and (b)/(a), and the CPU each client
spent per answer (test_app: its freeDiameterd process during the run; ours: the
bench's own measure of its process during the run, start-up excluded).
Issue 14's target: (b) >= 1.0x answers/s.

    python bench/cli_bench.py [--duration 5] [--inflight 100] [--repeat 1] [--connections 1]
                              [--workers 1]

test_app.fdx comes from tools/build_fd_test_app.sh (built once, cached).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from _machine import describe  # noqa: E402
from interop.fd_test_app import app_config, build_test_app, run_bench  # noqa: E402
from interop.freediameter import ConnectPeer, FreeDiameter, free_tcp_port  # noqa: E402

SERVER, SERVER_REALM = "server.srv.bench", "srv.bench"
CLIENT, CLIENT_REALM = "client.fd.bench", "fd.bench"


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_client(fdx: Path, work: Path, port: int, duration: int, inflight: int) -> dict:
    client = FreeDiameter(work / "client", CLIENT, CLIENT_REALM,
                          peers=[ConnectPeer(SERVER, port, realm=SERVER_REALM)],
                          extra_config=app_config(work / "client-ta", fdx, mode="client",
                                                  dest_realm=SERVER_REALM,
                                                  bench=(duration, inflight))).start()
    try:
        client.wait_peer_state(SERVER, "STATE_OPEN", 15)
        c0 = cpu_of(client.pid)
        res = run_bench(client, duration, timeout=30)
        c1 = cpu_of(client.pid)
        n = max(res.final_answers + res.final_errors, 1)
        return {"rate": res.rate, "sent": res.sent, "errors": res.final_errors,
                "seconds": res.seconds, "client_cpu_us": (c1 - c0) / n * 1e6}
    finally:
        client.stop()


def cli_client(port: int, duration: int, inflight: int, connections: int, workers: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
    cmd = [sys.executable, "-m", "diameter", "bench", "--to", f"127.0.0.1:{port}",
           "--origin-host", f"cli.{CLIENT_REALM}", "--scenario", "test_app",
           "-c", str(inflight), "-d", f"{duration}s", "--connections", str(connections),
           "--no-progress", "--json", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(timeout=duration + 60)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"diameter bench failed ({proc.returncode}): {err.decode()[-2000:]}")
    s = json.loads(out)
    return {"rate": s["rate"], "sent": s["sent"], "errors": s["errors"] + s["timeouts"],
            "seconds": s["seconds"], "p99_ms": s["latency_ms"]["p99"],
            "client_cpu_us": s["cpu_us_per_answer"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--inflight", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1, help="runs per client; the best is kept")
    ap.add_argument("--connections", type=int, default=1, help="connections of diameter bench")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes of diameter bench (the in-flight total stays --inflight)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    fdx = build_test_app()
    print(describe(uvloop_used=False))
    print(f"same server: freeDiameter test_app server (C); {args.inflight} in flight, "
          f"{args.duration} s per run, best of {args.repeat}; diameter bench with "
          f"{args.workers} worker process(es), {args.connections} connection(s) each")
    port = free_tcp_port()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        work = Path(tmp)
        server = FreeDiameter(work / "server", SERVER, SERVER_REALM, port=port,
                              allow=[f"*.{CLIENT_REALM}"],
                              extra_config=app_config(work / "server-ta", fdx, mode="server")).start()
        try:
            for i in range(max(args.repeat, 1)):
                runs = {"freediameter test_app client": fd_client(
                            fdx, work / f"fd{i}", port, args.duration, args.inflight),
                        "diameter bench (ours)": cli_client(
                            port, args.duration, args.inflight, args.connections,
                            args.workers)}
                for k, r in runs.items():
                    if k not in results or r["rate"] > results[k]["rate"]:
                        results[k] = r
        finally:
            server.stop()
    ref = results["freediameter test_app client"]["rate"]
    ref_cpu = results["freediameter test_app client"]["client_cpu_us"]
    print(f"{'client':32} {'answers/s':>10} {'errors':>7} {'vs test_app':>12} "
          f"{'client CPU us/answer':>21} {'vs test_app':>12}")
    for k, r in results.items():
        ratio = f"{r['rate'] / ref:.2f}x" if ref else "-"
        cpu = r["client_cpu_us"]
        print(f"{k:32} {r['rate']:10.0f} {r['errors']:7d} {ratio:>12} {cpu:21.1f} "
              f"{cpu / ref_cpu:11.2f}x")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
