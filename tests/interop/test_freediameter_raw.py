"""freeDiameterd against hand-built base protocol messages on raw asyncio sockets.

These tests do not use our codec or node: they check that a real freeDiameter
accepts the wire format (CER/CEA, DWR/DWA, DPR/DPA) exactly as RFC 6733 frames
it, and they keep doing so as an independent reference once the node exists.
"""

from __future__ import annotations

import asyncio

import pytest

from . import wire
from .freediameter import ConnectPeer, free_tcp_port

pytestmark = pytest.mark.interop

REALM = "fd.test"
RAW = "raw.fd.test"


async def exchange(reader, writer, request: bytes, timeout: float = 10.0) -> wire.RawMessage:
    """Send ``request`` and return its answer, answering DWRs the peer sends meanwhile."""
    sent = wire.parse_message(request)
    writer.write(request)
    await writer.drain()
    while True:
        msg = wire.parse_message(await wire.read_message(reader, timeout))
        if msg.is_request and msg.command == wire.CMD_DEVICE_WATCHDOG:
            writer.write(dwa_for(msg))
            continue
        assert not msg.is_request, f"unexpected request {msg.command}"
        assert msg.hop_by_hop == sent.hop_by_hop and msg.end_to_end == sent.end_to_end
        return msg


def result_code(msg: wire.RawMessage) -> int:
    return msg.one(wire.RESULT_CODE).u32()


def dwa_for(req: wire.RawMessage) -> bytes:
    return wire.answer_to(req, [
        wire.avp_u32(wire.RESULT_CODE, wire.DIAMETER_SUCCESS),
        wire.avp_str(wire.ORIGIN_HOST, RAW),
        wire.avp_str(wire.ORIGIN_REALM, REALM),
    ])


def cea_for(req: wire.RawMessage) -> bytes:
    return wire.answer_to(req, [
        wire.avp_u32(wire.RESULT_CODE, wire.DIAMETER_SUCCESS),
        wire.avp_str(wire.ORIGIN_HOST, RAW),
        wire.avp_str(wire.ORIGIN_REALM, REALM),
        wire.avp_address(wire.HOST_IP_ADDRESS, "127.0.0.1"),
        wire.avp_u32(wire.VENDOR_ID, 0),
        wire.avp_str(wire.PRODUCT_NAME, "interop-raw", mandatory=False),
        wire.avp_u32(wire.AUTH_APPLICATION_ID, wire.RELAY_APPLICATION_ID),
    ])


def test_raw_client_cer_dwr_dpr_to_freediameter(freediameter):
    fd = freediameter("server.fd.test", REALM)

    async def scenario() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", fd.port)
        try:
            cea = await exchange(reader, writer, wire.cer(RAW, REALM, auth_apps=(4,), hop_by_hop=11))
            assert cea.command == wire.CMD_CAPABILITIES_EXCHANGE
            assert result_code(cea) == wire.DIAMETER_SUCCESS
            assert cea.one(wire.ORIGIN_HOST).text() == "server.fd.test"
            assert cea.one(wire.ORIGIN_REALM).text() == REALM
            assert cea.one(wire.AUTH_APPLICATION_ID).u32() == wire.RELAY_APPLICATION_ID
            fd.wait_peer_state(RAW, "STATE_OPEN")

            dwa = await exchange(reader, writer, wire.dwr(RAW, REALM, hop_by_hop=12))
            assert dwa.command == wire.CMD_DEVICE_WATCHDOG
            assert result_code(dwa) == wire.DIAMETER_SUCCESS

            dpa = await exchange(reader, writer, wire.dpr(RAW, REALM, cause=0, hop_by_hop=13))
            assert dpa.command == wire.CMD_DISCONNECT_PEER
            assert result_code(dpa) == wire.DIAMETER_SUCCESS
        finally:
            writer.close()
            await writer.wait_closed()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    fd.wait_for_log(rf"Peer '{RAW}' sent a DPR with cause: REBOOTING")
    # freeDiameter decoded our CER AVP by AVP, including the Host-IP-Address.
    cer_line = fd.wait_for_log(r"Capabilities-Exchange-Request\(257\)\[R---\].*").group(0)
    assert "Host-IP-Address(257)[-M]=127.0.0.1" in cer_line
    assert 'Product-Name(269)[--]="interop-raw"' in cer_line


