"""The threaded (python-diameter style) Node validates requests like the asyncio node."""
from __future__ import annotations

import socket

from interop.wire import RawMessage, parse_avps, parse_message

from diameter.message.constants import APP_DIAMETER_CREDIT_CONTROL_APPLICATION, E_RESULT_CODE_DIAMETER_SUCCESS
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Capabilities
from diameter.node.protocol.constants import (
    AVP_ERROR_REPORTING_HOST, AVP_FAILED_AVP, AVP_RESULT_CODE, CMD_CAPABILITIES_EXCHANGE,
    DIAMETER_MISSING_AVP, DIAMETER_SUCCESS, FLAG_ERROR, FLAG_PROXYABLE, FLAG_REQUEST)
from diameter.node.protocol.framing import FrameDecoder

from .helpers import app_request
from .test_node_validation import _split, huawei_ccr
from .test_threaded_api import free_port

REALM = "test.realm"


class BlockingPeer:
    """A hand-driven peer on a blocking loopback socket."""

    def __init__(self, port: int, identity: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.decoder = FrameDecoder()
        self.frames: list[bytes] = []
        c = Capabilities(identity, REALM, ["127.0.0.1"], 0, "raw", 1, set(), {4})
        cea = self.exchange(A.message(FLAG_REQUEST, CMD_CAPABILITIES_EXCHANGE, 0, 1, 1, c.avps()))
        assert cea.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS

    def exchange(self, request: bytes) -> RawMessage:
        self.sock.sendall(request)
        while not self.frames:
            data = self.sock.recv(65536)
            assert data, "connection closed"
            self.frames += self.decoder.feed(data)
        return parse_message(self.frames.pop(0))

    def close(self) -> None:
        self.sock.close()


def start_ocs(calls: list, peers: dict[str, str | None], validate_app: bool | None = None,
              validate_node: bool = True) -> tuple[Node, int]:
    port = free_port()
    node = Node("server.test.realm", REALM, ip_addresses=["127.0.0.1"], tcp_port=port)
    node.validate_received_request_avps = validate_node
    known = [node.add_peer(f"aaa://{name}", REALM, dialect=d) for name, d in peers.items()]

    def handle(app, message):
        calls.append(message)
        answer = app.generate_answer(message, result_code=E_RESULT_CODE_DIAMETER_SUCCESS)
        answer.cc_request_type = message.cc_request_type
        answer.cc_request_number = message.cc_request_number
        return answer
    app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True,
                                     request_handler=handle)
    app.validate_requests = validate_app
    node.add_application(app, known)
    node.start()
    return node, port


def test_threaded_node_answers_invalid_requests_without_calling_the_handler():
    calls: list = []
    node, port = start_ocs(calls, {"raw.test.realm": None})
    try:
        raw = BlockingPeer(port, "raw.test.realm")
        good = app_request(origin="raw.test.realm", hbh=5, e2e=5)
        missing = A.message(FLAG_REQUEST | FLAG_PROXYABLE, 272, 4, 6, 6,
                            [a for a in _split(good) if int.from_bytes(a[:4], "big") != 416])
        ans = raw.exchange(missing)
        assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_MISSING_AVP and not ans.flags & FLAG_ERROR
        assert [a.code for a in parse_avps(ans.one(AVP_FAILED_AVP).data)] == [416]
        assert ans.find(AVP_ERROR_REPORTING_HOST) == []
        assert calls == []
        ans = raw.exchange(good)
        assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
        raw.close()
    finally:
        node.stop(force=True)


def test_threaded_node_validation_switches_and_dialect_keyword():
    calls: list = []
    node, port = start_ocs(calls, {"pcef.huawei.realm": "huawei", "pgw.test.realm": None})
    try:
        huawei = BlockingPeer(port, "pcef.huawei.realm")
        plain = BlockingPeer(port, "pgw.test.realm")
        ans = huawei.exchange(huawei_ccr("pcef.huawei.realm", 1))
        assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS
        assert calls[0].service_information.in_information.account_query_method == 7
        ans = plain.exchange(huawei_ccr("pgw.test.realm", 2))
        assert ans.one(AVP_RESULT_CODE).u32() == 5001 and len(calls) == 1
        huawei.close()
        plain.close()
    finally:
        node.stop(force=True)
    # python-diameter's switch turns it off for the node; Application.validate_requests wins
    for validate_node, validate_app, expect in ((False, None, 2001), (False, True, 5001),
                                                (True, False, 2001)):
        calls = []
        node, port = start_ocs(calls, {"pgw.test.realm": None}, validate_app, validate_node)
        try:
            plain = BlockingPeer(port, "pgw.test.realm")
            ans = plain.exchange(huawei_ccr("pgw.test.realm", 3))
            assert ans.one(AVP_RESULT_CODE).u32() == expect, (validate_node, validate_app)
            assert len(calls) == (1 if expect == 2001 else 0)
            plain.close()
        finally:
            node.stop(force=True)

