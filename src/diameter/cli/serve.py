"""``diameter serve``: a node from a configuration file (TOML or YAML)."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import click

log = logging.getLogger("diameter.cli.serve")


def _ssl(tls: dict[str, Any], server: bool) -> Any:
    import ssl
    if not tls.get("cert"):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH,
                                     cafile=tls.get("ca"))
    ctx.load_cert_chain(tls["cert"], tls.get("key"))
    if not tls.get("verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif server and tls.get("ca"):
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def build_node(cfg: Any) -> tuple[Any, list[Any]]:
    """A DiameterNode and its responders, configured but not started."""
    from ..node.aio.node import DiameterNode
    from ._responder import Responder
    node = DiameterNode(cfg.identity, cfg.realm, ip_addresses=cfg.ip_addresses,
                        tcp_port=cfg.port, tls_port=cfg.tls_port, sctp_port=cfg.sctp_port,
                        listen_addresses=cfg.listen, product_name=cfg.product,
                        accept_unknown_peers=cfg.accept_unknown_peers, decode=bytes,
                        ssl_server=_ssl(cfg.tls, True), ssl_client=_ssl(cfg.tls, False),
                        is_relay=cfg.relay or bool(cfg.routes) or
                        any(a.mode != "answer" for a in cfg.applications), validate=False)
    responders = []
    for app in cfg.applications:
        vendor = 10415 if app.id >= 16777216 else None
        if app.mode == "answer":
            r = Responder(app.id, app.rules, cfg.identity, cfg.realm)
            responders.append(r)
            node.add_application(app.id, r, vendor_id=vendor)
    apply_peers_and_routes(node, cfg.peers, cfg.routes, cfg.applications, running=False)
    return node, responders


def apply_peers_and_routes(node: Any, peers: list[Any], routes: list[Any],
                           apps: list[Any], running: bool) -> list[Any]:
    """Make the node's peers and routes those given; returns peers to connect now."""
    from ..node.protocol.routing import Route, RouteAction, RoutingTable
    wanted = {p.identity.lower(): p for p in peers}
    for key in [k for k in node.peers if k not in wanted]:
        log.info("peer %s removed", key)
        node.disconnect_peer(key)
        del node.peers[key]
    new = []
    for key, p in wanted.items():
        if key in node.peers:
            continue
        info = node.add_peer(p.identity, p.realm, p.addresses, port=p.port,
                             transport=p.transport, tls="tls" if p.tls else "none",
                             persistent=p.connect and not running, dialect=p.dialect)
        if p.connect and running:
            new.append(info)
    table = RoutingTable()
    for r in routes:
        table.add(Route(r.realm, RouteAction[r.action.upper()], [s.lower() for s in r.servers],
                        r.application))
    for a in apps:
        if a.mode != "answer":  # the node advertises Relay; requests go by these routes
            for realm in a.realms:
                table.add(Route(realm, RouteAction[a.mode.upper()], [s.lower() for s in a.servers],
                                None if realm == "*" else a.id))
    node.routes = table
    return new


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Only check the configuration, then exit.")
def serve(config: str, check: bool) -> None:
    """Run a Diameter node from a configuration file (TOML or YAML).

    The file gives the identity, realm, listen addresses and ports, TLS,
    peers, realm routes and, per application, an answer-by-rule responder or
    relay / proxy / redirect; a metrics port serves Prometheus metrics.
    SIGHUP reloads peers and routes; SIGINT/SIGTERM stop with DPR.
    See docs/cli.md for the format.

    \b
    Example:
      diameter serve gy-responder.toml
    """
    from ._responder import ConfigError
    from ._config import load_config
    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise click.ClickException(f"{config}: {e}") from None
    if check:
        click.echo(f"{config}: ok ({len(cfg.peers)} peers, {len(cfg.routes)} routes, "
                   f"{len(cfg.applications)} applications)")
        return
    try:
        asyncio.run(_serve(cfg, config))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        raise click.ClickException(f"cannot start: {e}") from None


async def _serve(cfg: Any, path: str) -> None:
    from ._config import load_peers_and_routes
    from ._responder import ConfigError
    node, _responders = build_node(cfg)
    await node.start()
    if cfg.metrics_port is not None:
        from prometheus_client import start_http_server

        from ..node.aio.metrics import register
        register(node)
        start_http_server(cfg.metrics_port, addr=cfg.listen[0] if cfg.listen else "127.0.0.1")
    ports = ", ".join(str(p) for p in node.listen_ports)
    click.echo(f"{cfg.identity} ({cfg.realm}) listening on {', '.join(cfg.listen)} port(s) "
               f"{ports}" + (f"; metrics on {cfg.metrics_port}" if cfg.metrics_port else ""),
               err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            peers, routes = load_peers_and_routes(path)
        except ConfigError as e:
            log.error("reload of %s failed, keeping the running configuration: %s", path, e)
            return
        for info in apply_peers_and_routes(node, peers, routes, cfg.applications, running=True):
            loop.create_task(_connect(node, info))
        log.warning("reloaded %s: %d peers, %d routes", path, len(peers), len(routes))

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        await node.stop(timeout=3)
        click.echo("stopped", err=True)
        sys.stderr.flush()


async def _connect(node: Any, info: Any) -> None:
    try:
        await node.connect(info, timeout=10)
    except Exception as e:  # noqa: BLE001 - a peer that does not answer is logged, not fatal
        log.warning("connect to %s failed: %s", info.identity, e)
