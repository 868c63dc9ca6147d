"""TLS listeners: failed handshakes are logged and counted; no TLS 1.3 session tickets by default."""
from __future__ import annotations

import asyncio
import logging
import ssl

import pytest

from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import Capabilities
from diameter.node.protocol.constants import CMD_CAPABILITIES_EXCHANGE, FLAG_REQUEST

from .aio_helpers import REALM, answer_for
from .certs import contexts, make_pki
from .test_aio_node import aio


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_pki(d, ["server.test.realm", "client.test.realm"])
    return d


async def _tls_server(pki, **kw) -> DiameterNode:
    srv_ctx, _ = contexts(pki, "server.test.realm")
    srv = DiameterNode("server.test.realm", REALM, listen_addresses=["127.0.0.1"], tls_port=0,
                       ssl_server=srv_ctx, **kw)
    srv.add_application(4, answer_for("server.test.realm"))
    srv.add_peer("client.test.realm")
    await srv.start()
    return srv


@aio
async def test_failed_tls_handshake_is_logged_with_address_and_counted(pki, caplog):
    srv = await _tls_server(pki)
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        r, w = await asyncio.open_connection("127.0.0.1", srv.listen_ports[0])
        local = w.get_extra_info("sockname")
        w.write(b"this is not a TLS ClientHello\r\n" * 4)
        assert await asyncio.wait_for(r.read(), 5) is not None  # the server hangs up
        w.close()
        for _ in range(50):
            if srv.tls_handshake_failures:
                break
            await asyncio.sleep(0.02)
    assert srv.tls_handshake_failures == 1
    assert f"TLS handshake with 127.0.0.1:{local[1]} failed" in caplog.text
    await srv.stop()


@aio
async def test_tls_listener_sends_no_session_tickets(pki):
    srv = await _tls_server(pki)
    _, cli_ctx = contexts(pki, "client.test.realm")
    cli_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    r, w = await asyncio.open_connection("127.0.0.1", srv.listen_ports[0], ssl=cli_ctx,
                                         server_hostname="server.test.realm")
    c = Capabilities("client.test.realm", REALM, ["127.0.0.1"], 0, "raw", 1, set(), {4})
    w.write(A.message(FLAG_REQUEST, CMD_CAPABILITIES_EXCHANGE, 0, 1, 1, c.avps()))
    head = await asyncio.wait_for(r.readexactly(20), 5)  # the CEA: tickets would have come before it
    await asyncio.wait_for(r.readexactly(int.from_bytes(head[1:4], "big") - 20), 5)
    obj = w.get_extra_info("ssl_object")
    assert obj.version() == "TLSv1.3"
    assert not obj.session.has_ticket
    w.close()
    await srv.stop()


@aio
async def test_tls_session_tickets_can_be_turned_back_on(pki):
    srv = await _tls_server(pki, tls_session_tickets=True)
    assert srv.ssl_server.num_tickets > 0
    await srv.stop()
