"""Client and server nodes in one event loop, linked by in-memory transports: CPU per request.

bench/node.py's Gy workload (asyncio API, validation on, 16 in flight) without sockets
or a second process: a client :class:`~diameter.node.aio.DiameterNode` sends CCRs to a
server one through transports that hand each write to the other side's
``data_received`` on the next loop turn. The figure covers both nodes, the codec,
validation, the handlers and the event loop, not the kernel, so it moves much less
than bench/node.py on a shared machine.

    python bench/node_pair.py [--duration 1] [--rounds 5] [--raw] [--no-validate]
    python bench/node_pair.py --count 600      # a fixed number of requests, for callgrind

``--raw``: pre-encoded bytes both ways (the node and the loop alone). ``--side client``:
the client node alone, each request answered by its transport with a fixed encoded CCA
(the server's share is the difference with the default, ``--side both``). ``--tcp``: the two
nodes talk over real loopback TCP sockets (still one process and one loop: the sockets' own
cost, load-independent). ``--count N`` runs
N requests and exits, so that instruction counts (``valgrind --tool=callgrind``) of two
counts give the instructions per request, independent of the machine's load.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _Link:
    """An asyncio transport whose writes reach ``other.data_received`` on the next loop turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.other = None
        self.closing = False

    def write(self, data: bytes) -> None:
        self.loop.call_soon(self.other.data_received, bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 3868) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Echo(_Link):
    """The client's transport with no server node: each request is answered with a fixed
    answer carrying the request's hop-by-hop and end-to-end identifiers (``--side client``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, other, answer: bytes) -> None:
        super().__init__(loop)
        self.other = other
        self.answer = answer

    def write(self, data: bytes) -> None:
        out = []
        pos = 0
        answer = self.answer
        while pos < len(data):
            n = int.from_bytes(data[pos + 1:pos + 4], "big")
            out.append(answer[:12] + data[pos + 12:pos + 20] + answer[20:])
            pos += n
        self.loop.call_soon(self.other.data_received, b"".join(out))


def _free_port() -> int:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def _run(args: argparse.Namespace) -> float | None:
    import node as bn  # bench/node.py: the workload
    from diameter.node.aio import DiameterNode
    loop = asyncio.get_running_loop()
    srv = DiameterNode("server.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"], accept_unknown_peers=True,
                       validate=not args.no_validate)
    answer = bn.build_cca(bn.build_ccr("client.bench.realm", 1), "server.bench.realm").as_bytes()

    async def on_ccr(req):
        return answer if args.raw else bn.build_cca(req, "server.bench.realm")
    srv.add_application(bn.APP_CC, on_ccr)
    cli = DiameterNode("client.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"])
    cli.add_application(bn.APP_CC)
    if args.tcp:   # real loopback TCP sockets, both nodes still in this one loop
        srv.tcp_port = port = _free_port()
        srv.listen_addresses = ["127.0.0.1"]
        cli.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=port, persistent=True)
        await srv.start()
        await cli.start()
        await cli.wait_open("server.bench.realm", 5)
    else:
        cli.add_peer("server.bench.realm", addresses=["127.0.0.1"], port=3868, persistent=False)
        for n in (srv, cli):
            n.loop = loop
            n._running = True
        sp = srv._new_protocol(False, None)
        cp = cli._new_protocol(True, cli.peers["server.bench.realm"])
        st, ct = _Link(loop), _Link(loop)
        st.other, ct.other = cp, sp
        sp.connection_made(st)
        cp.connection_made(ct)
        await cli.wait_open("server.bench.realm", 5)
        if args.side == "client":   # from here on, no server node: fixed answers
            cp.transport = _Echo(loop, cp, answer)
    gc.collect()   # start-up garbage: a full collection of it must not fall inside a measured count
    template = bn.build_ccr("client.bench.realm", 1).as_bytes()
    seq = iter(range(1, 1 << 31))
    done = 0
    left = args.count
    stop_at = 0.0

    async def worker() -> None:
        nonlocal done, left
        pc = time.perf_counter
        while (left > 0) if args.count else (pc() < stop_at):
            left -= 1
            if args.raw:
                b = bytearray(template)
                b[16:20] = next(seq).to_bytes(4, "big")
                await cli.request_bytes(bytes(b))
            else:
                ans = await cli.request(bn.build_ccr("client.bench.realm", next(seq)))
                if ans.result_code != 2001:
                    raise RuntimeError(f"unexpected result {ans.result_code}")
            done += 1
    if args.count:
        await asyncio.gather(*(worker() for _ in range(args.inflight)))
        return None
    stop_at = time.perf_counter() + 0.3   # warm-up
    await asyncio.gather(*(worker() for _ in range(args.inflight)))
    best = float("inf")
    for _ in range(args.rounds):
        done = 0
        c0 = time.process_time()
        stop_at = time.perf_counter() + args.duration
        await asyncio.gather(*(worker() for _ in range(args.inflight)))
        best = min(best, (time.process_time() - c0) / max(done, 1))
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inflight", type=int, default=16)
    ap.add_argument("--count", type=int, default=0, help="run this many requests and exit")
    ap.add_argument("--raw", action="store_true", help="pre-encoded requests and answers")
    ap.add_argument("--no-validate", action="store_true")
    ap.add_argument("--side", choices=("both", "client"), default="both",
                    help="client: no server node, the client's requests are answered with a fixed CCA")
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--tcp", action="store_true",
                    help="real loopback TCP sockets between the two nodes (still one process, one loop)")
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the diameter source tree to measure")
    args = ap.parse_args()
    if args.tcp and args.side == "client":
        ap.error("--tcp runs both nodes (--side both)")
    sys.path.insert(0, args.src)
    sys.path.insert(0, str(HERE))
    import diameter  # noqa: F401 - from --src, before _machine puts this checkout first
    uv = False
    if not args.no_uvloop:
        try:
            import uvloop
            uvloop.install()
            uv = True
        except ImportError:
            pass
    from _machine import describe
    if not args.count:
        print(describe(uvloop_used=uv))
    us = asyncio.run(_run(args))
    if us is not None:
        what = "client node alone, fixed answers" if args.side == "client" else "client + server nodes"
        how = "loopback TCP, one process" if args.tcp else "in-memory transports"
        print(f"{what}, {how} ({args.src}): {us:.1f} us CPU per request")


if __name__ == "__main__":
    main()