def test_raw_client_not_in_acl_is_refused(freediameter):
    fd = freediameter("server.fd.test", REALM, allow=["only.fd.test"])

    async def scenario() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", fd.port)
        try:
            writer.write(wire.cer(RAW, REALM))
            await writer.drain()
            return await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await writer.wait_closed()

    data = asyncio.run(scenario())
    if data:  # freeDiameter may answer DIAMETER_UNKNOWN_PEER before closing
        cea = wire.parse_message(data)
        assert result_code(cea) == 3010
    fd.wait_for_log(rf"Rejected CER from peer '{RAW}'.*DIAMETER_UNKNOWN_PEER")
    assert "STATE_OPEN" not in fd.log()


def test_freediameter_connects_to_raw_server(freediameter):
    port = free_tcp_port()

    async def scenario() -> list[tuple[int, bool]]:
        seen: list[tuple[int, bool]] = []
        opened = asyncio.Event()
        dpr_answered = asyncio.Event()

        async def handle(reader, writer):
            try:
                cer = wire.parse_message(await wire.read_message(reader))
                seen.append((cer.command, cer.is_request))
                assert cer.command == wire.CMD_CAPABILITIES_EXCHANGE and cer.is_request
                assert cer.one(wire.ORIGIN_HOST).text() == "client.fd.test"
                writer.write(cea_for(cer))
                writer.write(wire.dwr(RAW, REALM, hop_by_hop=77, end_to_end=78))
                await writer.drain()
                opened.set()
                while not dpr_answered.is_set():
                    msg = wire.parse_message(await wire.read_message(reader, 20))
                    seen.append((msg.command, msg.is_request))
                    if msg.command == wire.CMD_DEVICE_WATCHDOG and msg.is_request:
                        writer.write(dwa_for(msg))
                    elif msg.command == wire.CMD_DEVICE_WATCHDOG:
                        assert (msg.hop_by_hop, msg.end_to_end) == (77, 78)
                        assert result_code(msg) == wire.DIAMETER_SUCCESS
                    elif msg.command == wire.CMD_DISCONNECT_PEER and msg.is_request:
                        writer.write(wire.answer_to(msg, [
                            wire.avp_u32(wire.RESULT_CODE, wire.DIAMETER_SUCCESS),
                            wire.avp_str(wire.ORIGIN_HOST, RAW),
                            wire.avp_str(wire.ORIGIN_REALM, REALM),
                        ]))
                        dpr_answered.set()
                    await writer.drain()
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            fd = await asyncio.to_thread(
                freediameter, "client.fd.test", REALM, peers=[ConnectPeer(RAW, port)])
            await asyncio.wait_for(opened.wait(), 15)
            await asyncio.to_thread(fd.wait_peer_state, RAW, "STATE_OPEN")
            # Wait until our DWR has been answered before shutting freeDiameter down.
            for _ in range(100):
                if (wire.CMD_DEVICE_WATCHDOG, False) in seen:
                    break
                await asyncio.sleep(0.05)
            # SIGTERM: freeDiameter sends DPR and waits for our DPA before exiting.
            assert await asyncio.to_thread(fd.stop, 10) == 0
            await asyncio.wait_for(dpr_answered.wait(), 5)
        return seen

    seen = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert seen[0] == (wire.CMD_CAPABILITIES_EXCHANGE, True)
    assert (wire.CMD_DEVICE_WATCHDOG, False) in seen
    assert seen[-1] == (wire.CMD_DISCONNECT_PEER, True)
