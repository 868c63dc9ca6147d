"""Configured peers as seen by the asyncio node."""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..protocol.capabilities import Capabilities, Negotiated
from .stats import PeerStats

if TYPE_CHECKING:
    from .transport import DiameterProtocol


@dataclass(eq=False)
class PeerInfo:
    """A peer of the asyncio node: static configuration plus its live connection and statistics.

    (The threaded, python-diameter compatible ``Node`` has its own class for this,
    :class:`diameter.node.peer.Peer`, under python-diameter's name.)

    ``tls`` is "none", "tls" (TLS at connect, RFC 6733) or "inband"
    (Inband-Security-Id TLS after CER/CEA, RFC 3588).
    """

    identity: str
    realm: str
    addresses: list[str] = field(default_factory=list)
    port: int = 3868
    transport: str = "tcp"
    tls: str = "none"
    ssl_context: ssl.SSLContext | None = None
    persistent: bool = False
    weight: int = 1
    reconnect_wait: float = 30.0
    reconnect_max: float = 300.0
    tw: float | None = None
    #: grammar variant for validating this peer's requests (None: the node's)
    dialect: str | None = None
    # live state
    protocol: DiameterProtocol | None = None
    capabilities: Capabilities | None = None
    negotiated: Negotiated | None = None
    stats: PeerStats = field(default_factory=PeerStats)
    failed_before: bool = False
    suspect: bool = False
    no_reconnect: bool = False
    dynamic: bool = False
    backoff: float = 0.0
    last_disconnect_cause: int | None = None
    #: why the last connection attempt or connection failed, Result-Code named
    last_failure: str | None = None
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.identity.lower()

    @property
    def is_open(self) -> bool:
        p = self.protocol
        return p is not None and p.conn.is_open and not self.suspect

    def supports(self, app_id: int) -> bool:
        return self.negotiated is not None and self.negotiated.supports(app_id)

    @property
    def state(self) -> str:
        p = self.protocol
        if p is None:
            return "Closed"
        st = p.conn.state.value
        if p.conn.watchdog is not None and p.conn.is_open:
            st += f"/{p.conn.watchdog.state.value}"
        return st
