"""The threaded API's hand-offs between threads, per request: bench/node.py's threaded scenario
(a ``SimpleThreadingApplication`` server, 16 client threads calling ``send_request``), each side
counted in its own process.

For each side: requests/s, CPU per request (user and system), context switches per request
(voluntary: a thread blocked, e.g. on its answer or the GIL; involuntary: preempted),
loop wake-ups per request (batches of calls handed from other threads to the event-loop
thread, ``Inbox`` drains) and worker wake-ups per request (``_WorkerPool``).

    python bench/threaded_handoffs.py [--duration 3] [--src PATH]
    python bench/threaded_handoffs.py --count 1800 --valgrind client   # instructions, callgrind

``--count N``: N requests, then exit; ``--valgrind SIDE`` runs that side under
``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``) and prints its instruction count: the
difference of two counts divided by the difference of the request counts is that side's
instructions per request, steady on a shared machine for the client (the server slowed down
by valgrind runs timer work in proportion to the run's length: its counts do not difference
cleanly).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COUNTS = {"drains": 0, "worker_wakes": 0}


def _count_handoffs() -> None:
    """Count the adapter's loop wake-ups and worker wake-ups (wrapping two methods)."""
    from diameter.node import application as A
    from diameter.node import threads as N
    drain, wake = N.Inbox._drain, A._WorkerPool._wake_one

    def counted_drain(self):  # type: ignore[no-untyped-def]
        COUNTS["drains"] += 1
        return drain(self)

    def counted_wake(self):  # type: ignore[no-untyped-def]
        COUNTS["worker_wakes"] += 1
        return wake(self)
    N.Inbox._drain, A._WorkerPool._wake_one = counted_drain, counted_wake


def _usage() -> tuple[int, int, float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)   # all threads of the process, ended ones too
    return r.ru_nvcsw, r.ru_nivcsw, r.ru_utime, r.ru_stime


def _per_request(side: str, n: int, u0: tuple, u1: tuple, extra: dict) -> dict:
    k = max(n, 1)
    return {"side": side, "requests": n, "vcsw": (u1[0] - u0[0]) / k, "ivcsw": (u1[1] - u0[1]) / k,
            "user_us": (u1[2] - u0[2]) / k * 1e6, "sys_us": (u1[3] - u0[3]) / k * 1e6,
            **{name: v / k for name, v in COUNTS.items()}, **extra}


def server(port: int, count_handoffs: bool) -> None:
    """bench/node.py's threaded server; stdin lines mark the measured part and the end."""
    import node as bn
    from diameter.node import Node
    from diameter.node.application import SimpleThreadingApplication
    if count_handoffs:
        _count_handoffs()
    served = [0]

    def handle(app, req):  # type: ignore[no-untyped-def]
        served[0] += 1
        return bn.build_cca(req, "server.bench.realm")
    node = Node("server.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"], tcp_port=port)
    app = SimpleThreadingApplication(bn.APP_CC, is_auth_application=True, request_handler=handle)
    node.add_application(app, [node.add_peer("aaa://client.bench.realm")])
    node.start()
    print("READY", flush=True)
    sys.stdin.readline()
    COUNTS.update(dict.fromkeys(COUNTS, 0))
    u0, n0 = _usage(), served[0]
    sys.stdin.readline()
    print(json.dumps(_per_request("server", served[0] - n0, u0, _usage(), {})), flush=True)
    os._exit(0)


def client(port: int, duration: float, count: int, count_handoffs: bool) -> None:
    """bench/node.py's threaded client: 16 threads, each sending its next request when answered."""
    import node as bn
    from diameter.node import Node
    from diameter.node.application import SimpleThreadingApplication
    if count_handoffs:
        _count_handoffs()
    node = Node("client.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"])
    peer = node.add_peer(f"aaa://server.bench.realm:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    app = SimpleThreadingApplication(bn.APP_CC, is_auth_application=True)
    node.add_application(app, [peer])
    node.start()
    app.wait_for_ready(60)
    lock = threading.Lock()
    seq = iter(range(1, 1 << 62))
    done = [0]
    stop = [0.0]

    def worker() -> None:
        while time.perf_counter() < stop[0]:
            with lock:
                n = next(seq)
                if count and n > count:
                    return
            if app.send_request(bn.build_ccr("client.bench.realm", n), timeout=60).result_code != 2001:
                raise RuntimeError("unexpected answer")
            with lock:
                done[0] += 1

    def run(secs: float) -> None:
        stop[0] = time.perf_counter() + secs
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if not count:
        run(0.5)   # warm-up
    print("MARK", flush=True)
    COUNTS.update(dict.fromkeys(COUNTS, 0))
    u0, n0, t0 = _usage(), done[0], time.perf_counter()
    run(duration if not count else 1e9)
    elapsed = time.perf_counter() - t0
    u1 = _usage()
    print(json.dumps(_per_request("client", done[0] - n0, u0, u1, {"rps": (done[0] - n0) / elapsed})), flush=True)
    node.stop(wait_timeout=2)
    os._exit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--count", type=int, default=0, help="send this many requests instead (for callgrind)")
    ap.add_argument("--valgrind", choices=("client", "server"), help="run this side under callgrind")
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the diameter source tree to measure")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _machine import describe
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([args.src, str(HERE)]), PYTHONHASHSEED="0")
    me = [sys.executable, str(Path(__file__).resolve())]
    out = f"/tmp/threaded-handoffs.{os.getpid()}.callgrind"

    def cmd(side: str, *rest: str) -> list[str]:
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] if args.valgrind == side else []
        return vg + me + ["_" + side, *rest, "count" if not args.valgrind else "plain"]
    if not args.valgrind:
        print(describe(), flush=True)
    srv = subprocess.Popen(cmd("server", str(port)), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, cwd="/")
    try:
        if "READY" not in (srv.stdout.readline() if srv.stdout else ""):
            raise RuntimeError("server did not start")
        cl = subprocess.Popen(cmd("client", str(port), str(args.duration), str(args.count)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd="/")
        assert cl.stdout is not None and srv.stdin is not None and srv.stdout is not None
        rows = []
        for line in cl.stdout:
            if line.startswith("MARK") or line.startswith("{"):
                srv.stdin.write("x\n")
                srv.stdin.flush()
            if line.startswith("{"):
                rows.append(json.loads(line))
        cl.wait()
        rows.append(json.loads(srv.stdout.readline()))
        srv.wait(60 if args.valgrind else 10)
        if args.valgrind:
            err = (cl.stderr if args.valgrind == "client" else srv.stderr)
            collected = [ln for ln in (err.read() if err else "").splitlines() if "Collected" in ln]
            print(f"{args.valgrind} instructions, {args.count} requests: {collected[0].split()[-1]}")
            return
    finally:
        srv.kill()
    print(f"{'side':8} {'req/s':>7} {'user us':>8} {'sys us':>7} {'vol. cs':>8} {'invol. cs':>9} "
          f"{'loop wake-ups':>13} {'worker wakes':>12}   (per request)")
    for r in rows:
        print(f"{r['side']:8} {r.get('rps', rows[0]['rps']):7.0f} {r['user_us']:8.1f} {r['sys_us']:7.1f} "
              f"{r['vcsw']:8.2f} {r['ivcsw']:9.2f} {r['drains']:13.3f} {r['worker_wakes']:12.3f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        server(int(sys.argv[2]), sys.argv[3] == "count")
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        client(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "count")
    else:
        main()
