"""Credit-control benchmark: full sessions (CCR-I, 3 CCR-U, CCR-T) between two processes.

The client process runs ``--inflight`` sessions at a time through ``CreditControlClient``; the
server process answers with ``CreditControlServer`` and a handler that grants from memory. The
same run measures the bare ``node.request`` path of bench/node.py (asyncio API, same number in
flight) and prints the CPU per request of both and the overhead of the session layer.

    python bench/cc.py [--duration 3] [--inflight 16] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import node as bare  # noqa: E402  (bench/node.py: process plumbing and the bare request path)

REALM = bare.REALM
UPDATES = 3


def serve_cc(port: int) -> None:
    import asyncio

    from diameter.cc import CreditControlServer
    from diameter.node.aio import DiameterNode
    bare.use_uvloop()

    async def main() -> None:
        node = DiameterNode("server.bench.realm", REALM, tcp_port=port, listen_addresses=["127.0.0.1"],
                            ip_addresses=["127.0.0.1"], accept_unknown_peers=True,
                            validate=not os.environ.get("BENCH_NO_VALIDATE"))
        CreditControlServer(node, _memory_ocs(), tcc=60)
        await node.start()
        print("READY", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())


def client_cc(port: int, duration: float, inflight: int) -> dict:
    import asyncio

    from diameter.cc import Units
    from diameter.cc.client import CreditControlClient
    from diameter.cc.client_core import Decision
    from diameter.node.aio import DiameterNode
    bare.use_uvloop()

    async def main() -> dict:
        node = DiameterNode("client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
        node.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=port, persistent=True)
        cc = CreditControlClient(node, tx=10)
        await node.start()
        await node.wait_open("server.bench.realm", 10)
        lat: list[float] = []
        counts = {"sessions": 0, "requests": 0}
        stop_at = 0.0
        want = Units(total_octets=1_000_000)
        used = Units(total_octets=500_000)

        async def worker(record: bool) -> None:
            pc = time.perf_counter
            while pc() < stop_at:
                t0 = pc()
                s = await cc.start(subscription_id="41780000001", requested=want, rating_group=100)
                if s.outcome is None or s.outcome.decision is not Decision.GRANTED:
                    raise RuntimeError(f"CCR-I: {s.outcome}")
                for _ in range(UPDATES):
                    o = await s.update(used=used, requested=want)
                    if o.decision is not Decision.GRANTED:
                        raise RuntimeError(f"CCR-U: {o}")
                o = await s.terminate(used=used)
                if o.result_code != 2001:
                    raise RuntimeError(f"CCR-T: {o}")
                if record:
                    lat.append((pc() - t0) / (UPDATES + 2))
                    counts["sessions"] += 1
                    counts["requests"] += UPDATES + 2
        stop_at = time.perf_counter() + 0.5  # warm-up
        await asyncio.gather(*(worker(False) for _ in range(inflight)))
        c0 = time.process_time()
        t0 = time.perf_counter()
        stop_at = t0 + duration
        await asyncio.gather(*(worker(True) for _ in range(inflight)))
        elapsed = time.perf_counter() - t0
        res = bare.summarize(lat, counts["requests"], elapsed, time.process_time() - c0)
        res["sessions"] = counts["sessions"]
        await node.stop(1)
        return res
    return asyncio.run(main())


def inproc(rounds: int, seconds: float, inflight: int) -> tuple[list[float], list[float]]:
    """Bare and cc client+server in one process (one event loop), alternating short rounds.

    Both paths see the same load; CPU per request (process time / requests) of every round."""
    import asyncio

    from diameter.cc import CreditControlServer, Units
    from diameter.cc.client import CreditControlClient
    from diameter.node.aio import DiameterNode
    bare.use_uvloop()

    async def main() -> tuple[list[float], list[float]]:
        bs = DiameterNode("bare-server.bench.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                          ip_addresses=["127.0.0.1"], accept_unknown_peers=True)

        async def on_ccr(req):
            return bare.build_cca(req, "bare-server.bench.realm")
        bs.add_application(bare.APP_CC, on_ccr)
        cs = DiameterNode("server.bench.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                          ip_addresses=["127.0.0.1"], accept_unknown_peers=True)
        CreditControlServer(cs, _memory_ocs(), tcc=60)
        await bs.start()
        await cs.start()
        bc = DiameterNode("bare-client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
        bc.add_application(bare.APP_CC)
        bc.add_peer("bare-server.bench.realm", addresses=["127.0.0.1"], port=bs.listen_ports[0], persistent=True)
        cn = DiameterNode("client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
        cn.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=cs.listen_ports[0], persistent=True)
        cc = CreditControlClient(cn, tx=10)
        for n in (bc, cn):
            await n.start()
        await bc.wait_open("bare-server.bench.realm", 10)
        await cn.wait_open("server.bench.realm", 10)
        want = Units(total_octets=1_000_000)
        used = Units(total_octets=500_000)
        seq = iter(range(1, 1 << 62))

        async def bare_worker(stop: float, count: list[int]) -> None:
            while time.perf_counter() < stop:
                ans = await bc.request(bare.build_ccr("bare-client.bench.realm", next(seq)))
                if ans.result_code != 2001:
                    raise RuntimeError(f"unexpected result {ans.result_code}")
                count[0] += 1

        async def cc_worker(stop: float, count: list[int]) -> None:
            while time.perf_counter() < stop:
                s = await cc.start(subscription_id="41780000001", requested=want, rating_group=100)
                for _ in range(UPDATES):
                    await s.update(used=used, requested=want)
                await s.terminate(used=used)
                count[0] += UPDATES + 2

        async def round_(worker) -> float:
            count = [0]
            c0 = time.process_time()
            stop = time.perf_counter() + seconds
            await asyncio.gather(*(worker(stop, count) for _ in range(inflight)))
            return (time.process_time() - c0) / max(count[0], 1) * 1e6
        await round_(bare_worker)  # warm-up
        await round_(cc_worker)
        b_runs, c_runs = [], []
        for _ in range(rounds):
            b_runs.append(await round_(bare_worker))
            c_runs.append(await round_(cc_worker))
        for n in (bc, cn, bs, cs):
            await n.stop(1)
        return b_runs, c_runs
    return asyncio.run(main())


def _memory_ocs():
    from diameter.cc import CCRequest, CCResult, Grant, Units

    class MemoryOcs:
        """Grants 1 MB per rating group and keeps per-session counters in a dict."""

        def __init__(self) -> None:
            self.used: dict[str, int] = {}

        def _grant(self, req: CCRequest) -> CCResult:
            total = self.used.get(req.session_id, 0)
            for m in req.mscc:
                for u in m.used:
                    total += u.total_octets or 0
            self.used[req.session_id] = total
            return CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=1_000_000), result_code=2001)
                                    for m in req.mscc])

        async def on_initial(self, req: CCRequest) -> CCResult:
            return self._grant(req)

        on_update = on_event = on_initial

        async def on_termination(self, req: CCRequest) -> CCResult:
            res = self._grant(req)
            self.used.pop(req.session_id, None)
            res.grants = []
            return res
    return MemoryOcs()


def run_cc(duration: float, inflight: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(bare.SRC) + os.pathsep + env.get("PYTHONPATH", "")
    port = bare.free_port()
    me = str(Path(__file__).resolve())
    srv = subprocess.Popen([sys.executable, me, "_server", str(port)], stdout=subprocess.PIPE, text=True,
                           env=env, cwd="/")
    try:
        line = srv.stdout.readline() if srv.stdout else ""
        if "READY" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        cpu0 = bare.cpu_of(srv.pid)
        out = subprocess.run([sys.executable, me, "_client", str(port), str(duration), str(inflight)],
                             capture_output=True, text=True, env=env, cwd="/", timeout=duration * 10 + 60)
        if out.returncode != 0:
            raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        server_cpu = bare.cpu_of(srv.pid) - cpu0
        res["server_cpu"] = server_cpu * res["elapsed"] / (res["elapsed"] + 0.5)
        res["cpu_us_per_req"] = (res["client_cpu"] + res["server_cpu"]) / max(res["requests"], 1) * 1e6
        return res
    finally:
        srv.kill()
        srv.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1, help="keep the lowest CPU per request of N runs each")
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--no-validate", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every run's CPU per request")
    ap.add_argument("--inproc", type=int, default=0, metavar="ROUNDS",
                    help="also run bare and cc in one process, alternating ROUNDS short rounds")
    args = ap.parse_args()
    if args.no_uvloop:
        os.environ["BENCH_NO_UVLOOP"] = "1"
    if args.no_validate:
        os.environ["BENCH_NO_VALIDATE"] = "1"
    rows = []
    best_bare = best_cc = None
    ratios = []
    for _ in range(max(args.repeat, 1)):  # interleaved, so both see the same machine load
        b = bare.run_scenario(sys.executable, True, "aio", "aio", args.duration, args.inflight)
        c = run_cc(args.duration, args.inflight)
        ratios.append(c["cpu_us_per_req"] / b["cpu_us_per_req"] - 1)
        if args.verbose:
            def split(r: dict) -> str:
                n = max(r["requests"], 1)
                return f"client {r['client_cpu'] / n * 1e6:.0f} + server {r['server_cpu'] / n * 1e6:.0f}"
            print(f"run: bare {b['cpu_us_per_req']:.1f} us/req ({split(b)}), cc {c['cpu_us_per_req']:.1f} us/req "
                  f"({split(c)}) ({c['cpu_us_per_req'] / b['cpu_us_per_req'] - 1:+.1%})", flush=True)
        if best_bare is None or b["cpu_us_per_req"] < best_bare["cpu_us_per_req"]:
            best_bare = b
        if best_cc is None or c["cpu_us_per_req"] < best_cc["cpu_us_per_req"]:
            best_cc = c
    assert best_bare is not None and best_cc is not None
    rows.append((f"bare node.request, {args.inflight} in flight", best_bare))
    rows.append((f"cc sessions (I, {UPDATES}U, T), {args.inflight} in flight", best_cc))
    print(f"{'scenario':44} {'req/s':>9} {'sess/s':>8} {'p50 ms':>8} {'CPU us/req':>11}")
    for name, r in rows:
        sess = f"{r['sessions'] / r['elapsed']:8.0f}" if "sessions" in r else f"{'-':>8}"
        print(f"{name:44} {r['rps']:9.0f} {sess} {r['p50_ms']:8.2f} {r['cpu_us_per_req']:11.1f}")
    overhead = best_cc["cpu_us_per_req"] / best_bare["cpu_us_per_req"] - 1
    print(f"session layer CPU overhead per request: {overhead * 100:+.1f}% (target <= +25%)")
    if args.inproc:
        b_runs, c_runs = inproc(args.inproc, 0.5, args.inflight)
        print(f"in one process, {args.inproc} alternating rounds: bare min {min(b_runs):.1f} / median "
              f"{statistics.median(b_runs):.1f} us/req, cc min {min(c_runs):.1f} / median "
              f"{statistics.median(c_runs):.1f} us/req: {min(c_runs) / min(b_runs) - 1:+.1%} (min), "
              f"{statistics.median(c_runs) / statistics.median(b_runs) - 1:+.1%} (median)")
    if len(ratios) > 1:
        ratios.sort()
        print(f"paired runs: median {statistics.median(ratios):+.1%}, range {ratios[0]:+.1%} .. {ratios[-1]:+.1%}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        serve_cc(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        print(json.dumps(client_cc(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
