"""The OCS event loop's charging path without the network: CCRs handed to the
credit-control server's request handler in rounds of `--inflight` (one request of each
session at a time, as the node would), charged on SQLite (writer process), CCAs built.

Prints the event-loop thread's CPU time per CCR. Under valgrind, run it with two session
counts and divide the difference of the main thread's instructions by the difference of
CCRs (start-up cancels out): a load-independent measure of a change.

The garbage collector is tuned as `diameter ocs serve` tunes it (``--default-gc``: Python's
defaults). ``--reference`` runs the same CCRs through a handler that grants without storage
(bench/ocs.py's reference): what the credit-control layer costs alone.

    python bench/ocs_loop.py [--sessions 1000] [--inflight 48] [--src OTHER_TREE/src] [--reference]
    valgrind --tool=callgrind --separate-threads=yes python bench/ocs_loop.py --sessions 400
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
    store = open_storage(os.path.join(tmp, "ocs.sqlite3"))
    await store.open()
    try:
        for i in range(args.accounts):
            await store.create_account(f"bench{i}", kind=AccountKind.PREPAID,
                                       subscriptions=[(0, f"4917{i:08d}")],
                                       balances=default_balances(1, 10**12))
        node = DiameterNode("ocs.bench.example.net", REALM)
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
        server = CreditControlServer(node, handler, max_in_progress=1 << 30)

        def session(s: int) -> list[bytes]:
            out = []
            for n in range(6):
                kind = 1 if n == 0 else (3 if n == 5 else 2)
                usage = Usage(1, requested=Units(total_octets=0) if kind != 3 else None,
                              used=Units(total_octets=MIB) if n else None)
                out.append(build_ccr(
                    session_id=f"load.bench.example.net;1;{s}", request_type=kind, request_number=n,
                    origin_host="load.bench.example.net", origin_realm=REALM, destination_realm=REALM,
                    destination_host=None, service_context_id="32251@3gpp.org",
                    subscription_ids=[(0, f"4917{s % args.accounts:08d}")], usages=[usage]).as_bytes())
            return out

        requests = [session(s) for s in range(args.sessions)]

        async def run(first: int, last: int) -> None:
            for g in range(first, last, args.inflight):
                group = requests[g:g + args.inflight]
                for n in range(6):
                    waiting = []
                    for r in group:
                        ans = server._on_request(Message.from_bytes(r[n]))
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
                  f"({store.commits} commits)")  # type: ignore[attr-defined]
    finally:
        await store.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--inflight", type=int, default=48)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    ap.add_argument("--reference", action="store_true", help="grant without storage (the CC layer alone)")
    ap.add_argument("--default-gc", action="store_true", help="Python's garbage collector settings")
    a = ap.parse_args()
    sys.path.insert(0, a.src)
    from diameter.node.node import new_event_loop
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main(a))
