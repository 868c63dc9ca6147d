"""python-diameter's threaded Node/Application API, in the patterns of its examples."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from diameter.message.commands.credit_control import (CreditControlAnswer, CreditControlRequest,
                                                      RequestedServiceUnit)
from diameter.message.constants import (
    APP_DIAMETER_CREDIT_CONTROL_APPLICATION, APP_RELAY, E_CC_REQUEST_TYPE_EVENT_REQUEST,
    E_REQUESTED_ACTION_DIRECT_DEBITING, E_RESULT_CODE_DIAMETER_SUCCESS,
    E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY, E_SUBSCRIPTION_ID_TYPE_END_USER_E164, VENDOR_ETSI,
    VENDOR_TGPP, VENDOR_TGPP2)
from diameter.node import Node, NotRoutable, SessionGenerator, parse_diameter_uri
from diameter.node.application import (Application, ApplicationError, SimpleThreadingApplication,
                                       ThreadingApplication)
from diameter.node.peer import PEER_READY


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_ccr(app: Application, n: int = 1) -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = app.node.session_generator.next_id()
    ccr.origin_host = app.node.origin_host.encode()
    ccr.origin_realm = app.node.realm_name.encode()
    ccr.destination_realm = app.node.realm_name.encode()
    ccr.auth_application_id = app.application_id
    ccr.service_context_id = "32274@3gpp.org"
    ccr.cc_request_type = E_CC_REQUEST_TYPE_EVENT_REQUEST
    ccr.cc_request_number = n
    ccr.requested_action = E_REQUESTED_ACTION_DIRECT_DEBITING
    ccr.add_subscription_id(subscription_id_type=E_SUBSCRIPTION_ID_TYPE_END_USER_E164,
                            subscription_id_data="41780000001")
    ccr.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_service_specific_units=1), service_identifier=1)
    return ccr


def ocs_handler(app, message):
    answer = app.generate_answer(message, result_code=E_RESULT_CODE_DIAMETER_SUCCESS)
    answer.cc_request_type = message.cc_request_type
    answer.cc_request_number = message.cc_request_number
    return answer


@pytest.fixture()
def ocs():
    port = free_port()
    node = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port,
                vendor_ids=[VENDOR_ETSI, VENDOR_TGPP, VENDOR_TGPP2])
    gw = node.add_peer("aaa://smsgw.gy", "testrealm.local")
    app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True,
                                     request_handler=ocs_handler)
    node.add_application(app, [gw])
    node.start()
    yield node, port
    node.stop()


def test_credit_control_client_pattern(ocs):
    # start() before add_application, then wait_for_ready + send_request, like the example
    _srv, port = ocs
    node = Node("smsgw.gy", "testrealm.local", vendor_ids=[VENDOR_ETSI, VENDOR_TGPP, VENDOR_TGPP2])
    assert node.statistics.avg_response_time == {}
    ocs_peer = node.add_peer(f"aaa://ocs.gy:{port}", "testrealm.local", ip_addresses=["127.0.0.1"],
                             is_persistent=True)
    node.start()
    client = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(client, [ocs_peer])
    client.wait_for_ready(timeout=10)
    cca = client.send_request(make_ccr(client), timeout=5)
    assert isinstance(cca, CreditControlAnswer)
    assert cca.result_code == E_RESULT_CODE_DIAMETER_SUCCESS
    assert cca.header.hop_by_hop_identifier and cca.origin_host == b"ocs.gy"
    assert ocs_peer.connection.state == PEER_READY
    assert ocs_peer.counters.requests == 1 and ocs_peer.counters.answers == 1
    srv_node = _srv
    stats = srv_node.statistics
    assert stats.avg_response_time["Credit-Control"] > 0
    assert stats.sent_result_code_range_counters["2xxx"] == [1, 1, 1]
    assert stats.received_req_counters[0] >= 1
    gw = srv_node.peers["smsgw.gy"]
    assert gw.statistics.avg_response_time["Credit-Control"] > 0
    assert gw.connection.is_receiver and ocs_peer.connection.is_sender
    node.stop()


def test_many_threads_send_concurrently(ocs):
    _srv, port = ocs
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    client.wait_for_ready(10)
    results: list = []

    def worker(k):
        for i in range(25):
            results.append(client.send_request(make_ccr(client, k * 100 + i), timeout=5).result_code)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [2001] * 200
    node.stop()


def test_idle_client_server_pattern_exchange_watchdogs():
    # like idle_server.py/idle_client.py: relay application, server connects to client
    cport = free_port()
    client = Node("relay2.test.realm", "test.realm", ip_addresses=["127.0.0.2"], tcp_port=cport,
                  vendor_ids=[VENDOR_ETSI, VENDOR_TGPP, VENDOR_TGPP2])
    client.idle_timeout = 1
    cpeer = client.add_peer("aaa://relay1.test.realm")
    capp = SimpleThreadingApplication(APP_RELAY, is_auth_application=True)
    client.add_application(capp, [cpeer])
    client.start()
    server = Node("relay1.test.realm", "test.realm", ip_addresses=["127.0.0.1"], tcp_port=free_port(),
                  vendor_ids=[VENDOR_ETSI, VENDOR_TGPP, VENDOR_TGPP2])
    server.idle_timeout = 1
    speer = server.add_peer(f"aaa://relay2.test.realm:{cport}", ip_addresses=["127.0.0.2"], is_persistent=True)
    speer.reconnect_wait = 1
    sapp = SimpleThreadingApplication(APP_RELAY, is_auth_application=True)
    server.add_application(sapp, [speer])
    server.start()
    sapp.wait_for_ready(10)
    capp.wait_for_ready(10)
    deadline = time.time() + 10
    while time.time() < deadline and not (speer.statistics.commands[280].answers_received
                                          or cpeer.statistics.commands[280].answers_received):
        time.sleep(0.1)
    assert speer.statistics.commands[280].answers_received or cpeer.statistics.commands[280].answers_received
    server.stop()
    client.stop()


class EchoApp(Application):
    """A base Application answering from handle_request via send_answer."""

    def handle_request(self, message):
        self.send_answer(ocs_handler(self, message))


class CountingApp(ThreadingApplication):
    seen = 0

    def handle_request(self, message):
        CountingApp.seen += 1
        return ocs_handler(self, message)


@pytest.mark.parametrize("app_cls", [EchoApp, CountingApp])
def test_application_subclasses(app_cls):
    port = free_port()
    srv = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    gw = srv.add_peer("aaa://smsgw.gy")
    srv.add_application(app_cls(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True), [gw])
    srv.start()
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    client.wait_for_ready(10)
    assert client.send_request(make_ccr(client), timeout=5).result_code == 2001
    node.stop()
    srv.stop()


def test_not_ready_and_not_routable():
    node = Node("lonely.gy", "testrealm.local")
    peer = node.add_peer("aaa://nobody.gy:1", ip_addresses=["127.0.0.1"], is_persistent=True)
    app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(app, [peer])
    node.start()
    with pytest.raises(ApplicationError):
        app.wait_for_ready(timeout=0.3)
    with pytest.raises(NotRoutable):
        app.send_request(make_ccr(app), timeout=1)
    node.stop()


def test_helpers():
    u = parse_diameter_uri("aaas://host.example.com;transport=tcp")
    assert (u.scheme, u.fqdn, u.port, u.params, u.is_secure) == ("aaas", "host.example.com", 5658,
                                                                 {"transport": "tcp"}, True)
    assert parse_diameter_uri("aaa://h.x:3869").port == 3869
    with pytest.raises(ValueError):
        parse_diameter_uri("h.x")
    g = SessionGenerator("h.x")
    a, b = g.next_id(), g.next_id("opt")
    assert a.startswith("h.x;") and b.endswith(";opt") and a != b


def test_failing_handler_gives_unable_to_comply_answer():
    port = free_port()
    srv = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    gw = srv.add_peer("aaa://smsgw.gy")

    def broken(app, msg):
        raise RuntimeError("handler bug")
    srv.add_application(SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                                   is_auth_application=True, request_handler=broken), [gw])
    srv.start()
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    client.wait_for_ready(10)
    ans = client.send_request(make_ccr(client), timeout=5)
    assert ans.result_code == E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY
    node.stop()
    srv.stop()


def test_unknown_peer_is_refused_by_threaded_node():
    port = free_port()
    srv = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    srv.add_application(SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                                   is_auth_application=True, request_handler=ocs_handler), [])
    srv.start()
    node = Node("intruder.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    client = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(client, [peer])
    node.start()
    with pytest.raises(ApplicationError):
        client.wait_for_ready(1)
    assert peer._info.stats.cmd(257).answers_received >= 1
    node.stop()
    srv.stop()


def test_manual_send_message_through_peer_connection(ocs):
    # the "send messages through a peer" pattern: ids set by hand, node.send_message
    from diameter.node.peer import PEER_READY_STATES
    _srv, port = ocs
    got = []

    class Collector(SimpleThreadingApplication):
        def handle_answer(self, message):
            got.append(message)
    node = Node("smsgw.gy", "testrealm.local")
    peer = node.add_peer(f"aaa://ocs.gy:{port}", ip_addresses=["127.0.0.1"], is_persistent=True)
    app = Collector(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(app, [peer])
    node.start()
    app.wait_for_ready(10)
    assert peer.connection and peer.connection.state in PEER_READY_STATES
    ccr = make_ccr(app)
    ccr.header.end_to_end_identifier = node.end_to_end_seq.next_sequence()
    ccr.header.hop_by_hop_identifier = peer.connection.hop_by_hop_seq.next_sequence()
    ccr.header.application_id = app.application_id
    node.send_message(peer.connection, ccr)
    deadline = time.time() + 5
    while not got and time.time() < deadline:
        time.sleep(0.02)
    assert got and got[0].result_code == 2001
    assert got[0].header.end_to_end_identifier == ccr.header.end_to_end_identifier
    node.stop()


def test_custom_peer_route_select_func_is_used():
    ports = [free_port(), free_port()]
    servers = []
    for name, port in zip(("ocs1.gy", "ocs2.gy"), ports):
        srv = Node(name, "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
        gw = srv.add_peer("aaa://smsgw.gy")
        srv.add_application(SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                                       is_auth_application=True, request_handler=ocs_handler), [gw])
        srv.start()
        servers.append(srv)
    node = Node("smsgw.gy", "testrealm.local")
    peers = [node.add_peer(f"aaa://ocs{i + 1}.gy:{p}", ip_addresses=["127.0.0.1"], is_persistent=True)
             for i, p in enumerate(ports)]
    calls = []

    def always_second(n, app, message, candidates):
        calls.append(len(candidates))
        return [p for p in candidates if p.node_name == "ocs2.gy"][0]
    node.peer_route_select_func = always_second
    app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(app, peers)
    node.start()
    deadline = time.time() + 10
    while time.time() < deadline and not all(p.connection and p.connection.state == PEER_READY for p in peers):
        time.sleep(0.05)
    answers = [app.send_request(make_ccr(app, i), timeout=5) for i in range(5)]
    assert {a.origin_host for a in answers} == {b"ocs2.gy"} and calls == [2] * 5
    node.stop()
    for srv in servers:
        srv.stop()


@pytest.mark.parametrize("app_class", [Application, ThreadingApplication])
def test_application_without_handler_answers_5012(app_class):
    port = free_port()
    server = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=port)
    gw = server.add_peer("aaa://smsgw.gy", "testrealm.local")
    server.add_application(app_class(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                     is_auth_application=True), [gw])
    server.start()
    client = Node("smsgw.gy", "testrealm.local")
    peer = client.add_peer(f"aaa://ocs.gy:{port}", "testrealm.local", ip_addresses=["127.0.0.1"],
                           is_persistent=True)
    client.start()
    try:
        app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                         is_auth_application=True)
        client.add_application(app, [peer])
        app.wait_for_ready(timeout=10)
        cca = app.send_request(make_ccr(app), timeout=5)
        assert cca.result_code == E_RESULT_CODE_DIAMETER_UNABLE_TO_COMPLY
        assert cca.error_message == "no request handler"
    finally:
        client.stop()
        server.stop()
