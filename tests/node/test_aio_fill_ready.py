"""Requests and answers completed by the node; waiting for a peer and why it did not open."""
from __future__ import annotations

import asyncio
import functools
import logging
import re
import socket

import pytest

from diameter.message.avp.grouped import ProxyInfo
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.node.aio import DiameterNode, NodeError, PeerNotReady
from diameter.node.aio.fill import SessionIds

from .aio_helpers import REALM

SESSION_RE = re.compile(r"^client\.test\.realm;\d+;\d+$")


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def start_server(app_id: int = 4, handler=None, clients=("client.test.realm",)) -> DiameterNode:
    srv = DiameterNode("server.test.realm", "server.realm", tcp_port=0,
                       listen_addresses=["127.0.0.1"], ip_addresses=["127.0.0.1"])
    seen: list = []

    def default(req):
        seen.append(req)
        return srv.answer(req, 2001)
    srv.add_application(app_id, handler or default)
    for c in clients:
        srv.add_peer(c)
    await srv.start()
    srv.seen = seen  # type: ignore[attr-defined]
    return srv


def new_client(port: int, app_id: int = 4) -> DiameterNode:
    cli = DiameterNode("client.test.realm", REALM, ip_addresses=["127.0.0.1"])
    cli.add_application(app_id)
    cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=port, persistent=True,
                 reconnect_wait=0.2)
    return cli


def test_session_ids_follow_rfc6733_8_8():
    gen = SessionIds("host.example", start=7)
    assert gen.next() == "host.example;7;0"
    assert gen.next("imsi1") == "host.example;7;1;imsi1"
    gen._low = 0xFFFFFFFF
    assert gen.next() == "host.example;7;4294967295"
    assert gen.next() == "host.example;8;0"      # the low part carries into the high part


@aio
async def test_request_and_answer_fill_themselves():
    srv = await start_server()
    cli = new_client(srv.listen_ports[0])
    await cli.start()
    peer = await cli.wait_ready(4, timeout=5)
    assert peer.identity == "server.test.realm"
    ccr = CreditControlRequest()           # no Origin-*, Session-Id or Destination-Realm
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 0
    ccr.proxy_info = [ProxyInfo(proxy_host="proxy.test.realm", proxy_state=b"st")]
    cca = await cli.request(ccr)
    assert isinstance(cca, CreditControlAnswer)
    assert cca.result_code == 2001
    assert SESSION_RE.match(ccr.session_id) and cca.session_id == ccr.session_id
    assert cca.origin_host == b"server.test.realm" and cca.origin_realm == b"server.realm"
    assert (cca.cc_request_type, cca.cc_request_number, cca.auth_application_id) == (1, 0, 4)
    assert cca.proxy_info[0].proxy_host == b"proxy.test.realm"
    req = srv.seen[0]
    assert req.origin_host == b"client.test.realm" and req.origin_realm == REALM.encode()
    assert req.destination_realm == b"server.realm"   # the peer's realm from its CEA
    second = CreditControlRequest()
    second.auth_application_id = 4
    second.service_context_id = "x"
    second.cc_request_type = 4
    second.cc_request_number = 0
    await cli.request(second)
    assert second.session_id != ccr.session_id and SESSION_RE.match(second.session_id)
    await cli.stop()
    await srv.stop()


@aio
async def test_answer_without_result_code_is_logged(caplog):
    srv = await start_server(handler=lambda req: req.to_answer())    # python-diameter style
    cli = new_client(srv.listen_ports[0])
    await cli.start()
    await cli.wait_ready(4, timeout=5)
    ccr = CreditControlRequest()
    ccr.auth_application_id = 4
    ccr.service_context_id = "x"
    ccr.cc_request_type = 4
    ccr.cc_request_number = 0
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        ans = await cli.request(ccr)
    assert ans.result_code is None
    assert any("no Result-Code" in r.getMessage() for r in caplog.records)
    await cli.stop()
    await srv.stop()


@aio
async def test_wait_ready_names_no_common_application():
    srv = await start_server(app_id=16777238)          # the server only does Gx
    cli = new_client(srv.listen_ports[0], app_id=4)
    await cli.start()
    with pytest.raises(PeerNotReady) as info:
        await cli.wait_ready(4, timeout=1.0)
    text = str(info.value)
    assert "5010 DIAMETER_NO_COMMON_APPLICATION" in text, text
    assert "server.test.realm" in info.value.reasons
    await cli.stop()
    await srv.stop()


@aio
async def test_wait_ready_names_unknown_peer():
    srv = await start_server(clients=())               # does not know the client
    cli = new_client(srv.listen_ports[0])
    await cli.start()
    with pytest.raises(PeerNotReady, match="3010 DIAMETER_UNKNOWN_PEER"):
        await cli.wait_ready(4, timeout=1.0)
    with pytest.raises(NodeError, match="3010 DIAMETER_UNKNOWN_PEER"):
        await cli.wait_open("server.test.realm", timeout=0.2)
    await cli.stop()
    await srv.stop()


@aio
async def test_wait_ready_names_connection_refused():
    cli = new_client(free_port())
    await cli.start()
    with pytest.raises(PeerNotReady, match="connect to 127.0.0.1:[0-9]+ failed: Connection"):
        await cli.wait_ready(4, timeout=0.5)
    await cli.stop()


@aio
async def test_request_before_the_peer_is_open_says_why_and_what_to_do():
    from diameter.node.aio import NotRoutable
    cli = new_client(free_port())
    await cli.start()
    await asyncio.sleep(0.2)                 # the connection attempt fails meanwhile
    ccr = CreditControlRequest()
    ccr.auth_application_id = 4
    with pytest.raises(NotRoutable, match=r"server\.test\.realm: state Closed; last failure: "
                                          r"connect to .* await node\.wait_ready\(4\)"):
        cli.request_future(ccr)
    await cli.stop()
