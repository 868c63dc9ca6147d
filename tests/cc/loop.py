"""Loopback fixtures: real DiameterNodes on 127.0.0.1 with CreditControlServer / CreditControlClient."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from diameter.cc import CCRequest, CCResult, CreditControlServer, Grant, Units
from diameter.cc.client import CreditControlClient
from diameter.node.aio import DiameterNode

REALM = "test.realm"
CLIENT = "client.test.realm"


class Ocs:
    """An in-memory OCS: grants 1000 octets per rating group; ``behave`` overrides per request."""

    def __init__(self, name: str = "ocs") -> None:
        self.name = name
        self.calls: list[CCRequest] = []
        self.closed: list[tuple[str, str]] = []
        self.behave: Callable[[CCRequest], Any] | None = None
        self.grant: dict[str, Any] = {}

    async def _handle(self, req: CCRequest) -> CCResult:
        self.calls.append(req)
        if self.behave is not None:
            r = self.behave(req)
            if asyncio.iscoroutine(r):
                r = await r
            if r is not None:
                return r
        return CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=1000), **self.grant)
                                for m in req.mscc])

    on_initial = on_update = on_termination = on_event = _handle

    def on_session_closed(self, sid: str, reason: str) -> None:
        self.closed.append((sid, reason))


class Net:
    """Servers and one client node, torn down together."""

    def __init__(self) -> None:
        self.servers: list[tuple[DiameterNode, CreditControlServer, Ocs]] = []
        self.client: DiameterNode | None = None
        self.cc: CreditControlClient | None = None

    async def add_server(self, name: str, dialect: str | None = None, **kw: Any) -> Ocs:
        n = DiameterNode(name, REALM, tcp_port=0, listen_addresses=["127.0.0.1"], ip_addresses=["127.0.0.1"])
        ocs = Ocs(name)
        srv = CreditControlServer(n, ocs, **kw)
        n.add_peer(CLIENT, dialect=dialect)
        await n.start()
        self.servers.append((n, srv, ocs))
        return ocs

    def server(self, i: int = 0) -> CreditControlServer:
        return self.servers[i][1]

    async def connect(self, **kw: Any) -> CreditControlClient:
        n = DiameterNode(CLIENT, REALM, ip_addresses=["127.0.0.1"], request_timeout=kw.pop("request_timeout", 5))
        for s, _, _ in self.servers:
            n.add_peer(s.origin_host, addresses=["127.0.0.1"], port=s.listen_ports[0], persistent=True,
                       reconnect_wait=0.2)
        cc = CreditControlClient(n, **kw)
        await n.start()
        for s, _, _ in self.servers:
            await n.wait_open(s.origin_host, 5)
        self.client, self.cc = n, cc
        return cc

    async def close(self) -> None:
        if self.cc is not None:
            await self.cc.close()
        if self.client is not None:
            await self.client.stop(1)
        for n, srv, _ in self.servers:
            await srv.close()
            await n.stop(1)


def run(test: Callable[[Net], Any], timeout: float = 30) -> None:
    """Run ``test(net)`` on a fresh loop with a hard timeout; always tear the nodes down."""
    async def main() -> None:
        net = Net()
        try:
            await asyncio.wait_for(test(net), timeout)
        finally:
            await net.close()
    asyncio.run(main())
