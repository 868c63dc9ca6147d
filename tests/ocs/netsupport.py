"""Loopback helpers: an OCS server and a plain Diameter client node."""

from __future__ import annotations

from diameter.cc import Units
from diameter.cc.wire import Usage, build_ccr, parse_cca
from diameter.node.aio import DiameterNode
from diameter.ocs.server import OcsServer, ServerConfig, PeerConfig

REALM = "example.net"
CLIENT = "pgw.example.net"


async def start_server(database: str, **kw) -> OcsServer:
    cfg = ServerConfig(identity=kw.pop("identity", "ocs.example.net"), realm=kw.pop("realm", REALM), port=0,
                       database=database, **kw)
    srv = OcsServer(cfg)
    await srv.start()
    return srv


async def start_client(*servers: OcsServer, identity: str = CLIENT, dialect: str | None = None) -> DiameterNode:
    node = DiameterNode(identity, REALM, ip_addresses=["127.0.0.1"], vendor_ids=[10415, 2011])
    node.add_application(4)
    for s in servers:
        node.add_peer(s.config.identity, addresses=["127.0.0.1"], port=s.port, persistent=True,
                      reconnect_wait=0.2)
    await node.start()
    for s in servers:
        await node.wait_open(s.config.identity, 5)
    return node


def ccr(session: str, kind: int, number: int, *, requested: int | None = None, used: int | None = None,
        rg: int | None = 1, msisdn: str = "491700000001", context: str = "32251@3gpp.org",
        top_level: bool = False, dest: str | None = None, origin: str = CLIENT, realm: str = REALM,
        **kw):
    usage = Usage(rg, requested=Units(total_octets=requested) if requested is not None else None,
                  used=Units(total_octets=used) if used is not None else None)
    return build_ccr(session_id=session, request_type=kind, request_number=number, origin_host=origin,
                     origin_realm=REALM, destination_realm=realm, destination_host=dest,
                     service_context_id=context, subscription_ids=[(0, msisdn)] if msisdn else [],
                     usages=[usage] if (requested is not None or used is not None) else [],
                     top_level=top_level, **kw)


__all__ = ["PeerConfig", "ccr", "parse_cca", "start_client", "start_server"]
