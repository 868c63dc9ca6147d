"""The OCS program: a Diameter node, the credit-control server, the engine and its storage.

Configuration (TOML, every key optional)::

    [server]
    identity = "ocs.example.net"
    realm = "example.net"
    host = "127.0.0.1"
    port = 3868
    database = "ocs.sqlite3"          # or postgresql://user@host/db
    pool_size = 40                    # PostgreSQL connections of this instance
    max_in_progress = 2000            # above: 3004 DIAMETER_TOO_BUSY
    tcc = 600                         # session supervision (s)
    accept_unknown_peers = true
    vendor_specific_application = true   # CEA: Vendor-Specific-Application-Id {10415, Auth 4}
    validate = false                  # strict grammar checks; off = tolerate what real clients bend
    metrics_port = 9464               # Prometheus, off when absent
    gc_threshold = [20000, 20, 50]    # `diameter ocs serve`: gc.set_threshold after gc.freeze

    [[peers]]
    identity = "ocg.example.net"
    dialect = "huawei"

    [tariff]                          # see diameter.ocs.tariff
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cc import CreditControlServer
from ..node.aio.node import DiameterNode
from .engine import Engine
from .front import OcsFront
from .store import Storage, open_storage
from .tariff import DEFAULT_TARIFF, Tariff, TariffError, tariff_from_dict

log = logging.getLogger("diameter.ocs")

TGPP = 10415
HUAWEI = 2011
GC_THRESHOLD = (20000, 20, 50)


@dataclass
class PeerConfig:
    identity: str
    dialect: str | None = None
    realm: str | None = None
    address: str | None = None
    port: int = 3868


@dataclass
class ServerConfig:
    identity: str = "ocs.example.net"
    realm: str = "example.net"
    host: str = "127.0.0.1"
    port: int = 3868
    database: str | None = None
    pool_size: int = 40
    max_in_progress: int = 2000
    tcc: float = 600.0
    accept_unknown_peers: bool = True
    vendor_specific_application: bool = True
    validate: bool = False
    metrics_port: int | None = None
    sweep_interval: float = 5.0
    dialect: str = "3gpp"
    peers: list[PeerConfig] = field(default_factory=list)
    tariff: Tariff = DEFAULT_TARIFF
    #: applied by `diameter ocs serve` once started (after `gc.freeze()`): fewer, shorter pauses
    #: of the cyclic garbage collector than CPython's (700, 10, 10); None leaves it alone
    gc_threshold: tuple[int, int, int] | None = GC_THRESHOLD


def tune_gc(threshold: tuple[int, int, int] | None) -> None:
    """Move what start-up allocated out of the collector's sight (`gc.freeze`) and collect
    less often; a program-wide setting, so the `serve` command calls it, not the library."""
    if threshold is None:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)


def load_config(path: str | Path) -> ServerConfig:
    """Read a server configuration file (see the module docstring)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TariffError(f"{path}: {exc}") from exc
    srv = data.get("server", {})
    cfg = ServerConfig()
    for key in ("identity", "realm", "host", "database", "dialect"):
        if key in srv:
            setattr(cfg, key, str(srv[key]))
    for key in ("port", "max_in_progress", "metrics_port", "pool_size"):
        if key in srv:
            setattr(cfg, key, int(srv[key]))
    for key in ("tcc", "sweep_interval"):
        if key in srv:
            setattr(cfg, key, float(srv[key]))
    for key in ("accept_unknown_peers", "vendor_specific_application", "validate"):
        if key in srv:
            setattr(cfg, key, bool(srv[key]))
    for p in data.get("peers", []):
        cfg.peers.append(PeerConfig(str(p["identity"]), p.get("dialect"), p.get("realm"),
                                    p.get("address"), int(p.get("port", 3868))))
    if "gc_threshold" in srv:
        gct = srv["gc_threshold"]
        if gct is False or gct == []:
            cfg.gc_threshold = None
        elif isinstance(gct, list) and len(gct) == 3 and all(isinstance(x, int) and x >= 0 for x in gct):
            cfg.gc_threshold = (gct[0], gct[1], gct[2])
        else:
            raise TariffError(f"{path}: gc_threshold must be three whole numbers, or false")
    if "tariff" in data:
        cfg.tariff = tariff_from_dict(data["tariff"])
    return cfg


