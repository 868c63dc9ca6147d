"""Node benchmark: Gy CCR/CCA over loopback, client and server in separate processes.

Runs the same workload with our asyncio API, our threaded (python-diameter
compatible) API and python-diameter 0.9.0 itself, and prints requests/s,
p50/p99 latency, CPU per request and the ratios.

    python bench/node.py [--duration 4] [--inflight 16,256] [--ref-python PATH]

python-diameter runs under a separate interpreter: ``--ref-python``, else
/work/scratch/pdvenv/bin/python if present, else a venv created at
bench/.ref-venv with ``pip install python-diameter==0.9.0``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
REALM = "bench.realm"
APP_CC = 4

if __name__ != "__main__" or sys.argv[1:2] in (["_server"], ["_client"]):
    # the workload's classes, imported once (an import in build_ccr/build_cca is paid per request:
    # importlib's _handle_fromlist was 3-5 % of each process's profile); the driver needs none
    from diameter.message.commands.credit_control import (CreditControlRequest, GrantedServiceUnit,
                                                          RequestedServiceUnit, UsedServiceUnit)


# ---------------------------------------------------------------- workload ---
def build_ccr(origin: str, n: int):
    r = CreditControlRequest()
    r.session_id = f"{origin};1;{n}"
    r.origin_host = origin.encode()
    r.origin_realm = REALM.encode()
    r.destination_realm = REALM.encode()
    r.auth_application_id = APP_CC
    r.service_context_id = "32251@3gpp.org"
    r.cc_request_type = 2
    r.cc_request_number = n
    r.add_subscription_id(subscription_id_type=0, subscription_id_data="41780000001")
    r.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=1_000_000),
        used_service_unit=[UsedServiceUnit(cc_total_octets=500_000)], rating_group=100)
    return r


def build_cca(req, origin: str):
    a = req.to_answer()
    a.session_id = req.session_id
    a.origin_host = origin.encode()
    a.origin_realm = REALM.encode()
    a.auth_application_id = APP_CC
    a.result_code = 2001
    a.cc_request_type = req.cc_request_type
    a.cc_request_number = req.cc_request_number
    a.add_multiple_services_credit_control(
        granted_service_unit=GrantedServiceUnit(cc_total_octets=1_000_000), rating_group=100, result_code=2001)
    return a


def use_uvloop() -> bool:
    """Install uvloop when available and not disabled (BENCH_NO_UVLOOP=1)."""
    if os.environ.get("BENCH_NO_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    uvloop.install()
    return True


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_of(server_pid: int) -> float:
    """The server process's CPU seconds so far (0.0 without a pid)."""
    return cpu_of(server_pid) if server_pid else 0.0


def summarize(lat: list[float], count: int, elapsed: float, cpu: float) -> dict:
    lat.sort()
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0.0)
    return {"requests": count, "elapsed": elapsed, "rps": count / elapsed, "p50_ms": pick(0.50),
            "p99_ms": pick(0.99), "client_cpu": cpu}


# ------------------------------------------------------------------ servers ---
def serve_aio(port: int) -> None:
    import asyncio

    from diameter.node.aio import DiameterNode
    use_uvloop()

    async def main():
        node = DiameterNode("server.bench.realm", REALM, tcp_port=port, listen_addresses=["127.0.0.1"],
                            ip_addresses=["127.0.0.1"], accept_unknown_peers=True,
                            validate=not os.environ.get("BENCH_NO_VALIDATE"))
        async def on_ccr(req):  # a coroutine handler, as the native API is meant to be used
            return build_cca(req, "server.bench.realm")
        node.add_application(APP_CC, on_ccr)
        await node.start()
        print("READY", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())


def serve_threaded(port: int) -> None:
    """Our threaded Node API, or python-diameter's: same code, different package."""
    from diameter.node import Node
    from diameter.node.application import SimpleThreadingApplication
    node = Node("server.bench.realm", REALM, ip_addresses=["127.0.0.1"], tcp_port=port)
    node.validate_received_request_avps = not os.environ.get("BENCH_NO_VALIDATE")
    client_peer = node.add_peer("aaa://client.bench.realm")
    app = SimpleThreadingApplication(APP_CC, is_auth_application=True,
                                     request_handler=lambda app, req: build_cca(req, "server.bench.realm"))
    node.add_application(app, [client_peer])
    node.start()
    print("READY", flush=True)
    while True:
        time.sleep(3600)


