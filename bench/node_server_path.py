"""The server's request path without sockets: CPU per request from bytes in to answer written.

A server :class:`~diameter.node.aio.DiameterNode` (validation on, the Gy handler of
bench/node.py) gets a CER and then Gy CCR-Updates (distinct end-to-end ids, four per
read) through ``DiameterProtocol.data_received``; its transport only counts writes.
No event loop turns, no syscalls, no second process: the figure is the node, the
codec, validation and the handler, and it is steady on a shared machine (CPU time,
best of ``--rounds``).

    python bench/node_server_path.py [--requests 4000] [--rounds 5] [--src PATH]
"""
from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _CountingTransport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def set_write_buffer_limits(self, high: int | None = None) -> None:
        pass


async def _run(requests: int, rounds: int) -> float:
    import node as bn  # bench/node.py: the workload
    from diameter.node.aio import DiameterNode
    from diameter.node.protocol.capabilities import Capabilities
    from diameter.node.protocol.connection import PeerConnection
    from diameter.node.protocol.dedup import DuplicateCache

    srv = DiameterNode("server.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"], accept_unknown_peers=True)

    async def on_ccr(req):
        return bn.build_cca(req, "server.bench.realm")
    srv.add_application(bn.APP_CC, on_ccr)
    srv.loop = asyncio.get_running_loop()
    srv._running = True
    proto = srv._new_protocol(False, None)
    transport = _CountingTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    caps = Capabilities("client.bench.realm", bn.REALM, ["127.0.0.1"], 0, "bench", 1, set(), {bn.APP_CC},
                        set(), [], set())
    client = PeerConnection(caps, True, srv.loop.time())
    client.start(srv.loop.time())
    proto.data_received(b"".join(client.take_outgoing()))
    if proto.peer is None or not proto.conn.is_open:
        raise RuntimeError(f"capabilities exchange failed: {proto.conn.state}")
    template = bytearray(bn.build_ccr("client.bench.realm", 1).as_bytes())
    reads = []
    for i in range(0, requests, 4):
        batch = []
        for j in range(i, min(i + 4, requests)):
            b = bytearray(template)
            struct.pack_into("!II", b, 12, j + 1, j + 1)
            batch.append(bytes(b))
        reads.append(b"".join(batch))
    best = float("inf")
    for _ in range(rounds):
        srv.dedup = DuplicateCache(srv.dedup.window)   # every round: new requests, not duplicates
        before = transport.writes
        t0 = time.process_time()
        for data in reads:
            proto.data_received(data)
        best = min(best, (time.process_time() - t0) / requests)
        if transport.writes - before < len(reads):
            raise RuntimeError("answers were not written")
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the diameter source tree to measure")
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    sys.path.insert(0, str(HERE))
    import diameter  # noqa: F401 - from --src, before _machine puts this checkout first
    from _machine import describe
    print(describe(uvloop_used=False))
    us = asyncio.run(_run(args.requests, args.rounds))
    print(f"server request path without sockets ({args.src}): {us:.1f} us CPU per request")


if __name__ == "__main__":
    main()
