"""Live peers for the CLI tests: our Gy server node behind a freeDiameterd relay.

``gy_network(workdir)`` runs our server node (answers from ``traffic.answer_for``) in a
background thread's event loop and a freeDiameterd relay routing realm ``a.test`` to it;
clients of realm ``c.test`` may connect to the relay.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from diameter.node.aio.node import DiameterNode
from interop.freediameter import ConnectPeer, FreeDiameter, free_tcp_port

from .traffic import answer_for


@dataclass
class Network:
    relay_port: int
    server_port: int
    relay: FreeDiameter


class NodeThread:
    """An asyncio DiameterNode served from its own thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.node: DiameterNode | None = None

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        async def go() -> None:
            n = DiameterNode("srv.a.test", "a.test", ip_addresses=["127.0.0.1"], decode=bytes,
                             tcp_port=self.port, listen_addresses=["127.0.0.1"])
            n.add_application(4, lambda data: answer_for(data, "srv.a.test", "a.test"),
                              validate=False)
            n.add_peer("relay.relay.test", "relay.test")
            await n.start()
            self.node = n
        self.call(go())

    def stop(self) -> None:
        if self.node is not None:
            self.call(self.node.stop(timeout=3))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def gy_network(workdir: Path) -> Iterator[Network]:
    server_port, relay_port = free_tcp_port(), free_tcp_port()
    srv = NodeThread(server_port)
    srv.start()
    relay = FreeDiameter(workdir / "relay", "relay.relay.test", "relay.test", port=relay_port,
                         allow=["*.c.test"],
                         peers=[ConnectPeer("srv.a.test", server_port, realm="a.test")],
                         routes=['dr="a.test" : rlm="a.test" += 100 ;'])
    try:
        relay.start()
        relay.wait_peer_state("srv.a.test", "STATE_OPEN", timeout=15)
        yield Network(relay_port, server_port, relay)
    finally:
        relay.stop()
        srv.stop()