class Metrics:
    """Prometheus metrics of the server (requests by type and result, latency, sessions)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        self.registry = CollectorRegistry()
        self.requests = Counter("ocs_requests", "Credit-control requests answered",
                                ["type", "result"], registry=self.registry)
        self.latency = Histogram("ocs_request_seconds", "Time to answer a request", ["type"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0))
        self.sessions = Gauge("ocs_open_sessions", "Open credit-control sessions on this instance",
                              registry=self.registry)
        self.reservations = Gauge("ocs_reservations", "Open reservations (all instances)",
                                  registry=self.registry)
        self.reserved = Gauge("ocs_reserved_minor_units", "Money held by open reservations",
                              registry=self.registry)

    def observe(self, kind: str, code: int, seconds: float) -> None:
        self.requests.labels(kind.lower(), str(code)).inc()
        self.latency.labels(kind.lower()).observe(seconds)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        from prometheus_client import start_http_server
        started = start_http_server(port, host, registry=self.registry)
        self._http = started[0] if isinstance(started, tuple) else None  # None before 0.17

    def close(self) -> None:
        http = getattr(self, "_http", None)
        if http is not None:
            http.shutdown()
            http.server_close()


class OcsServer:
    """Everything `diameter ocs serve` runs; `await start()`, then `await stop()`."""

    def __init__(self, config: ServerConfig, store: Storage | None = None) -> None:
        self.config = config
        self.store = store if store is not None else open_storage(config.database,
                                                                   pool_size=config.pool_size)
        self.engine = Engine(self.store, config.tariff)
        self.front = OcsFront(self.engine)
        self.node: DiameterNode | None = None
        self.cc: CreditControlServer | None = None
        self.metrics: Metrics | None = None
        self._gauges: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self.node is not None
        return int(self.node.listen_ports[0])

    async def start(self) -> None:
        cfg = self.config
        await self.store.open()
        await self.store.warm()
        node = DiameterNode(cfg.identity, cfg.realm, tcp_port=cfg.port, listen_addresses=[cfg.host],
                            ip_addresses=[cfg.host], product_name="diameter-ocs",
                            vendor_ids=[TGPP, HUAWEI], accept_unknown_peers=cfg.accept_unknown_peers,
                            dialect=cfg.dialect)
        for p in cfg.peers:
            node.add_peer(p.identity, realm=p.realm, addresses=[p.address] if p.address else None,
                          port=p.port, dialect=p.dialect)
        self.cc = CreditControlServer(node, self.front, tcc=cfg.tcc, max_in_progress=cfg.max_in_progress,
                                      validate=cfg.validate)
        if cfg.vendor_specific_application:
            node.apps[4].vendor_id = TGPP  # CEA: Vendor-Specific-Application-Id {10415, Auth 4}
        self.front.server = self.cc
        if cfg.metrics_port is not None:
            self.metrics = Metrics()
            self.front.metrics = self.metrics
            cc = self.cc
            self.metrics.sessions.set_function(lambda: len(cc.sessions))
            self.metrics.serve(cfg.metrics_port, cfg.host)
        await node.start()
        self.node = node
        await self.engine.release_expired()
        self.engine.start_sweeper(cfg.sweep_interval)
        if self.metrics is not None:
            self._gauges = asyncio.get_running_loop().create_task(self._update_gauges())
        log.info("ocs %s listening on %s:%d, storage %s", cfg.identity, cfg.host, self.port,
                 self.store.url)

    async def _update_gauges(self) -> None:
        while self.metrics is not None:
            try:
                count, held = await self.store.reserved()
                self.metrics.reservations.set(count)
                self.metrics.reserved.set(held)
            except Exception:  # metrics must not stop the server
                log.exception("ocs: reading reservation totals failed")
            await asyncio.sleep(self.config.sweep_interval)

    async def stop(self) -> None:
        if self._gauges is not None:
            self._gauges.cancel()
            await asyncio.gather(self._gauges, return_exceptions=True)
            self._gauges = None
        await self.engine.stop_sweeper()
        if self.cc is not None:
            await self.cc.close()
        await self.front.close()
        if self.node is not None:
            await self.node.stop(1)
            self.node = None
        if self.metrics is not None:
            self.metrics.close()
        await self.store.close()

    def snapshot_metrics(self) -> dict[str, Any]:
        return {"time": time.time(), "requests": dict(self.front.stats),
                "sessions": len(self.cc.sessions) if self.cc is not None else 0}
