"""Our servers against freeDiameter's own, driven by freeDiameter's test_app benchmark client.

In one run, freeDiameter's test_app client in benchmark mode (``--inflight``
requests in flight for ``--duration`` seconds, Test-Request of application
16777215) is pointed in turn at:

  (a) freeDiameter's own test_app server (a second freeDiameterd),
  (b) a server written with our asyncio API (``DiameterNode``, a plain handler),
  (c) a server written with our threaded python-diameter-style API (``Node`` and a
      base ``Application`` answering inline in ``handle_request``),

with request validation on in ours. Prints successful answers/s as test_app
logs them, CPU per request, and each rate's ratio to freeDiameter's own server
(issue 12's targets: asyncio >= 1.0x, threaded >= 0.8x).

    python bench/vs_freediameter.py [--duration 10] [--inflight 100] [--repeat 1] [--src PATH]

test_app.fdx comes from tools/build_fd_test_app.sh (built once from Debian's
freeDiameter source package; needs root or the packages it names).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from _machine import describe  # noqa: E402
from interop.fd_test_app import (TEST_APP_ID, TEST_AVP, TEST_VENDOR_ID, app_config,  # noqa: E402
                                 build_test_app, run_bench)
from interop.freediameter import ConnectPeer, FreeDiameter, free_tcp_port  # noqa: E402

SERVER, SERVER_REALM = "server.srv.bench", "srv.bench"
CLIENT, CLIENT_REALM = "client.fd.bench", "fd.bench"


# ------------------------------------------------------------------ servers ---
def _use_uvloop() -> bool:
    if os.environ.get("BENCH_NO_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    uvloop.install()
    return True


def serve_aio(port: int) -> None:
    """test_app's server with our asyncio API: a plain handler echoing Test-AVP."""
    import asyncio

    from diameter.node.aio import DiameterNode
    _use_uvloop()
    key = (TEST_AVP, TEST_VENDOR_ID)

    def on_test_request(req):
        ans = req.to_answer()
        ans.session_id = req.session_id
        ans.result_code = 2001
        ans.origin_host = SERVER.encode()
        ans.origin_realm = SERVER_REALM.encode()
        for avp in req.find_avps(key):
            ans.append_avp(avp)
        return ans

    async def main() -> None:
        node = DiameterNode(SERVER, SERVER_REALM, tcp_port=port, listen_addresses=["127.0.0.1"],
                            ip_addresses=["127.0.0.1"],
                            validate=not os.environ.get("BENCH_NO_VALIDATE"))
        node.add_application(TEST_APP_ID, on_test_request, vendor_id=TEST_VENDOR_ID)
        node.add_peer(CLIENT, CLIENT_REALM)
        await node.start()
        print("READY", flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())


def serve_threaded(port: int) -> None:
    """test_app's server with our threaded API, as python-diameter code would write it."""
    from diameter.node import Node
    from diameter.node.application import Application
    key = (TEST_AVP, TEST_VENDOR_ID)

    class TestApplication(Application):
        def handle_request(self, message):
            answer = self.generate_answer(message, 2001)
            for avp in message.find_avps(key):
                answer.append_avp(avp)
            self.send_answer(answer)

    node = Node(SERVER, SERVER_REALM, ip_addresses=["127.0.0.1"], tcp_port=port)
    node.validate_received_request_avps = not os.environ.get("BENCH_NO_VALIDATE")
    peer = node.add_peer(f"aaa://{CLIENT}")
    node.add_application(TestApplication(TEST_APP_ID, is_auth_application=True), [peer])
    node.start()
    print("READY", flush=True)
    while True:
        time.sleep(3600)


