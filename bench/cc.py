"""Credit-control benchmark: full sessions (CCR-I, 3 CCR-U, CCR-T) between two processes.

Two process pairs run side by side: the bare ``node.request`` path of bench/node.py (a coroutine
handler answering a typed CCA; the client sends typed CCRs) and the session layer
(``CreditControlClient`` sessions against a ``CreditControlServer`` granting from memory), the
same number in flight. Short rounds alternate between the pairs (the other pair idles), so both
see the same machine load; each round's CPU is the ``process_time`` of its client and server
process, divided by the requests answered. Printed: the machine, each path's median (and min)
CPU per request, and the median of the per-round-pair overhead of the session layer
(target: at most +25%), with uvloop and with the asyncio loop.

    python bench/cc.py [--rounds 12] [--round-seconds 0.5] [--inflight 16] [--loops uvloop,asyncio]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import node as bare  # noqa: E402  (bench/node.py: the bare workload and its plumbing)

REALM = bare.REALM
UPDATES = 3
ME = str(Path(__file__).resolve())


# ------------------------------------------------------------- processes ---
def _cpu_reporter() -> None:
    """Answer every line on stdin with this process's CPU time (a thread: costs nothing idle)."""
    def run() -> None:
        for _ in sys.stdin:
            print(f"CPU {time.process_time():.6f}", flush=True)
    threading.Thread(target=run, daemon=True).start()


def serve(kind: str, port: int) -> None:
    import asyncio

    from diameter.node.aio import DiameterNode
    bare.use_uvloop()

    async def main() -> None:
        node = DiameterNode("server.bench.realm", REALM, tcp_port=port, listen_addresses=["127.0.0.1"],
                            ip_addresses=["127.0.0.1"], accept_unknown_peers=True,
                            validate=not os.environ.get("BENCH_NO_VALIDATE"))
        if kind == "cc":
            from diameter.cc import CreditControlServer
            CreditControlServer(node, _memory_ocs(), tcc=60)
        else:
            async def on_ccr(req):  # as bench/node.py's server
                return bare.build_cca(req, "server.bench.realm")
            node.add_application(bare.APP_CC, on_ccr)
        await node.start()
        _cpu_reporter()
        print("READY", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())


def client(kind: str, port: int, inflight: int) -> None:
    """Run a round per ``ROUND seconds`` line on stdin; print its JSON result."""
    import asyncio

    from diameter.cc import Units
    from diameter.cc.client import CreditControlClient
    from diameter.cc.client_core import Decision
    from diameter.node.aio import DiameterNode
    bare.use_uvloop()

    async def main() -> None:
        node = DiameterNode("client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
        node.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=port, persistent=True)
        if kind == "cc":
            cc = CreditControlClient(node, tx=10)
        else:
            node.add_application(bare.APP_CC)
        await node.start()
        await node.wait_open("server.bench.realm", 10)
        want = Units(total_octets=1_000_000)
        used = Units(total_octets=500_000)
        seq = iter(range(1, 1 << 62))
        pc = time.perf_counter

        async def bare_worker(stop: float, count: list[int]) -> None:
            while pc() < stop:
                ans = await node.request(bare.build_ccr("client.bench.realm", next(seq)))
                if ans.result_code != 2001:
                    raise RuntimeError(f"unexpected result {ans.result_code}")
                count[0] += 1

        async def cc_worker(stop: float, count: list[int]) -> None:
            while pc() < stop:
                s = await cc.start(subscription_id="41780000001", requested=want, rating_group=100)
                if s.outcome.decision is not Decision.GRANTED:
                    raise RuntimeError(f"CCR-I: {s.outcome}")
                for _ in range(UPDATES):
                    o = await s.update(used=used, requested=want)
                    if o.decision is not Decision.GRANTED:
                        raise RuntimeError(f"CCR-U: {o}")
                o = await s.terminate(used=used)
                if o.result_code != 2001:
                    raise RuntimeError(f"CCR-T: {o}")
                count[0] += UPDATES + 2
        worker = cc_worker if kind == "cc" else bare_worker
        loop = asyncio.get_running_loop()
        print("READY", flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.startswith("ROUND"):
                break
            count = [0]
            c0, t0 = time.process_time(), pc()
            await asyncio.gather(*(worker(t0 + float(line.split()[1]), count) for _ in range(inflight)))
            print(json.dumps({"requests": count[0], "elapsed": pc() - t0, "cpu": time.process_time() - c0}),
                  flush=True)
        await node.stop(1)
    asyncio.run(main())


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


# ---------------------------------------------------------------- driver ---
class Pair:
    """A server process and a client process of one kind, driven round by round."""

    def __init__(self, kind: str, inflight: int, env: dict[str, str]) -> None:
        self.kind = kind
        port = bare.free_port()
        opts = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True, "env": env, "cwd": "/"}
        self.server = subprocess.Popen([sys.executable, ME, "_server", kind, str(port)], **opts)
        self._expect(self.server, "READY")
        self.client = subprocess.Popen([sys.executable, ME, "_client", kind, str(port), str(inflight)], **opts)
        self._expect(self.client, "READY")

    @staticmethod
    def _expect(p: subprocess.Popen, word: str) -> str:
        line = p.stdout.readline() if p.stdout else ""
        if not line.startswith(word):
            raise RuntimeError(f"benchmark process said {line!r}, expected {word}")
        return line

    def _server_cpu(self) -> float:
        assert self.server.stdin is not None
        self.server.stdin.write("cpu\n")
        self.server.stdin.flush()
        return float(self._expect(self.server, "CPU").split()[1])

    def round(self, seconds: float) -> dict:
        assert self.client.stdin is not None and self.client.stdout is not None
        s0 = self._server_cpu()
        self.client.stdin.write(f"ROUND {seconds}\n")
        self.client.stdin.flush()
        line = self.client.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"{self.kind} client failed: {line!r}")
        r = json.loads(line)
        r["server_cpu"] = self._server_cpu() - s0
        n = max(r["requests"], 1)
        r["us"] = (r["cpu"] + r["server_cpu"]) / n * 1e6
        r["client_us"], r["server_us"] = r["cpu"] / n * 1e6, r["server_cpu"] / n * 1e6
        r["rps"] = r["requests"] / r["elapsed"]
        return r

    def close(self) -> None:
        for p in (self.client, self.server):
            try:
                if p.stdin:
                    p.stdin.close()
                p.wait(3)
            except (subprocess.TimeoutExpired, OSError):
                p.kill()
                p.wait()


