"""TLS (at connect and in-band) with real certificates, and 1,000 concurrent peers."""
from __future__ import annotations

import asyncio
import resource

import pytest

from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import (
    AVP_RESULT_CODE, DIAMETER_NO_COMMON_SECURITY, FLAG_REQUEST, INBAND_TLS)

from .aio_helpers import REALM, RawPeer, answer_for, ccr
from .certs import contexts, make_pki
from .test_aio_node import aio


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_pki(d, ["server.test.realm", "client.test.realm"])
    rogue = tmp_path_factory.mktemp("rogue")
    make_pki(rogue, ["client.test.realm"], ca_name="Rogue CA")
    return d, rogue


async def _pair(srv_ctx, cli_ctx, *, tls_at_connect: bool, inband: bool, require=False):
    srv = DiameterNode("server.test.realm", REALM, listen_addresses=["127.0.0.1"],
                       tcp_port=None if tls_at_connect else 0, tls_port=0 if tls_at_connect else None,
                       ssl_server=srv_ctx[0], ssl_client=srv_ctx[1], inband_tls=inband, require_inband_tls=require)
    srv.add_application(4, answer_for("server.test.realm"))
    srv.add_peer("client.test.realm")
    await srv.start()
    cli = DiameterNode("client.test.realm", REALM, ssl_server=cli_ctx[0], ssl_client=cli_ctx[1],
                       inband_tls=inband, require_inband_tls=require, ce_timeout=3)
    cli.add_application(4)
    cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True,
                 tls="tls" if tls_at_connect else "none", reconnect_wait=5)
    await cli.start()
    return srv, cli


@aio
async def test_tls_at_connect_with_mutual_verification(pki):
    d, _ = pki
    srv, cli = await _pair(contexts(d, "server.test.realm"), contexts(d, "client.test.realm"),
                           tls_at_connect=True, inband=False)
    await cli.wait_open("server.test.realm", 5)
    t = cli.peers["server.test.realm"].protocol.transport
    assert t.get_extra_info("ssl_object") is not None
    peercert = t.get_extra_info("peercert")
    assert dict(x[0] for x in peercert["subject"])["commonName"] == "server.test.realm"
    ans = await cli.request(ccr("client.test.realm", 1))
    assert ans.result_code == 2001
    await cli.stop()
    await srv.stop()


@aio
async def test_inband_tls_after_cer_cea(pki):
    d, _ = pki
    srv, cli = await _pair(contexts(d, "server.test.realm"), contexts(d, "client.test.realm"),
                           tls_at_connect=False, inband=True, require=True)
    await cli.wait_open("server.test.realm", 5)
    t = cli.peers["server.test.realm"].protocol.transport
    assert t.get_extra_info("ssl_object") is not None
    assert cli.peers["server.test.realm"].negotiated.tls
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(20)))
    assert all(a.result_code == 2001 for a in answers)
    await cli.stop()
    await srv.stop()


@aio
async def test_untrusted_client_certificate_is_refused(pki):
    d, rogue = pki
    srv, cli = await _pair(contexts(d, "server.test.realm"), contexts(rogue, "client.test.realm"),
                           tls_at_connect=True, inband=False)
    await asyncio.sleep(1.0)
    assert not cli.peers["server.test.realm"].is_open
    assert "client.test.realm" not in srv.peers or not srv.peers["client.test.realm"].is_open
    await cli.stop()
    await srv.stop()


@aio
async def test_inband_tls_refused_by_plain_peer_is_5017():
    srv = DiameterNode("server.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"])
    srv.add_application(4, answer_for("server.test.realm"))
    srv.add_peer("client.test.realm")
    await srv.start()
    raw = await RawPeer.connect(srv.listen_ports[0])
    from diameter.node.protocol.capabilities import Capabilities
    c = Capabilities("client.test.realm", REALM, ["127.0.0.1"], 0, "raw", 1, set(), {4},
                     inband_security_ids={INBAND_TLS})
    raw.send(A.message(FLAG_REQUEST, 257, 0, 1, 1, c.avps()))
    cea = await raw.recv()
    assert A.as_u32(A.find(cea, AVP_RESULT_CODE)) == DIAMETER_NO_COMMON_SECURITY
    assert await raw.closed()
    await srv.stop()


@aio
async def test_thousand_concurrent_peer_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2200:
        pytest.skip("cannot raise RLIMIT_NOFILE to 2200 for 1,000 connections")
    srv = DiameterNode("server.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                       accept_unknown_peers=True)
    srv.add_application(4, answer_for("server.test.realm"))
    await srv.start()
    port = srv.listen_ports[0]
    n = 1000
    sem = asyncio.Semaphore(200)

    async def one(i):
        async with sem:
            raw = await RawPeer.connect(port)
            assert await raw.cer(f"peer{i}.test.realm") == 2001
        return raw
    raws = await asyncio.gather(*(one(i) for i in range(n)))
    assert sum(1 for p in srv.peers.values() if p.is_open) == n
    from .helpers import app_request, result_of
    for i, raw in enumerate(raws):
        raw.send(app_request(origin=f"peer{i}.test.realm", hbh=i, e2e=i + 1))
    answers = await asyncio.gather(*(raw.recv() for raw in raws))
    assert [result_of(a) for a in answers] == [2001] * n
    for raw in raws:
        raw.close()
    await srv.stop(timeout=1)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