# ------------------------------------------------------------------ clients ---
def client_aio(port: int, duration: float, inflight: int, server_pid: int = 0) -> dict:
    import asyncio

    from diameter.node.aio import DiameterNode
    use_uvloop()

    async def main():
        node = DiameterNode("client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
        node.add_application(APP_CC)
        node.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=port, persistent=True)
        await node.start()
        await node.wait_open("server.bench.realm", 10)
        lat: list[float] = []
        count = 0
        stop_at = 0.0
        seq = iter(range(1, 1 << 62))

        async def worker(record: bool):
            nonlocal count
            pc = time.perf_counter
            while pc() < stop_at:
                t0 = pc()
                ans = await node.request(build_ccr("client.bench.realm", next(seq)))
                if ans.result_code != 2001:
                    raise RuntimeError(f"unexpected result {ans.result_code}")
                if record:
                    lat.append(pc() - t0)
                    count += 1
        stop_at = time.perf_counter() + 0.5  # warm-up
        await asyncio.gather(*(worker(False) for _ in range(inflight)))
        s0 = server_cpu_of(server_pid)
        c0 = time.process_time()
        t0 = time.perf_counter()
        stop_at = t0 + duration
        await asyncio.gather(*(worker(True) for _ in range(inflight)))
        elapsed = time.perf_counter() - t0
        res = summarize(lat, count, elapsed, time.process_time() - c0)
        res["server_cpu"] = server_cpu_of(server_pid) - s0
        await node.stop(1)
        return res
    return asyncio.run(main())


def client_threaded(port: int, duration: float, inflight: int, server_pid: int = 0) -> dict:
    from diameter.node import Node
    from diameter.node.application import SimpleThreadingApplication
    node = Node("client.bench.realm", REALM, ip_addresses=["127.0.0.1"])
    peer = node.add_peer(f"aaa://server.bench.realm:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    app = SimpleThreadingApplication(APP_CC, is_auth_application=True)
    node.add_application(app, [peer])
    node.start()
    app.wait_for_ready(10)
    lock = threading.Lock()
    lat: list[float] = []
    counter = [0]
    seq = iter(range(1, 1 << 62))
    state = {"stop": 0.0, "record": False}

    def worker():
        pc = time.perf_counter
        while pc() < state["stop"]:
            with lock:
                n = next(seq)
            t0 = pc()
            ans = app.send_request(build_ccr("client.bench.realm", n), timeout=10)
            if ans.result_code != 2001:
                raise RuntimeError(f"unexpected result {ans.result_code}")
            if state["record"]:
                with lock:
                    lat.append(pc() - t0)
                    counter[0] += 1

    def run(record: bool, secs: float):
        state["record"] = record
        state["stop"] = time.perf_counter() + secs
        ts = [threading.Thread(target=worker) for _ in range(inflight)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    run(False, 0.5)
    s0 = server_cpu_of(server_pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    run(True, duration)
    elapsed = time.perf_counter() - t0
    res = summarize(lat, counter[0], elapsed, time.process_time() - c0)
    res["server_cpu"] = server_cpu_of(server_pid) - s0
    node.stop(wait_timeout=2)
    return res


# ------------------------------------------------------------------ driver ---
def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pair_run(server_cmd: list[str], client_cmd: list[str], env: dict, client_timeout: float,
             stop_wait: float, server_stderr=None) -> tuple[dict, int]:
    """Start a server process (it prints READY when listening), run a client process to its
    end (an argument ``{server_pid}`` becomes the server's pid) and return the client's last
    JSON line and the server's pid; the server is stopped with SIGTERM (killed after
    ``stop_wait`` seconds)."""
    srv = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True, env=env, stderr=server_stderr)
    try:
        line = srv.stdout.readline() if srv.stdout else ""
        if "READY" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        client_cmd = [str(srv.pid) if a == "{server_pid}" else a for a in client_cmd]
        out = subprocess.run(client_cmd, capture_output=True, text=True, env=env, timeout=client_timeout)
        if out.returncode != 0:
            raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1]), srv.pid
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(stop_wait)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def ref_python(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    pd = Path("/work/scratch/pdvenv/bin/python")
    if pd.exists():
        return str(pd)
    venv = HERE / ".ref-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", "python-diameter==0.9.0"], check=True)
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"cannot create the python-diameter venv: {exc}", file=sys.stderr)
            return None
    return str(py)


