"""The credit-control layer on python-diameter-style threaded Nodes (loopback)."""
from __future__ import annotations

import socket
import time

from diameter.cc import CCResult, Grant, RequestedAction, Units
from diameter.cc.client_core import ClientState, Decision
from diameter.cc.threaded import ThreadedCreditControlClient, ThreadedCreditControlServer
from diameter.cc.types import RequestType
from diameter.node import Node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ocs:  # plain functions: they run in the server's worker pool
    def __init__(self) -> None:
        self.calls = []

    def on_initial(self, req):
        self.calls.append(req)
        return CCResult(grants=[Grant(m.rating_group, granted=Units(time=60)) for m in req.mscc])

    on_update = on_termination = on_event = on_initial


def test_threaded_session_event_and_rar():
    port = free_port()
    srv_node = Node("ocs.test.realm", "test.realm", ip_addresses=["127.0.0.1"], tcp_port=port)
    client_peer = srv_node.add_peer("aaa://pgw.test.realm", "test.realm")
    ocs = Ocs()
    server = ThreadedCreditControlServer(srv_node, ocs, [client_peer], tcc=30)
    cli_node = Node("pgw.test.realm", "test.realm", ip_addresses=["127.0.0.1"])
    ocs_peer = cli_node.add_peer(f"aaa://ocs.test.realm:{port}", "test.realm", ip_addresses=["127.0.0.1"],
                                 is_persistent=True)
    cc = ThreadedCreditControlClient(cli_node, [ocs_peer], tx=2)
    srv_node.start()
    server.attach()
    cli_node.start()
    _ = cc.client
    try:
        app = cli_node.applications[0]
        app.wait_for_ready(10)
        s = cc.start(subscription_id="41780000001", requested=Units(time=60), rating_group=10)
        assert s.outcome.decision is Decision.GRANTED and s.state is ClientState.OPEN
        assert s.session_id in server.sessions
        assert s.update(used=Units(time=30)).decision is Decision.GRANTED
        assert server.re_auth(s.session_id) == 2001
        for _ in range(100):
            if len(ocs.calls) == 3 and s.state is ClientState.OPEN:
                break
            time.sleep(0.02)
        assert ocs.calls[2].request_type is RequestType.UPDATE and 7 in ocs.calls[2].mscc[0].reporting_reasons
        assert s.terminate(used=Units(time=1)).decision is Decision.ENDED and server.sessions == {}
        o = cc.event(requested_action=RequestedAction.PRICE_ENQUIRY, subscription_id="41780000001",
                     requested=Units(service_specific=1), rating_group=10)
        assert o.decision is Decision.GRANTED and ocs.calls[-1].requested_action == 3
    finally:
        cli_node.stop(wait_timeout=2)
        server.close()
        srv_node.stop(wait_timeout=2)