def compare(rounds: int, seconds: float, inflight: int, verbose: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(bare.SRC) + os.pathsep + env.get("PYTHONPATH", "")
    pairs = {k: Pair(k, inflight, env) for k in ("bare", "cc")}
    try:
        for p in pairs.values():  # warm-up
            p.round(min(seconds, 0.5))
        runs: dict[str, list[dict]] = {"bare": [], "cc": []}
        for i in range(rounds):
            order = ("bare", "cc") if i % 2 == 0 else ("cc", "bare")
            for k in order:
                runs[k].append(pairs[k].round(seconds))
            if verbose:
                b, c = runs["bare"][-1], runs["cc"][-1]
                print(f"  round {i + 1}: bare {b['us']:.1f} us/req (client {b['client_us']:.0f} + server "
                      f"{b['server_us']:.0f}, {b['rps']:.0f} req/s), cc {c['us']:.1f} us/req (client "
                      f"{c['client_us']:.0f} + server {c['server_us']:.0f}, {c['rps']:.0f} req/s): "
                      f"{c['us'] / b['us'] - 1:+.1%}", flush=True)
    finally:
        for p in pairs.values():
            p.close()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--round-seconds", type=float, default=0.5)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--loops", default="uvloop,asyncio", help="event loops to run, in order")
    ap.add_argument("--no-validate", action="store_true", help="servers skip request validation")
    ap.add_argument("--verbose", action="store_true", help="print every round")
    args = ap.parse_args()
    if args.no_validate:
        os.environ["BENCH_NO_VALIDATE"] = "1"
    from _machine import describe, uvloop_version
    for loop in args.loops.split(","):
        if loop == "uvloop" and uvloop_version() is None:
            print("uvloop not installed: skipped")
            continue
        if loop == "uvloop":
            os.environ.pop("BENCH_NO_UVLOOP", None)
        else:
            os.environ["BENCH_NO_UVLOOP"] = "1"
        print(describe(uvloop_used=loop == "uvloop"), flush=True)
        runs = compare(args.rounds, args.round_seconds, args.inflight, args.verbose)
        b, c = runs["bare"], runs["cc"]
        ratios = sorted(y["us"] / x["us"] - 1 for x, y in zip(b, c))
        print(f"{'scenario':40} {'req/s':>8} {'sess/s':>7} {'CPU us/req median':>18} {'min':>7}")
        for name, rs, per in ((f"bare node.request, {args.inflight} in flight", b, 0),
                              (f"cc sessions (I, {UPDATES}U, T), {args.inflight} in flight", c, UPDATES + 2)):
            rps = statistics.median(r["rps"] for r in rs)
            sess = f"{rps / per:7.0f}" if per else f"{'-':>7}"
            print(f"{name:40} {rps:8.0f} {sess} {statistics.median(r['us'] for r in rs):18.1f} "
                  f"{min(r['us'] for r in rs):7.1f}")
        print(f"session layer CPU overhead per request ({loop}, {len(ratios)} alternating round pairs): median "
              f"{statistics.median(ratios):+.1%}, range {ratios[0]:+.1%} .. {ratios[-1]:+.1%} (target <= +25%)",
              flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