# ------------------------------------------------------------------- driver ---
def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenario(kind: str, fdx: Path, workdir: Path, duration: int, inflight: int) -> dict:
    port = free_tcp_port()
    work = workdir / f"{kind}-{port}"
    server_fd: FreeDiameter | None = None
    proc: subprocess.Popen[str] | None = None
    client: FreeDiameter | None = None
    try:
        if kind == "freediameter":
            server_fd = FreeDiameter(work / "server", SERVER, SERVER_REALM, port=port,
                                     allow=[f"*.{CLIENT_REALM}"],
                                     extra_config=app_config(work / "server-ta", fdx, mode="server",
                                                             bench=(duration, inflight))).start()
            server_pid = server_fd.pid
        else:
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                [os.environ.get("BENCH_SRC") or str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_server", kind,
                                     str(port)], stdout=subprocess.PIPE, text=True, env=env, cwd="/")
            line = proc.stdout.readline() if proc.stdout else ""
            if "READY" not in line:
                raise RuntimeError(f"{kind} server did not start: {line!r}")
            server_pid = proc.pid
        client = FreeDiameter(work / "client", CLIENT, CLIENT_REALM,
                              peers=[ConnectPeer(SERVER, port, realm=SERVER_REALM)],
                              extra_config=app_config(work / "client-ta", fdx, mode="client",
                                                      dest_realm=SERVER_REALM,
                                                      bench=(duration, inflight))).start()
        client.wait_peer_state(SERVER, "STATE_OPEN", 15)
        assert server_pid is not None and client.pid is not None
        s0, c0 = cpu_of(server_pid), cpu_of(client.pid)
        res = run_bench(client, duration, timeout=30)
        s1, c1 = cpu_of(server_pid), cpu_of(client.pid)
        n = max(res.final_answers + res.final_errors, 1)
        return {"kind": kind, "rate": res.rate, "sent": res.sent, "answers": res.answers,
                "errors": res.final_errors, "unanswered": res.sent - res.final_answers - res.final_errors,
                "seconds": res.seconds,
                "server_cpu_us": (s1 - s0) / n * 1e6, "client_cpu_us": (c1 - c0) / n * 1e6}
    finally:
        if client is not None:
            client.stop()
        if server_fd is not None:
            server_fd.stop()
        if proc is not None:
            proc.kill()
            proc.wait()


LABELS = {
    "freediameter": "freeDiameter test_app server (C)",
    "aio": "ours, asyncio API (DiameterNode)",
    "threaded": "ours, threaded API (Node + Application)",
}
TARGETS = {"aio": 1.0, "threaded": 0.8}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds of each benchmark (test_app's)")
    ap.add_argument("--inflight", type=int, default=100, help="test_app's concurrency")
    ap.add_argument("--repeat", type=int, default=1, help="runs per server; the best is kept")
    ap.add_argument("--only", default="freediameter,aio,threaded",
                    help="comma-separated servers to run: freediameter, aio (or asyncio), threaded")
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--no-validate", action="store_true", help="our servers skip validation")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    ap.add_argument("--src", help="the diameter source tree our servers run from (default: this checkout's)")
    args = ap.parse_args()
    kinds = ["aio" if k.strip() == "asyncio" else k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in LABELS]
    if unknown or not kinds:
        ap.error(f"--only: unknown server {', '.join(unknown) or '(none)'}; choose from {', '.join(LABELS)}")
    if args.no_uvloop:
        os.environ["BENCH_NO_UVLOOP"] = "1"
        os.environ["DIAMETER_NO_UVLOOP"] = "1"
    if args.no_validate:
        os.environ["BENCH_NO_VALIDATE"] = "1"
    if args.src:
        os.environ["BENCH_SRC"] = str(Path(args.src).resolve())
    fdx = build_test_app()
    print(describe(uvloop_used=not args.no_uvloop))
    print(f"freeDiameter test_app client, benchmark mode: {args.inflight} in flight, "
          f"{args.duration} s per run, best of {args.repeat}; validation "
          f"{'off' if args.no_validate else 'on'} in ours" + (f"; ours from {args.src}" if args.src else ""))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="vs-fd-") as tmp:
        for _ in range(max(args.repeat, 1)):
            for kind in kinds:
                r = run_scenario(kind, fdx, Path(tmp), args.duration, args.inflight)
                if kind not in results or r["rate"] > results[kind]["rate"]:
                    results[kind] = r
    ref = results.get("freediameter")
    print(f"{'server':42} {'answers/s':>10} {'errors':>7} {'lost':>5} {'srv CPU us/req':>15} "
          f"{'fd client CPU':>14} {'vs freeDiameter':>16}")
    for kind, r in results.items():
        ratio = f"{r['rate'] / ref['rate']:.2f}x" if ref and ref["rate"] else "-"
        if kind in TARGETS and ref:
            ratio += f" (>= {TARGETS[kind]:.1f}x)"
        print(f"{LABELS[kind]:42} {r['rate']:10.0f} {r['errors']:7d} {r['unanswered']:5d} "
              f"{r['server_cpu_us']:15.1f} {r['client_cpu_us']:14.1f} {ratio:>16}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        {"aio": serve_aio, "threaded": serve_threaded}[sys.argv[2]](int(sys.argv[3]))
    else:
        main()
