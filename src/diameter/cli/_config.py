"""The configuration file of ``diameter serve`` (TOML or YAML), read into plain data.

See docs/cli.md for the format. :func:`load_config` checks names and types and
raises :class:`ConfigError` with the offending key.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jsonview import APPLICATION_NAMES
from ._names import application_id
from ._responder import ConfigError, Rule

__all__ = ["ServeConfig", "PeerConfig", "RouteConfig", "AppConfig", "load_config"]

ACTIONS = ("relay", "proxy", "redirect")


@dataclass
class PeerConfig:
    identity: str
    realm: str | None
    addresses: list[str]
    port: int
    transport: str
    tls: bool
    connect: bool
    dialect: str | None


@dataclass
class RouteConfig:
    realm: str
    servers: list[str]
    action: str
    application: int | None


@dataclass
class AppConfig:
    id: int
    mode: str  # "answer", "relay", "proxy", "redirect"
    rules: list[Rule]
    servers: list[str]
    realms: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class ServeConfig:
    identity: str
    realm: str
    listen: list[str]
    port: int | None
    tls_port: int | None
    sctp_port: int | None
    ip_addresses: list[str]
    tls: dict[str, Any]
    metrics_port: int | None
    accept_unknown_peers: bool
    product: str
    relay: bool = False
    peers: list[PeerConfig] = field(default_factory=list)
    routes: list[RouteConfig] = field(default_factory=list)
    applications: list[AppConfig] = field(default_factory=list)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not YAML: {e}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not TOML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table/mapping at the top")
    return data


def _app(value: Any) -> int:
    found = application_id(str(value), APPLICATION_NAMES)
    if found is None:
        raise ConfigError(f"unknown application {value!r}")
    return found


def load_config(path: str | Path) -> ServeConfig:
    data = _read(Path(path))
    node = data.get("node", {})
    try:
        identity, realm = str(node["identity"]), str(node["realm"])
    except KeyError as e:
        raise ConfigError(f"[node] needs {e.args[0]!r}") from None
    known = {"identity", "realm", "listen", "port", "tls_port", "sctp_port", "ip_addresses",
             "metrics_port", "accept_unknown_peers", "product", "relay"}
    extra = set(node) - known
    if extra:
        raise ConfigError(f"[node]: unknown keys {sorted(extra)}")
    listen = list(node.get("listen", ["127.0.0.1"]))
    cfg = ServeConfig(
        identity, realm, listen, node.get("port", 3868), node.get("tls_port"),
        node.get("sctp_port"), list(node.get("ip_addresses", listen)), dict(data.get("tls", {})),
        node.get("metrics_port"), bool(node.get("accept_unknown_peers", False)),
        str(node.get("product", "diameter-serve")), bool(node.get("relay", False)))
    if cfg.tls_port is not None and not cfg.tls.get("cert"):
        raise ConfigError("tls_port needs [tls] cert and key")
    cfg.peers, cfg.routes = load_peers_and_routes(data)
    for i, a in enumerate(data.get("applications", [])):
        app = _app(a.get("id", a.get("name")))
        mode = str(a.get("mode", "answer"))
        if mode not in ("answer", *ACTIONS):
            raise ConfigError(f"applications[{i}]: mode must be answer, relay, proxy or redirect")
        rules = [Rule.from_config(r, j) for j, r in enumerate(a.get("rules", []))]
        servers = [str(s) for s in a.get("servers", [])]
        if mode != "answer" and not servers:
            raise ConfigError(f"applications[{i}]: mode {mode} needs servers")
        realms = [str(r) for r in a.get("realms", ["*"])]
        cfg.applications.append(AppConfig(app, mode, rules, servers, realms))
    return cfg


def load_peers_and_routes(data: dict[str, Any] | str | Path
                          ) -> tuple[list[PeerConfig], list[RouteConfig]]:
    """The ``[[peers]]`` and ``[[routes]]`` of a configuration (what SIGHUP reloads)."""
    if not isinstance(data, dict):
        data = _read(Path(data))
    peers = []
    for i, p in enumerate(data.get("peers", [])):
        if "identity" not in p:
            raise ConfigError(f"peers[{i}] needs 'identity'")
        if "://" in str(p["identity"]):
            raise ConfigError(f"peers[{i}]: identity {p['identity']!r} is a URI; give the "
                              "DiameterIdentity and 'address'/'port'")
        addresses = p.get("addresses", [p["address"]] if "address" in p else [])
        peers.append(PeerConfig(str(p["identity"]), p.get("realm"), list(addresses),
                                int(p.get("port", 3868)), str(p.get("transport", "tcp")),
                                bool(p.get("tls", False)), bool(p.get("connect", bool(addresses))),
                                p.get("dialect")))
    routes = []
    for i, r in enumerate(data.get("routes", [])):
        action = str(r.get("action", "relay"))
        if action not in ACTIONS:
            raise ConfigError(f"routes[{i}]: action must be one of {ACTIONS}")
        if "realm" not in r:
            raise ConfigError(f"routes[{i}] needs 'realm'")
        routes.append(RouteConfig(str(r["realm"]), [str(s) for s in r.get("servers", [])], action,
                                  _app(r["application"]) if "application" in r else None))
    return peers, routes