def run_scenario(python: str, ours: bool, server_kind: str, client_kind: str, duration: float,
                 inflight: int) -> dict:
    env = dict(os.environ)
    if ours:
        env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    else:
        env.pop("PYTHONPATH", None)
    port = free_port()
    srv = subprocess.Popen([python, str(Path(__file__).resolve()), "_server", server_kind, str(port)],
                           stdout=subprocess.PIPE, text=True, env=env, cwd="/")
    try:
        line = srv.stdout.readline()
        if "READY" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        # the client reads the server's CPU time (/proc) at the start and end of its measured
        # window, so warm-up, connection set-up and stop are counted on neither side
        out = subprocess.run([python, str(Path(__file__).resolve()), "_client", client_kind, str(port),
                              str(duration), str(inflight), str(srv.pid)], capture_output=True, text=True,
                             env=env, cwd="/", timeout=duration * 10 + 60)
        if out.returncode != 0:
            raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["cpu_us_per_req"] = (res["client_cpu"] + res["server_cpu"]) / max(res["requests"], 1) * 1e6
        return res
    finally:
        srv.kill()
        srv.wait()


def best_of(n: int, *args) -> dict:
    runs = [run_scenario(*args) for _ in range(max(n, 1))]
    return max(runs, key=lambda r: r["rps"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--inflight", default="16,256")
    ap.add_argument("--ref-python")
    ap.add_argument("--skip-ref", action="store_true")
    ap.add_argument("--no-uvloop", action="store_true", help="pure asyncio event loop")
    ap.add_argument("--no-validate", action="store_true",
                    help="our servers skip request validation (on by default)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each scenario N times and keep the fastest (for shared, noisy machines)")
    args = ap.parse_args()
    inflights = [int(x) for x in args.inflight.split(",")]
    if args.no_uvloop:
        os.environ["BENCH_NO_UVLOOP"] = "1"
        os.environ["DIAMETER_NO_UVLOOP"] = "1"  # the threaded Node's loop
    if args.no_validate:
        os.environ["BENCH_NO_VALIDATE"] = "1"
    try:
        import uvloop  # noqa: F401
        loop_name = "asyncio" if args.no_uvloop else "uvloop"
    except ImportError:
        loop_name = "asyncio"
    sys.path.insert(0, str(HERE))
    from _machine import describe
    print(describe(uvloop_used=loop_name == "uvloop"), flush=True)
    rows = []
    for n in inflights:
        rows.append((f"ours asyncio API ({loop_name}), {n} in flight", best_of(args.repeat, sys.executable, True, "aio", "aio",
                                                                       args.duration, n)))
    rows.append((f"ours threaded API (Node, {loop_name}), 16 threads",
                 best_of(args.repeat, sys.executable, True, "threaded", "threaded", args.duration, 16)))
    ref = None
    if not args.skip_ref:
        py = ref_python(args.ref_python)
        if py:
            ref = best_of(args.repeat, py, False, "threaded", "threaded", args.duration, 16)
            rows.append(("python-diameter 0.9.0, 16 threads", ref))
    print(f"{'scenario':48} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'vs pd':>7}")
    for name, r in rows:
        ratio = f"{r['rps'] / ref['rps']:.1f}x" if ref else "-"
        print(f"{name:48} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['cpu_us_per_req']:11.0f} "
              f"{ratio:>7}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        {"aio": serve_aio, "threaded": serve_threaded}[sys.argv[2]](int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        fn = {"aio": client_aio, "threaded": client_threaded}[sys.argv[2]]
        print(json.dumps(fn(int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))))
    else:
        main()
