"""Wireshark's verdict on the base protocol messages our node really puts on the wire.

A raw asyncio peer (hand-built answers from ``wire``) records every message
the node sends as client and as server: CER, DWR, DPR and CEA, DWA, DPA.
tshark must dissect each one without error or warning.
"""

from __future__ import annotations

import asyncio

import pytest

from diameter.node.aio.node import DiameterNode

from . import wire
from .tshark import dissect

pytestmark = pytest.mark.interop

RAW = "raw.peer.test"
REALM = "peer.test"


def ok_answer(req: wire.RawMessage, *extra: bytes) -> bytes:
    return wire.answer_to(req, [
        wire.avp_u32(wire.RESULT_CODE, wire.DIAMETER_SUCCESS),
        wire.avp_str(wire.ORIGIN_HOST, RAW),
        wire.avp_str(wire.ORIGIN_REALM, REALM),
        *extra,
    ])


def cea(req: wire.RawMessage) -> bytes:
    return ok_answer(req, wire.avp_address(wire.HOST_IP_ADDRESS, "127.0.0.1"),
                     wire.avp_u32(wire.VENDOR_ID, 0),
                     wire.avp_str(wire.PRODUCT_NAME, "raw", mandatory=False),
                     wire.avp_u32(wire.AUTH_APPLICATION_ID, 4))


def check_clean(messages: list[bytes], expected: list[tuple[int, bool]]) -> None:
    results = dissect(messages)
    assert [(d.command_code, d.is_request) for d in results] == expected
    for d in results:
        assert d.errors == [] and d.warnings == [], d
        assert d.find("Origin-Host")[0].value == "node.ours.test"
        assert d.find("Origin-Realm")[0].value == "ours.test"


def test_node_as_client_sends_clean_cer_dwr_dpr(free_tcp_port):
    sent_by_node: list[bytes] = []

    async def handle(reader, writer):
        try:
            while True:
                data = await wire.read_message(reader, 10)
                sent_by_node.append(data)
                msg = wire.parse_message(data)
                if msg.command == wire.CMD_CAPABILITIES_EXCHANGE:
                    writer.write(cea(msg))
                elif msg.is_request:
                    writer.write(ok_answer(msg))
                await writer.drain()
                if msg.command == wire.CMD_DISCONNECT_PEER:
                    return
        except asyncio.IncompleteReadError:
            return
        finally:
            writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", free_tcp_port)
        async with server:
            n = DiameterNode("node.ours.test", "ours.test", ip_addresses=["127.0.0.1"], tw=0.5,
                             decode=bytes)
            n.add_application(4)
            peer = n.add_peer(RAW, REALM, ["127.0.0.1"], port=free_tcp_port)
            await n.start()
            try:
                await n.connect(peer, timeout=5)
                for _ in range(200):  # the watchdog (Tw 0.5 s + jitter) sends a DWR
                    if any(wire.parse_message(m).command == wire.CMD_DEVICE_WATCHDOG
                           for m in sent_by_node):
                        break
                    await asyncio.sleep(0.05)
            finally:
                await n.stop(timeout=5)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    kinds = [wire.parse_message(m).command for m in sent_by_node]
    assert kinds[0] == wire.CMD_CAPABILITIES_EXCHANGE
    assert wire.CMD_DEVICE_WATCHDOG in kinds and kinds[-1] == wire.CMD_DISCONNECT_PEER
    first = {}
    for m in sent_by_node:
        first.setdefault(wire.parse_message(m).command, m)
    check_clean([first[c] for c in (257, 280, 282)], [(257, True), (280, True), (282, True)])
    cer = dissect([first[257]])[0]
    assert [a.value for a in cer.find("Host-IP-Address")] == ["00:01:7f:00:00:01"]  # IPv4 127.0.0.1
    assert [a.value for a in cer.find("Auth-Application-Id")] == ["4"]


def test_node_as_server_sends_clean_cea_dwa_dpa(free_tcp_port):
    async def scenario() -> list[bytes]:
        n = DiameterNode("node.ours.test", "ours.test", ip_addresses=["127.0.0.1"],
                         tcp_port=free_tcp_port, listen_addresses=["127.0.0.1"], decode=bytes)
        n.add_application(4)
        n.add_peer(RAW, REALM)
        await n.start()
        got: list[bytes] = []
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", free_tcp_port)
            for req in (wire.cer(RAW, REALM, auth_apps=(4,), hop_by_hop=1),
                        wire.dwr(RAW, REALM, hop_by_hop=2),
                        wire.dpr(RAW, REALM, hop_by_hop=3)):
                writer.write(req)
                await writer.drain()
                got.append(await wire.read_message(reader, 5))
            writer.close()
            await writer.wait_closed()
        finally:
            await n.stop(timeout=2)
        return got

    answers = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [wire.parse_message(a).one(wire.RESULT_CODE).u32() for a in answers] == [2001] * 3
    check_clean(answers, [(257, False), (280, False), (282, False)])
