"""Election over real sockets, Proxy-Info handling and hop-by-hop rewriting by a relay."""
from __future__ import annotations

import asyncio

from diameter.message import Avp
from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import AVP_PROXY_INFO, DIAMETER_REALM_NOT_SERVED
from diameter.node.protocol.routing import RouteAction

from .aio_helpers import REALM, ccr, client, server
from .test_aio_node import aio


@aio
async def test_simultaneous_connect_election_leaves_one_connection():
    a = DiameterNode("a.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"])
    b = DiameterNode("b.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"])
    for n in (a, b):
        n.add_application(4, lambda req: None)
    await a.start()
    await b.start()
    a.add_peer("b.test.realm", addresses=["127.0.0.1"], port=b.listen_ports[0], persistent=True,
               reconnect_wait=0.2)
    b.add_peer("a.test.realm", addresses=["127.0.0.1"], port=a.listen_ports[0], persistent=True,
               reconnect_wait=0.2)
    await a.wait_open("b.test.realm", 5)
    await b.wait_open("a.test.realm", 5)
    await asyncio.sleep(0.5)
    assert a.peers["b.test.realm"].is_open and b.peers["a.test.realm"].is_open
    open_a = [p for p in a.protocols if p.conn.is_open]
    open_b = [p for p in b.protocols if p.conn.is_open]
    assert len(open_a) == 1 and len(open_b) == 1
    await a.stop()
    await b.stop()


@aio
async def test_proxy_keeps_proxy_info_and_rewrites_hop_by_hop():
    seen = []

    def handle(req):
        seen.append(req)
        ans = req.to_answer()
        ans.session_id = req.session_id
        ans.origin_host = b"server.other.realm"
        ans.origin_realm = b"other.realm"
        ans.result_code = 2001
        for p in req.find_avps((AVP_PROXY_INFO, 0)):
            ans.append_avp(p)
        return ans
    srv = await server("server.other.realm", clients=("proxy.test.realm",), handler=handle)
    proxy = DiameterNode("proxy.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"], is_relay=True)
    proxy.add_peer("client.test.realm")
    proxy.add_peer("server.other.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True)
    proxy.add_route("other.realm", ["server.other.realm"], RouteAction.PROXY, application_id=4)
    await proxy.start()
    await proxy.wait_open("server.other.realm")
    cli = await client([("proxy.test.realm", proxy.listen_ports[0])])
    req = ccr("client.test.realm", 1, dest_realm="other.realm")
    pinfo = A.grouped(AVP_PROXY_INFO, [A.text(280, "client.test.realm"), A.avp(33, b"opaque-state")])
    req.append_avp(Avp.from_bytes(pinfo))
    ans = await cli.request(req)
    assert ans.result_code == 2001
    sent_hbh = req.header.hop_by_hop_identifier
    assert seen[0].header.hop_by_hop_identifier != sent_hbh
    assert ans.header.hop_by_hop_identifier == sent_hbh
    assert ans.header.end_to_end_identifier == req.header.end_to_end_identifier
    assert [p.as_bytes() for p in ans.find_avps((AVP_PROXY_INFO, 0))] == [pinfo]
    # an error made by the proxy itself keeps Proxy-Info too
    req2 = ccr("client.test.realm", 2, dest_realm="nowhere.realm")
    req2.append_avp(Avp.from_bytes(pinfo))
    ans2 = await cli.request(req2)
    assert ans2.result_code == DIAMETER_REALM_NOT_SERVED
    assert [p.as_bytes() for p in ans2.find_avps((AVP_PROXY_INFO, 0))] == [pinfo]
    await cli.stop()
    await proxy.stop()
    await srv.stop()
