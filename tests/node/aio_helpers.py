"""Builders for asyncio node tests over loopback."""
from __future__ import annotations

import asyncio
import socket

from diameter.message.commands import CreditControlAnswer, CreditControlRequest  # noqa: F401
from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Capabilities
from diameter.node.protocol.constants import (
    AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_RESULT_CODE, CMD_CAPABILITIES_EXCHANGE,
    CMD_DEVICE_WATCHDOG, FLAG_REQUEST)
from diameter.node.protocol.framing import FrameDecoder

REALM = "test.realm"


def ccr(origin: str, n: int, dest_realm: str = REALM, dest_host: str | None = None):
    r = CreditControlRequest()
    r.session_id = f"{origin};1;{n}"
    r.origin_host = origin.encode()
    r.origin_realm = REALM.encode()
    r.destination_realm = dest_realm.encode()
    if dest_host:
        r.destination_host = dest_host.encode()
    r.auth_application_id = 4
    r.service_context_id = "32251@3gpp.org"
    r.cc_request_type = 1
    r.cc_request_number = n
    return r


def answer_for(identity: str, calls: list | None = None, delay: float = 0.0):
    async def handle(req):
        if calls is not None:
            calls.append(req)
        if delay:
            await asyncio.sleep(delay)
        a = req.to_answer()
        a.session_id = req.session_id
        a.origin_host = identity.encode()
        a.origin_realm = REALM.encode()
        a.result_code = 2001
        a.auth_application_id = 4
        a.cc_request_type = req.cc_request_type
        a.cc_request_number = req.cc_request_number
        return a
    return handle


async def server(identity: str = "server.test.realm", host: str = "127.0.0.1", clients=("client.test.realm",),
                 handler=None, **kw) -> DiameterNode:
    n = DiameterNode(identity, REALM, tcp_port=0, listen_addresses=[host], ip_addresses=[host], **kw)
    n.add_application(4, handler or answer_for(identity))
    for c in clients:
        n.add_peer(c)
    await n.start()
    return n


async def client(servers: list[tuple[str, int]], identity: str = "client.test.realm", host: str = "127.0.0.1",
                 **kw) -> DiameterNode:
    peer_kw = kw.pop("peer_kw", {})
    n = DiameterNode(identity, REALM, ip_addresses=[host], **kw)
    n.add_application(4)
    for name, port in servers:
        n.add_peer(name, addresses=[host], port=port, persistent=True, reconnect_wait=0.2, **peer_kw)
    await n.start()
    for name, _ in servers:
        await n.wait_open(name, 5)
    return n


class RawPeer:
    """A hand-driven peer on a real socket (for misbehaving-peer tests)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.frames: list[bytes] = []

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawPeer:
        r, w = await asyncio.open_connection(host, port)
        return cls(r, w)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv(self, timeout: float = 5.0) -> bytes | None:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self.frames += self.decoder.feed(data)
        return self.frames.pop(0)

    async def recv_app(self, timeout: float = 5.0) -> bytes | None:
        """The next message that is not a DWR (DWRs, e.g. of a REOPEN, are answered)."""
        while True:
            data = await self.recv(timeout)
            if data is None or data[5:8] != CMD_DEVICE_WATCHDOG.to_bytes(3, "big") or not data[4] & FLAG_REQUEST:
                return data
            self.send(A.message(0, CMD_DEVICE_WATCHDOG, 0, int.from_bytes(data[12:16], "big"),
                                int.from_bytes(data[16:20], "big"),
                                [A.u32(AVP_RESULT_CODE, 2001), A.text(AVP_ORIGIN_HOST, "raw.test.realm"),
                                 A.text(AVP_ORIGIN_REALM, REALM)]))

    async def cer(self, identity: str, apps=(4,)) -> int | None:
        c = Capabilities(identity, REALM, ["127.0.0.1"], 0, "raw", 1, set(), set(apps))
        self.send(A.message(FLAG_REQUEST, CMD_CAPABILITIES_EXCHANGE, 0, 1, 1, c.avps()))
        cea = await self.recv()
        return None if cea is None else A.as_u32(A.find(cea, AVP_RESULT_CODE))

    async def closed(self, timeout: float = 5.0) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except (ConnectionError, OSError):
            return True

    def close(self) -> None:
        self.writer.transport.abort()


def has_ipv6() -> bool:
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False
