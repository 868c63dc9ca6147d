"""The server's request path without sockets: CPU per request from bytes in to answer written.

A server :class:`~diameter.node.aio.DiameterNode` (validation on, the Gy handler of
bench/node.py) gets a CER and then Gy CCR-Updates (distinct end-to-end ids, four per
read) through ``DiameterProtocol.data_received``; its transport only counts writes.
No event loop turns, no syscalls, no second process: the figure is the node, the
codec, validation and the handler, and it is steady on a shared machine (CPU time,
best of ``--rounds``).

    python bench/node_server_path.py [--requests 4000] [--rounds 5] [--src PATH]
    python bench/node_server_path.py --workload testapp   # freeDiameter test_app's Test-Request
    python bench/node_server_path.py --workload testapp --api threaded   # its threaded-API server

``--raw``: the node's own work alone (no validation, no decoding; the handler returns
pre-encoded answer bytes). ``--workload testapp``: the request freeDiameter's test_app benchmark client sends
(captured from it: Session-Id, Destination-Realm, Origin-Host, Origin-Realm and the
vendor Test-AVP) answered by bench/vs_freediameter.py's asyncio handler (a plain
function echoing Test-AVP): the server side of that benchmark without sockets.
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


#: a Test-Request as freeDiameter 1.5's test_app benchmark client sends it (hop-by-hop and
#: end-to-end identifiers are replaced per request)
TEST_REQUEST = bytes.fromhex(
    "01000090c0fffffe00ffffff3f834a86a21e9475000001074000002e636c69656e742e66642e62656e63683b"
    "313739363534353035373b313b6170705f746573746200000000011b400000117372762e62656e6368000000"
    "0000010840000017636c69656e742e66642e62656e636800000001284000001066642e62656e636800ffffff"
    "80000010000f423f643c9869")
TEST_APP_ID, TEST_VENDOR_ID, TEST_AVP = 16777215, 999999, 16777215


def _testapp_server(srv) -> bytes:
    """bench/vs_freediameter.py's asyncio server on ``srv``; returns the request template."""
    key = (TEST_AVP, TEST_VENDOR_ID)
    host, realm = srv.origin_host.encode(), srv.realm.encode()

    def on_test_request(req):
        ans = req.to_answer()
        ans.session_id = req.session_id
        ans.result_code = 2001
        ans.origin_host = host
        ans.origin_realm = realm
        for avp in req.find_avps(key):
            ans.append_avp(avp)
        return ans
    srv.add_application(TEST_APP_ID, on_test_request, vendor_id=TEST_VENDOR_ID)
    return TEST_REQUEST


def _testapp_threaded_server(srv) -> bytes:
    """bench/vs_freediameter.py's threaded server (a python-diameter style ``Application``
    answering inline in ``handle_request``) on ``srv``, wired as ``Node.start`` does in its
    loop thread (here: this thread, no second one); returns the request template."""
    import threading

    from diameter.node import Node
    from diameter.node.application import Application
    from diameter.node.threads import Inbox
    key = (TEST_AVP, TEST_VENDOR_ID)

    class TestApplication(Application):
        def handle_request(self, message):
            answer = self.generate_answer(message, 2001)
            for avp in message.find_avps(key):
                answer.append_avp(avp)
            self.send_answer(answer)

    node = Node(srv.origin_host, srv.realm, ip_addresses=["127.0.0.1"])
    node.validate_received_request_avps = True
    app = TestApplication(TEST_APP_ID, is_auth_application=True)
    node.add_application(app, [])   # not started: registered with the asyncio node below
    node._anode, node._loop, node._loop_thread = srv, srv.loop, threading.get_ident()
    node._inbox = Inbox(srv.loop, srv)
    srv.add_application(TEST_APP_ID, node._make_handler(app), auth=True, validate=True)
    return TEST_REQUEST


async def _run(requests: int, rounds: int, workload: str = "gy", raw: bool = False,
               api: str = "asyncio") -> float:
    import node as bn  # bench/node.py: the workload
    from diameter.node.aio import DiameterNode
    from diameter.node.protocol.capabilities import Capabilities
    from diameter.node.protocol.connection import PeerConnection
    from diameter.node.protocol.dedup import DuplicateCache

    srv = DiameterNode("server.bench.realm", bn.REALM, ip_addresses=["127.0.0.1"], accept_unknown_peers=True)

    async def on_ccr(req):
        return bn.build_cca(req, "server.bench.realm")
    if workload == "testapp":
        srv.loop = asyncio.get_running_loop()
        template = bytearray((_testapp_threaded_server if api == "threaded" else _testapp_server)(srv))
        apps = {TEST_APP_ID}
    else:
        srv.add_application(bn.APP_CC, on_ccr)
        template = bytearray(bn.build_ccr("client.bench.realm", 1).as_bytes())
        apps = {bn.APP_CC}
    if raw:   # the node alone: no validation, no decoding, a pre-encoded answer
        app = srv.apps[max(apps)]
        answer = app.handler(srv.decode(bytes(template)))
        if hasattr(answer, "send"):   # the Gy handler is a coroutine function
            try:
                answer.send(None)
            except StopIteration as stop:
                answer = stop.value
        answer = answer.as_bytes()
        app.validate, app.is_coro = False, False
        app.handler = lambda req: answer
        srv._decode = bytes
    srv.loop = asyncio.get_running_loop()
    srv._running = True
    proto = srv._new_protocol(False, None)
    transport = _CountingTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    caps = Capabilities("client.bench.realm", bn.REALM, ["127.0.0.1"], 0, "bench", 1, set(), apps,
                        set(), [], set())
    client = PeerConnection(caps, True, srv.loop.time())
    client.start(srv.loop.time())
    proto.data_received(b"".join(client.take_outgoing()))
    if proto.peer is None or not proto.conn.is_open:
        raise RuntimeError(f"capabilities exchange failed: {proto.conn.state}")
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
    ap.add_argument("--workload", choices=("gy", "testapp"), default="gy",
                    help="Gy CCR-Updates (bench/node.py's) or freeDiameter test_app's Test-Request")
    ap.add_argument("--raw", action="store_true",
                    help="the node alone: no validation or decoding, the handler returns answer bytes")
    ap.add_argument("--api", choices=("asyncio", "threaded"), default="asyncio",
                    help="testapp: the server written with the asyncio API or the threaded one (inline Application)")
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the diameter source tree to measure")
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    sys.path.insert(0, str(HERE))
    import diameter  # noqa: F401 - from --src, before _machine puts this checkout first
    from _machine import describe
    print(describe(uvloop_used=False))
    us = asyncio.run(_run(args.requests, args.rounds, args.workload, args.raw, args.api))
    what = args.workload + (" raw" if args.raw else "") + (" threaded API" if args.api == "threaded" else "")
    print(f"server request path without sockets, {what} ({args.src}): {us:.1f} us CPU per request")


if __name__ == "__main__":
    main()
