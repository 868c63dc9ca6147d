"""Where a request's CPU goes: the Gy workload of bench/node.py, stage by stage.

Three views of the same request path (asyncio API, validation on):

1. end to end, no profiler: CPU per request of client and server processes
   (bench/node.py's scenario: a Gy CCR-Update / CCA, ``--inflight`` in flight);
2. each stage alone, no profiler: the codec, validation and handler steps the
   node runs for one request, timed (CPU time, best of 5) on the same bytes
   (client: build, encode, decode the answer; server: framing, validate, decode,
   handler, encode). What is left of (1) is the node's own work plus the event
   loop and the sockets;
3. both processes under cProfile: self time per layer (codec core, message
   classes, validation, node sans-IO, node asyncio, event loop and I/O, ...),
   as a share of each process's profiled time, to split that remainder.

    python bench/profile_node.py [--duration 3] [--inflight 16] [--markdown]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

import node as bench_node  # noqa: E402  (bench/node.py: the workload and the scenario runner)
from _machine import describe  # noqa: E402


# ------------------------------------------------------------ stage timings ---
def _time(fn, n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(5):          # CPU time, best of 5: a shared machine only ever adds time
        t0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t0) / n)
    return best * 1e6


def stage_timings(n: int = 5000) -> list[tuple[str, str, float]]:
    """(side, stage, microseconds) for each codec/validation/handler step of one request."""
    from diameter.message import Message
    from diameter.node.protocol.framing import FrameDecoder
    from diameter.validation import validate
    from diameter.validation.dialects import dialect
    rules = dialect("3gpp").rules
    req = bench_node.build_ccr("client.bench.realm", 7)
    data = req.as_bytes()
    ans = bench_node.build_cca(Message.from_bytes(data), "server.bench.realm")
    adata = ans.as_bytes()
    frames = FrameDecoder()
    decode_us = _time(lambda: Message.from_bytes(data), n)
    # the handler gets a decoded request: its attribute reads decode the AVPs (lazily),
    # which a handler timed on a built request would not pay
    handler_us = _time(lambda: bench_node.build_cca(Message.from_bytes(data), "server.bench.realm"), n) - decode_us
    return [
        ("client", "build the CCR object (user code)",
         _time(lambda: bench_node.build_ccr("client.bench.realm", 7), n)),
        ("client", "encode the CCR (as_bytes)", _time(req.as_bytes, n)),
        ("client", "decode the CCA + read Result-Code",
         _time(lambda: Message.from_bytes(adata).result_code, n)),
        ("server", "framing (FrameDecoder.feed)", _time(lambda: frames.feed(data), n)),
        ("server", "validate the CCR (3gpp grammar)", _time(lambda: validate(data, rules), n)),
        ("server", "decode the CCR (Message.from_bytes)", decode_us),
        ("server", "handler: read the decoded CCR's attributes, build the CCA (user code)", handler_us),
        ("server", "encode the CCA (as_bytes)", _time(ans.as_bytes, n)),
    ]


# ------------------------------------------------------------ profiled runs ---
LAYERS = [
    ("codec core (compiled)", ("diameter.codec.core", "native__mypyc", "diameter.codec.frame",
                               "diameter.codec.typed", "diameter.codec.objects",
                               "diameter.codec.grammar")),
    ("codec (Python)", ("/diameter/codec/",)),
    ("message classes", ("/diameter/message/",)),
    ("dictionary", ("/diameter/dictionary/",)),
    ("validation", ("/diameter/validation/",)),
    ("node sans-IO (node/protocol)", ("/diameter/node/protocol/",)),
    ("node asyncio (node/aio)", ("/diameter/node/aio/",)),
    ("node other", ("/diameter/node/",)),
    ("workload: build request / answer (user code)", ("/bench/node.py",)),
    ("event loop and socket I/O (asyncio, uvloop)",
     ("asyncio/", "uvloop", "selectors", "_asyncio", "Future", "Task", "call_soon", "create_future",
      "get_running_loop", "set_result", "run_until_complete", "socket", "'write'", "'send", "'recv",
      "writelines")),
]


def layer_of(func: tuple[str, int, str]) -> str:
    filename, _line, name = func
    key = f"{filename}:{name}"
    for layer, marks in LAYERS:
        if any(m in key for m in marks):
            return layer
    return "other (builtins, struct, logging...)"


def top_functions(path: Path, layer: str, n: int = 8) -> list[tuple[str, float]]:
    """The functions of ``layer`` with the most self time (name, share of the total)."""
    st = pstats.Stats(str(path))
    total = sum(v[2] for v in st.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = [(f"{Path(f[0]).name}:{f[2]}", v[2] / total)
            for f, v in st.stats.items() if layer_of(f) == layer]  # type: ignore[attr-defined]
    return sorted(rows, key=lambda r: -r[1])[:n]


def profile_breakdown(path: Path, per: str) -> tuple[dict[str, float], int, float]:
    """Self time per layer (seconds), the number of requests (calls of ``per``), total time."""
    st = pstats.Stats(str(path))
    layers: dict[str, float] = {}
    calls = 0
    total = 0.0
    for func, (_cc, nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        layers[layer_of(func)] = layers.get(layer_of(func), 0.0) + tt
        total += tt
        if func[2] == per:
            calls = max(calls, nc)
    return layers, calls, total


def _warm_up() -> None:
    """Import and build everything once, so that the profile holds requests, not imports."""
    import asyncio  # noqa: F401

    import diameter.node.aio  # noqa: F401
    from diameter.message import Message
    from diameter.validation import validate
    from diameter.validation.dialects import dialect
    bench_node.use_uvloop()
    data = bench_node.build_ccr("client.bench.realm", 1).as_bytes()
    validate(data, dialect("3gpp").rules)
    answer = bench_node.build_cca(Message.from_bytes(data), "server.bench.realm").as_bytes()
    _ = Message.from_bytes(answer).result_code


def _profiled_server(port: int, out: str) -> None:
    prof = cProfile.Profile(time.process_time)   # CPU time: waiting in epoll costs nothing

    def stop(*_a: object) -> None:
        prof.disable()
        prof.dump_stats(out)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    _warm_up()
    prof.enable()
    bench_node.serve_aio(port)


def _profiled_client(port: int, duration: float, inflight: int, out: str) -> None:
    prof = cProfile.Profile(time.process_time)
    _warm_up()
    prof.enable()
    res = bench_node.client_aio(port, duration, inflight)
    prof.disable()
    prof.dump_stats(out)
    print(json.dumps(res))


def profiled_run(duration: float, inflight: int, tmp: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
    port = bench_node.free_port()
    srv_out, cli_out = tmp / "server.prof", tmp / "client.prof"
    me = str(Path(__file__).resolve())
    res, _ = bench_node.pair_run([sys.executable, me, "_pserver", str(port), str(srv_out)],
                                 [sys.executable, me, "_pclient", str(port), str(duration), str(inflight),
                                  str(cli_out)], env, client_timeout=duration * 10 + 60, stop_wait=20)
    return {"result": res,
            "server": profile_breakdown(srv_out, "build_cca"),
            "client": profile_breakdown(cli_out, "build_ccr"),
            "top": {side: {layer: top_functions(path, layer) for layer in
                           ("node asyncio (node/aio)", "event loop and socket I/O (asyncio, uvloop)",
                            "other (builtins, struct, logging...)", "message classes")}
                    for side, path in (("client", cli_out), ("server", srv_out))}}


# --------------------------------------------------------------------- main ---
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--no-uvloop", action="store_true")
    args = ap.parse_args()
    if args.no_uvloop:
        os.environ["BENCH_NO_UVLOOP"] = "1"
    print(describe(uvloop_used=not args.no_uvloop))
    print(f"workload: bench/node.py's Gy CCR-Update/CCA, asyncio API, {args.inflight} in flight, "
          f"validation on\n")

    e2e = bench_node.run_scenario(sys.executable, True, "aio", "aio", args.duration, args.inflight)
    n = max(e2e["requests"], 1)
    cli_us = e2e["client_cpu"] / n * 1e6
    srv_us = e2e["server_cpu"] / n * 1e6
    print(f"end to end (no profiler): {e2e['rps']:.0f} requests/s, CPU per request: client "
          f"{cli_us:.1f} us + server {srv_us:.1f} us = {cli_us + srv_us:.1f} us\n")

    stages = stage_timings()
    print("| side | stage | us per request |")
    print("| --- | --- | ---: |")
    for side, total in (("client", cli_us), ("server", srv_us)):
        mine = [(s, us) for sd, s, us in stages if sd == side]
        for s, us in mine:
            print(f"| {side} | {s} | {us:.1f} |")
        rest = total - sum(us for _s, us in mine)
        print(f"| {side} | node, event loop and sockets (the rest of {total:.1f}) | {rest:.1f} |")
    print(f"| both | total CPU per request | {cli_us + srv_us:.1f} |\n")

    with tempfile.TemporaryDirectory(prefix="profile-node-") as tmp:
        prof = profiled_run(args.duration, args.inflight, Path(tmp))
    print("Self time per layer under cProfile (share of each process's profiled time; "
          "the profiler inflates Python-level calls, so read shares, not microseconds):\n")
    names = [name for name, _m in LAYERS] + ["other (builtins, struct, logging...)"]
    srv_layers, _sn, srv_total = prof["server"]
    cli_layers, _cn, cli_total = prof["client"]
    print("| layer | client | server |")
    print("| --- | ---: | ---: |")
    for name in names:
        c = cli_layers.get(name, 0.0) / cli_total * 100 if cli_total else 0.0
        s = srv_layers.get(name, 0.0) / srv_total * 100 if srv_total else 0.0
        if c >= 0.05 or s >= 0.05:
            print(f"| {name} | {c:.1f}% | {s:.1f}% |")
    print("\nTop functions by self time (share of the process's profiled time):")
    for side, layers in prof["top"].items():
        for layer, rows in layers.items():
            print(f"  {side}, {layer}: " + ", ".join(f"{name} {share * 100:.1f}%"
                                                    for name, share in rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_pserver":
        _profiled_server(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "_pclient":
        _profiled_client(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
