"""The OCS event loop's charging path without the network: CCRs handed to the
credit-control server's request handler in rounds of `--inflight` (one request of each
session at a time, as the node would), charged on SQLite (writer process), CCAs built;
``--db postgresql://...`` charges on that (empty) PostgreSQL database instead.

Prints the event-loop thread's CPU time per CCR. Under valgrind, run it with two session
counts and divide the difference of the main thread's instructions by the difference of
CCRs (start-up cancels out): a load-independent measure of a change.

The garbage collector is tuned as `diameter ocs serve` tunes it (``--default-gc``: Python's
defaults). ``--reference`` runs the same CCRs through a handler that grants without storage
(bench/ocs.py's reference): what the credit-control layer costs alone.

``--node``: the CCRs go in as bytes through the node (``DiameterProtocol.data_received``
on a transport that only collects what is written, four CCRs per read, the node set up as
`diameter ocs serve` sets it up): the node's framing, duplicate detection, dispatch and
answer path are counted too, which is the whole event-loop thread but for the socket calls.

    python bench/ocs_loop.py [--sessions 1000] [--inflight 48] [--src OTHER_TREE/src] [--reference] [--node]
    valgrind --tool=callgrind --separate-threads=yes python bench/ocs_loop.py --sessions 400

Under callgrind, two runs of the same code differ at start-up by up to ~65 M instructions in
``builtin_compile`` (code generated as modules load; none after the warm-up): subtract its
inclusive count from each run's total, and read a garbage collection's cost as
``gc_collect_main``'s inclusive count (recursion makes callgrind charge it to whatever
allocation triggered it). With both taken out, (800 - 200 sessions) and (400 - 200) agree
within ~0.3k instructions per CCR.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node_server_path import _CountingTransport  # bench/ is this script's directory

MIB = 1 << 20
REALM = "bench.example.net"


async def main(args: argparse.Namespace) -> None:
    from diameter.cc import CreditControlServer, Units
    from diameter.cc.wire import Usage, build_ccr
    from diameter.message import Message
    from diameter.node.aio.node import DiameterNode
    from diameter.ocs import AccountKind, Engine
    from diameter.ocs.accounting import default_balances
    from diameter.ocs.front import OcsFront
    from diameter.ocs.store import open_storage

    tmp = tempfile.mkdtemp(prefix="ocs-loop-")
    store = open_storage(args.db or os.path.join(tmp, "ocs.sqlite3"))
    await store.open()
    try:
        for i in range(args.accounts):
            await store.create_account(f"bench{i}", kind=AccountKind.PREPAID,
                                       subscriptions=[(0, f"4917{i:08d}")],
                                       balances=default_balances(1, 10**12))
        node = DiameterNode("ocs.bench.example.net", REALM, ip_addresses=["127.0.0.1"],
                            product_name="diameter-ocs", vendor_ids=[10415, 2011],
                            accept_unknown_peers=True)
        node.loop = asyncio.get_running_loop()
        handler: Any = OcsFront(Engine(store))
        if args.reference:
            from diameter.cc import CCResult, Grant

            class Grants:
                async def _grant(self, req: Any) -> Any:
                    return CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=10 * MIB),
                                                  result_code=2001, validity_time=600) for m in req.mscc])
                on_initial = on_update = on_termination = on_event = _grant
            handler = Grants()
        server = CreditControlServer(node, handler, max_in_progress=1 << 30, validate=False)
        if not args.reference:
            handler.server = server
        feed = _node_feed(node) if args.node else None
        on_request = node.apps[4].handler  # what the node calls (a coroutine function, or not)

        def session(s: int) -> list[bytes]:
            out = []
            for n in range(6):
                kind = 1 if n == 0 else (3 if n == 5 else 2)
                usage = Usage(1, requested=Units(total_octets=0) if kind != 3 else None,
                              used=Units(total_octets=MIB) if n else None)
                out.append(build_ccr(
                    session_id=f"load.bench.example.net;1;{s:08d}", request_type=kind, request_number=n,
                    origin_host="load.bench.example.net", origin_realm=REALM, destination_realm=REALM,
                    destination_host=None, service_context_id="32251@3gpp.org",
                    subscription_ids=[(0, f"4917{s % args.accounts:08d}")], usages=[usage]).as_bytes())
            return out

        # every session's CCRs are session 0's with its Session-Id and MSISDN put in (same
        # lengths), built for `--built` sessions whatever `--sessions` (about 4k instructions
        # per CCR, which would count in the difference of two runs' instructions otherwise)
        first = session(0)
        sid0, msisdn0 = b"load.bench.example.net;1;00000000", b"491700000000"
        requests = [[r.replace(sid0, f"load.bench.example.net;1;{s:08d}".encode()).replace(
                     msisdn0, f"4917{s % args.accounts:08d}".encode()) for r in first]
                    for s in range(max(args.sessions, args.built))]

        async def run(first: int, last: int) -> None:
            for g in range(first, last, args.inflight):
                group = requests[g:g + args.inflight]
                for n in range(6):
                    if feed is not None:
                        await feed([r[n] for r in group])
                        continue
                    waiting = []
                    for r in group:
                        ans = on_request(Message.from_bytes(r[n]))
                        if asyncio.iscoroutine(ans) or isinstance(ans, asyncio.Future):
                            waiting.append(asyncio.ensure_future(ans))
                    await asyncio.gather(*waiting)

        warm = min(args.sessions, 2 * args.inflight)
        await run(0, warm)
        if not args.default_gc:
            from diameter.ocs.server import GC_THRESHOLD, tune_gc
            tune_gc(GC_THRESHOLD)  # as `diameter ocs serve` does
        t0 = time.thread_time()
        await run(warm, args.sessions)
        n = (args.sessions - warm) * 6
        if n:
            print(f"{n} CCR: event-loop thread {(time.thread_time() - t0) / n * 1e6:.1f} us/CCR "
                  f"({getattr(store, 'commits', '?')} commits)")
    finally:
        await store.close()
        shutil.rmtree(tmp, ignore_errors=True)


class _Collect(_CountingTransport):
    """A transport that keeps what is written (answers are counted, not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.wake: asyncio.Future[None] | None = None
        self.want = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        i = 0
        while i < len(data):
            self.answers += 1
            i += int.from_bytes(data[i + 1:i + 4], "big")
        if self.wake is not None and self.answers >= self.want and not self.wake.done():
            self.wake.set_result(None)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _node_feed(node: Any) -> Any:
    """A function sending CCRs through the node (four per read); it returns once all are answered."""
    from diameter.node.protocol.capabilities import Capabilities
    from diameter.node.protocol.connection import PeerConnection

    node._running = True
    proto = node._new_protocol(False, None)
    transport = _Collect()
    proto.connection_made(transport)
    caps = Capabilities("load.bench.example.net", REALM, ["127.0.0.1"], 0, "bench", 1, set(), {4},
                        set(), [], set())
    client = PeerConnection(caps, True, node.loop.time())
    client.start(node.loop.time())
    proto.data_received(b"".join(client.take_outgoing()))
    if proto.peer is None or not proto.conn.is_open:
        raise RuntimeError(f"capabilities exchange failed: {proto.conn.state}")
    ids = [0]

    async def feed(frames: list[bytes]) -> None:
        transport.want = transport.answers + len(frames)
        transport.wake = node.loop.create_future()
        for i in range(0, len(frames), 4):
            chunk = []
            for f in frames[i:i + 4]:
                ids[0] += 1
                b = bytearray(f)
                b[12:20] = ids[0].to_bytes(4, "big") * 2
                chunk.append(bytes(b))
            proto.data_received(b"".join(chunk))
        await transport.wake

    return feed


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--inflight", type=int, default=48)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--built", type=int, default=1000,
                    help="CCRs built for this many sessions at least (the same building in runs of up to that many)")
    ap.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    ap.add_argument("--reference", action="store_true", help="grant without storage (the CC layer alone)")
    ap.add_argument("--node", action="store_true", help="CCRs as bytes through the node (DiameterProtocol)")
    ap.add_argument("--db", default=None, help="a database URL (postgresql://..., an empty database)"
                    " instead of a new SQLite file")
    ap.add_argument("--default-gc", action="store_true", help="Python's garbage collector settings")
    a = ap.parse_args()
    sys.path.insert(0, a.src)
    from diameter.node.node import new_event_loop
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main(a))
