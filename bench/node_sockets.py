"""The real-socket cost per request: bench/node.py's asyncio workload, a fixed number of requests.

A server process and a client process (both asyncio API on uvloop, validation on) over
loopback TCP; the client sends ``--count`` CCRs with ``--inflight`` in flight after a
warm-up and reports, per request and per side: user and system CPU, read and write
syscalls (/proc/PID/io ``syscr``/``syscw``), voluntary context switches (the loop slept
in epoll_wait: wake-ups) and requests per read/write.

    python bench/node_sockets.py [--count 20000] [--inflight 16,256] [--src TREE]
    python bench/node_sockets.py --callgrind --count 3000,1000 --inflight 16
    chrt -f 10 python bench/node_sockets.py   # on a shared machine (root): near-quiet figures
    BENCH_NODE_OPTIONS='{"coalesce_requests": true}' BENCH_WRITE_BATCH=32 python bench/node_sockets.py

``--callgrind``: both processes under ``valgrind --tool=callgrind``, two counts; the
instructions per request of each side are the difference of the two runs' totals over
the difference of the counts (user space only; the batching still depends on how the
two processes are scheduled).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import node as bn  # noqa: E402  (bench/node.py: the workload)

VALGRIND_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3"


def proc_stats(pid: int | str = "self") -> dict[str, float]:
    """CPU (user, sys), read/write syscalls and context switches of a process so far."""
    tck = os.sysconf("SC_CLK_TCK")
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out = {"user": int(f[11]) / tck, "sys": int(f[12]) / tck}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        k, v = line.split(":")
        if k in ("syscr", "syscw"):
            out[k] = int(v)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            k, v = line.split(":")
            out[k.split("_")[0]] = int(v)
    return out


def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b[k] - a[k] for k in a}


def _setup() -> dict:
    """uvloop (unless BENCH_NO_UVLOOP), the transport's batch size (BENCH_WRITE_BATCH) and the
    node options of BENCH_NODE_OPTIONS (JSON): the variants compared."""
    if not os.environ.get("BENCH_NO_UVLOOP"):
        import uvloop
        uvloop.install()
    if os.environ.get("BENCH_WRITE_BATCH"):
        from diameter.node.aio import transport
        transport.WRITE_BATCH = int(os.environ["BENCH_WRITE_BATCH"])
    return json.loads(os.environ.get("BENCH_NODE_OPTIONS") or "{}")


def serve(port: int) -> None:
    """bench/node.py's server; exits normally on SIGTERM (so that callgrind writes its data)."""
    from diameter.node.aio import DiameterNode
    options = _setup()

    async def main() -> None:
        node = DiameterNode("server.bench.realm", bn.REALM, tcp_port=port, listen_addresses=["127.0.0.1"],
                            ip_addresses=["127.0.0.1"], accept_unknown_peers=True, **options)

        async def on_ccr(req):
            return bn.build_cca(req, "server.bench.realm")
        node.add_application(bn.APP_CC, on_ccr)
        await node.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("READY", flush=True)
        await stop.wait()
        await node.stop(1)
    asyncio.run(main())


def client(port: int, count: int, inflight: int, server_pid: int) -> dict:
    from diameter.node.aio import DiameterNode
    options = _setup()

    async def main() -> dict:
        node = DiameterNode("client.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"], **options)
        node.add_application(bn.APP_CC)
        node.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=port, persistent=True)
        await node.start()
        await node.wait_open("server.bench.realm", 10)
        seq = iter(range(1, 1 << 62))
        left = 0

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                ans = await node.request(bn.build_ccr("client.bench.realm", next(seq)))
                if ans.result_code != 2001:
                    raise RuntimeError(f"unexpected result {ans.result_code}")
        left = max(count // 5, inflight * 4)   # warm-up
        await asyncio.gather(*(worker() for _ in range(inflight)))
        s0, c0, t0 = proc_stats(server_pid), proc_stats(), time.perf_counter()
        left = count
        await asyncio.gather(*(worker() for _ in range(inflight)))
        elapsed = time.perf_counter() - t0
        s1, c1 = proc_stats(server_pid), proc_stats()
        await node.stop(1)
        return {"elapsed": elapsed, "server": delta(s0, s1), "client": delta(c0, c1)}
    return asyncio.run(main())


def run_pair(src: str, count: int, inflight: int, callgrind: str | None = None) -> dict:
    """One server and one client process; ``callgrind``: a directory for both processes' data."""
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONHASHSEED="0")
    port = bn.free_port()
    py = [sys.executable]
    if callgrind:
        py = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind}/cg.%p", VALGRIND_PYTHON]
    res, server_pid = bn.pair_run(
        py + [__file__, "_server", str(port)],
        py + [__file__, "_client", str(port), str(count), str(inflight), "{server_pid}"],
        env, client_timeout=3600, stop_wait=300, server_stderr=subprocess.DEVNULL if callgrind else None)
    res["server_pid"] = server_pid
    return res


def _total_instructions(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"(?:summary|totals):\s+(\d+)", line)
        if m:
            return int(m.group(1))
    raise RuntimeError(f"no totals in {path}")


def callgrind_per_request(src: str, counts: list[int], inflight: int) -> dict[str, float]:
    """Instructions per request of each side: two runs' difference over the counts' difference."""
    totals = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="node_sockets_cg") as d:
            res = run_pair(src, n, inflight, callgrind=d)
            files = {p.name.split(".")[-1]: p for p in Path(d).glob("cg.*")}
            srv = _total_instructions(files.pop(str(res["server_pid"])))
            (cli,) = [_total_instructions(p) for p in files.values()]
            totals.append((n, cli, srv))
    (n1, c1, s1), (n2, c2, s2) = totals
    return {"client": (c1 - c2) / (n1 - n2), "server": (s1 - s2) / (n1 - n2)}


def report(res: dict, count: int) -> str:
    rows = []
    for side in ("client", "server"):
        d = res[side]
        per = {k: v / count for k, v in d.items()}
        rows.append(f"  {side:6} user {per['user'] * 1e6:5.1f} us  sys {per['sys'] * 1e6:5.1f} us  "
                    f"reads {per['syscr']:.3f}  writes {per['syscw']:.3f}  wake-ups {per['voluntary']:.3f}  "
                    f"preempted {per['nonvoluntary']:.3f}  (req/read {1 / max(per['syscr'], 1e-9):.1f}, "
                    f"req/write {1 / max(per['syscw'], 1e-9):.1f})")
    cpu = sum(res[s]["user"] + res[s]["sys"] for s in ("client", "server")) / count * 1e6
    return (f"{count / res['elapsed']:8.0f} req/s, {cpu:.1f} us CPU/request (both sides)\n" + "\n".join(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", default="20000", help="requests measured (--callgrind: two counts, a,b)")
    ap.add_argument("--inflight", default="16,256")
    ap.add_argument("--src", default=str(HERE.parent / "src"))
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for n in (int(x) for x in args.inflight.split(",")):
        if args.callgrind:
            counts = [int(x) for x in args.count.split(",")]
            per = callgrind_per_request(args.src, counts, n)
            print(f"{n} in flight: instructions/request client {per['client']:.0f}, server {per['server']:.0f}, "
                  f"both {per['client'] + per['server']:.0f}", flush=True)
            continue
        for _ in range(args.repeat):
            count = int(args.count)
            print(f"{n} in flight: " + report(run_pair(args.src, count, n), count), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        serve(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        print(json.dumps(client(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else:
        main()
