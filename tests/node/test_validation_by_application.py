"""The node validates a request against its own application's grammar (issue 12, finding 1).

freeDiameter's test_app (application 16777215, command 16777214) shares its
command code with Ericsson's Charging-Interrogation (application 16777232): a
test_app request must reach the handler, a CIR must still be validated.
"""
from __future__ import annotations

from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import FLAG_PROXYABLE, FLAG_REQUEST

from .aio_helpers import REALM, RawPeer
from .test_aio_node import aio

SERVER = "server.test.realm"
TEST_APP, ERICSSON_SCAP, CMD = 16777215, 16777232, 16777214
TEST_VENDOR, TEST_AVP = 999999, 16777215


def request(app: int, hbh: int) -> bytes:
    return A.message(FLAG_REQUEST | FLAG_PROXYABLE, CMD, app, hbh, hbh, [
        A.text(263, f"raw.test.realm;1;{hbh}"), A.text(264, "raw.test.realm"), A.text(296, REALM),
        A.text(283, REALM),
        A.avp(TEST_AVP, hbh.to_bytes(4, "big"), vendor=TEST_VENDOR, mandatory=False)])


def echo(calls: list[bytes]):
    """test_app's server: Result-Code 2001 and the Test-AVP echoed (bytes in, bytes out)."""
    def handle(data: bytes) -> bytes:
        calls.append(data)
        hbh = int.from_bytes(data[12:16], "big")
        app = int.from_bytes(data[8:12], "big")
        return A.message(FLAG_PROXYABLE, CMD, app, hbh, hbh, [
            A.avp(263, A.find(data, 263)), A.u32(268, 2001), A.text(264, SERVER), A.text(296, REALM),
            A.avp(TEST_AVP, A.find(data, TEST_AVP, TEST_VENDOR), vendor=TEST_VENDOR, mandatory=False)])
    return handle


@aio
async def test_test_app_request_reaches_its_handler_and_cir_is_validated() -> None:
    calls: list[bytes] = []
    node = DiameterNode(SERVER, REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                        ip_addresses=["127.0.0.1"], decode=bytes, validate=True)
    node.add_application(TEST_APP, echo(calls))
    node.add_application(ERICSSON_SCAP, echo(calls))
    node.add_peer("raw.test.realm")
    await node.start()
    raw = await RawPeer.connect(node.listen_ports[0])
    try:
        assert await raw.cer("raw.test.realm", apps=(TEST_APP, ERICSSON_SCAP)) == 2001
        for hbh in (1, 2, 3):
            raw.send(request(TEST_APP, hbh))
            ans = await raw.recv()
            assert ans is not None
            assert A.as_u32(A.find(ans, 268)) == 2001, A.find(ans, 281)
            assert int.from_bytes(ans[12:16], "big") == hbh
            assert A.find(ans, TEST_AVP, TEST_VENDOR) == hbh.to_bytes(4, "big")
        assert len(calls) == 3

        # the same command code in Ericsson's application: its grammar applies
        raw.send(request(ERICSSON_SCAP, 9))
        ans = await raw.recv()
        assert ans is not None and int.from_bytes(ans[12:16], "big") == 9
        assert A.as_u32(A.find(ans, 268)) == 5005
        assert b"is missing" in (A.find(ans, 281) or b"")
        assert len(calls) == 3   # the handler never saw the invalid CIR
    finally:
        raw.close()
        await node.stop(1)
