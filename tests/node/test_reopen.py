"""RFC 3539 REOPEN by default: a reset counts as a failure, and after one no traffic goes out
until the watchdogs of both sides are out of REOPEN."""
from __future__ import annotations

import asyncio
import socket
import struct

from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Capabilities
from diameter.node.protocol.connection import WatchdogChange
from diameter.node.protocol.constants import (
    AVP_AUTH_APPLICATION_ID, AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_RESULT_CODE, AVP_SESSION_ID,
    CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG, FLAG_PROXYABLE)
from diameter.node.protocol.framing import FrameDecoder, parse_header
from diameter.node.protocol.watchdog import WatchdogAction

from .aio_helpers import REALM, ccr, client
from .helpers import pair, pump
from .test_aio_node import aio


class RawServer:
    """A Diameter server on a raw socket: answers CER, DWR and CCR; records, for each
    CCR, how many DWRs it had answered on that connection before."""

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        self.ccrs: list[tuple[int, int]] = []  # (connection number, DWAs sent before)
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        n = len(self.connections)
        self.connections.append(w)
        dec, dwas = FrameDecoder(), 0
        caps = Capabilities("server.test.realm", REALM, ["127.0.0.1"], 0, "raw", 1, set(), {4})
        try:
            while data := await r.read(65536):
                for f in dec.feed(data):
                    h = parse_header(f)
                    if h.command_code == CMD_CAPABILITIES_EXCHANGE:
                        w.write(A.message(0, 257, 0, h[4], h[5], [A.u32(AVP_RESULT_CODE, 2001)] + caps.avps()))
                    elif h.command_code == CMD_DEVICE_WATCHDOG and h.is_request:
                        dwas += 1
                        w.write(A.message(0, 280, 0, h[4], h[5], [A.u32(AVP_RESULT_CODE, 2001),
                                          A.text(AVP_ORIGIN_HOST, "server.test.realm"),
                                          A.text(AVP_ORIGIN_REALM, REALM)]))
                    elif h.command_code == 272:
                        self.ccrs.append((n, dwas))
                        w.write(A.message(FLAG_PROXYABLE, 272, 4, h[4], h[5], [
                            A.avp(AVP_SESSION_ID, A.find(f, AVP_SESSION_ID)), A.u32(AVP_RESULT_CODE, 2001),
                            A.text(AVP_ORIGIN_HOST, "server.test.realm"), A.text(AVP_ORIGIN_REALM, REALM),
                            A.u32(AVP_AUTH_APPLICATION_ID, 4), A.avp(416, A.find(f, 416)),
                            A.avp(415, A.find(f, 415))]))
        except ConnectionError:
            pass

    async def close(self) -> None:
        self.server.close()
        for w in self.connections:
            w.transport.abort()
        await asyncio.sleep(0.01)

    def reset(self, n: int) -> None:
        """Close connection n with a TCP RST (the peer's read gets ECONNRESET)."""
        w = self.connections[n]
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()


@aio
async def test_reset_is_a_failure_and_reopen_holds_traffic_by_default():
    raw = RawServer()
    port = await raw.start()
    cli = await client([("server.test.realm", port)], tw=0.3)
    assert cli.strict_reopen
    peer = cli.peers["server.test.realm"]
    assert (await cli.request(ccr("client.test.realm", 1), timeout=3)).result_code == 2001
    states: list[str] = []
    cli.on_peer_state.append(lambda p, what: states.append(what))
    raw.reset(0)
    for _ in range(200):
        if len(raw.connections) == 2:
            break
        await asyncio.sleep(0.02)
    assert any("reset" in s.lower() for s in states if s.startswith("closed")), states
    assert peer.failed_before
    # ask all the time: nothing may go out before the REOPEN is over
    answered = None
    for i in range(400):
        try:
            answered = await cli.request(ccr("client.test.realm", 100 + i), timeout=3)
            break
        except Exception:  # noqa: BLE001 - NotRoutable while in REOPEN
            await asyncio.sleep(0.02)
    assert answered is not None and answered.result_code == 2001
    second = [dwas for conn, dwas in raw.ccrs if conn == 1]
    assert second and min(second) >= 3, raw.ccrs
    await cli.stop()
    await raw.close()


@aio
async def test_reopen_can_be_relaxed():
    raw = RawServer()
    port = await raw.start()
    cli = await client([("server.test.realm", port)], tw=30, strict_reopen=False)
    raw.reset(0)
    for _ in range(200):
        if len(raw.connections) == 2 and cli.peers["server.test.realm"].is_open:
            break
        await asyncio.sleep(0.02)
    a = await cli.request(ccr("client.test.realm", 1), timeout=3)
    assert a.result_code == 2001 and raw.ccrs[0][0] == 1 and raw.ccrs[0][1] < 3
    await cli.stop()
    await raw.close()


def test_a_dwr_at_once_after_opening_means_the_peer_is_in_reopen():
    a, b = pair(tw=10)
    b.reopen = True  # b failed before: it sends a DWR as soon as it is open
    a.start(0.0)
    b.start(0.0)
    ea, _ = pump(a, b, 0.1)
    assert WatchdogChange(WatchdogAction.PEER_REOPEN) in ea
    assert a.peer_reopen and not a.ready
    now = 0.1
    while not b.watchdog.is_okay:
        now = b.watchdog.deadline
        b.handle_timer(now)
        ea, _ = pump(a, b, now)
    assert WatchdogChange(WatchdogAction.PEER_OKAY) in ea and a.ready


def test_a_late_first_dwr_is_the_ordinary_watchdog():
    a, b = pair(tw=10)
    a.start(0.0)
    b.start(0.0)
    pump(a, b, 0.0)
    now = b.watchdog.deadline
    b.handle_timer(now)
    ea, _ = pump(a, b, now)
    assert not any(isinstance(e, WatchdogChange) for e in ea) and a.ready
