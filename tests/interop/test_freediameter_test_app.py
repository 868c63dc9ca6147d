"""freeDiameter's own test_app against our node, both ways (issue 12, findings 1 and 7).

* freeDiameter's benchmark client (100 requests in flight, 2 s) against a
  server written with our asyncio API, validation on: every request answered
  with DIAMETER_SUCCESS (before the grammar lookup by application, every one
  got 5005 from Ericsson's Charging-Interrogation grammar).
* freeDiameter's test_app server answering our client's Test-Requests.

test_app.fdx is built from Debian's freeDiameter source (tools/build_fd_test_app.sh,
cached); the speed comparison is bench/vs_freediameter.py.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from diameter.message import Message
from diameter.node.aio.node import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import FLAG_PROXYABLE, FLAG_REQUEST

from .fd_test_app import (TEST_APP_ID, TEST_AVP, TEST_COMMAND, TEST_VENDOR_ID, app_config,
                          build_test_app, run_bench)
from .freediameter import ConnectPeer, free_tcp_port

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def test_app_fdx() -> Path:
    return build_test_app()


def run(coro, timeout: float = 90.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_freediameter_bench_client_against_our_asyncio_server(freediameter, tmp_path, test_app_fdx):
    port = free_tcp_port()
    handled = [0]

    async def on_test_request(req: Message) -> Message:
        handled[0] += 1
        ans = req.to_answer()
        ans.session_id = req.session_id
        ans.result_code = 2001
        ans.origin_host = b"server.ours.test"
        ans.origin_realm = b"ours.test"
        for avp in req.find_avps((TEST_AVP, TEST_VENDOR_ID)):
            ans.append_avp(avp)
        return ans

    async def scenario() -> None:
        n = DiameterNode("server.ours.test", "ours.test", tcp_port=port,
                         listen_addresses=["127.0.0.1"], ip_addresses=["127.0.0.1"], validate=True)
        n.add_application(TEST_APP_ID, on_test_request, vendor_id=TEST_VENDOR_ID)
        peer = n.add_peer("client.fd.test", "fd.test")
        await n.start()
        try:
            fd = await asyncio.to_thread(
                freediameter, "client.fd.test", "fd.test",
                peers=[ConnectPeer("server.ours.test", port, realm="ours.test")],
                extra_config=app_config(tmp_path / "ta", test_app_fdx, mode="client",
                                        dest_realm="ours.test", bench=(2, 100)))
            await n.wait_open(peer, timeout=15)
            await asyncio.to_thread(fd.wait_peer_state, "server.ours.test", "STATE_OPEN")
            res = await asyncio.to_thread(run_bench, fd, 2)
        finally:
            await n.stop(timeout=5)
        assert res.sent > 100, res
        assert res.errors == 0 and res.final_errors == 0, res
        assert res.answers > 0 and res.final_answers == res.sent, res
        assert handled[0] == res.sent
        assert "ROUTING ERROR" not in fd.log() and "PARSING ERROR" not in fd.log()

    run(scenario())


def test_freediameter_test_app_server_answers_our_client(freediameter, tmp_path, test_app_fdx):
    async def scenario() -> None:
        fd = await asyncio.to_thread(
            freediameter, "server.fd.test", "fd.test", allow=["*.ours.test"],
            extra_config=app_config(tmp_path / "ta", test_app_fdx, mode="server"))
        n = DiameterNode("client.ours.test", "ours.test", ip_addresses=["127.0.0.1"], decode=bytes)
        n.add_application(TEST_APP_ID, vendor_id=TEST_VENDOR_ID)
        peer = n.add_peer("server.fd.test", "fd.test", ["127.0.0.1"], port=fd.port)
        await n.start()
        try:
            await n.connect(peer, timeout=10)
            assert (TEST_VENDOR_ID, TEST_APP_ID, None) in peer.capabilities.vendor_specific_application_ids
            reqs = [A.message(FLAG_REQUEST | FLAG_PROXYABLE, TEST_COMMAND, TEST_APP_ID, 0, 0, [
                A.text(263, f"client.ours.test;1;{i}"), A.text(264, "client.ours.test"),
                A.text(296, "ours.test"), A.text(283, "fd.test"),
                A.avp(TEST_AVP, (1000 + i).to_bytes(4, "big"), vendor=TEST_VENDOR_ID,
                      mandatory=False)]) for i in range(50)]
            answers = await asyncio.gather(*(n.request_bytes(r, timeout=10) for r in reqs))
        finally:
            await n.stop(timeout=5)
        for i, ans in enumerate(answers):
            assert int.from_bytes(ans[4:8], "big") & 0xFFFFFF == TEST_COMMAND
            assert not ans[4] & FLAG_REQUEST
            assert A.as_u32(A.find(ans, 268)) == 2001
            assert A.find(ans, 263) == f"client.ours.test;1;{i}".encode()
            assert A.find(ans, TEST_AVP, TEST_VENDOR_ID) == (1000 + i).to_bytes(4, "big")
            assert A.find(ans, 264) == b"server.fd.test"

    run(scenario())
