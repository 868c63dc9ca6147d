"""Peer configuration and counters for the threaded (python-diameter style) API."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

PEER_RECV = 0x01
PEER_SEND = 0x02
PEER_TRANSPORT_TCP = 0x0A
PEER_TRANSPORT_SCTP = 0x0B
PEER_CONNECTING = 0x10
PEER_CONNECTED = 0x11
PEER_READY = 0x12
PEER_READY_WAITING_DWA = 0x13
PEER_DISCONNECTING = 0x1A
PEER_CLOSING = 0x1B
PEER_CLOSED = 0x1C
PEER_READY_STATES = (PEER_READY, PEER_READY_WAITING_DWA)

DISCONNECT_REASON_DPR = 0x20
DISCONNECT_REASON_NODE_SHUTDOWN = 0x21
DISCONNECT_REASON_CLEAN_DISCONNECT = 0x22
DISCONNECT_REASON_SOCKET_FAIL = 0x30
DISCONNECT_REASON_GONE_AWAY = 0x31
DISCONNECT_REASON_FAILED_CONNECT = 0x32
DISCONNECT_REASON_FAILED_CONNECT_CE = 0x33
DISCONNECT_REASON_CER_REJECTED = 0x34
DISCONNECT_REASON_DWA_TIMEOUT = 0x35
DISCONNECT_REASON_UNKNOWN = 0x40


@dataclasses.dataclass
class PeerCounters:
    """Message counts of one peer (read from the node's live statistics)."""

    cer: int = 0
    cea: int = 0
    dwr: int = 0
    dwa: int = 0
    dpr: int = 0
    dpa: int = 0
    requests: int = 0
    answers: int = 0


class _SeqView:
    def __init__(self, counter: Any) -> None:
        self._c = counter

    @property
    def sequence(self) -> int:
        return self._c.value

    def next_sequence(self) -> int:
        return self._c.next()


class PeerConnectionView:
    """A read-only view of a peer's current connection (``Peer.connection``)."""

    def __init__(self, info: Any) -> None:
        self._info = info

    @property
    def host_identity(self) -> str:
        return self._info.identity

    @property
    def state(self) -> int:
        info = self._info
        if info.protocol is None:
            return PEER_CLOSED
        if info.is_open:
            wd = info.protocol.conn.watchdog
            return PEER_READY_WAITING_DWA if wd is not None and wd.pending else PEER_READY
        return PEER_CONNECTED

    @property
    def auth_application_ids(self) -> list[int]:
        n = self._info.negotiated
        return sorted(n.auth_application_ids) if n else []

    @property
    def acct_application_ids(self) -> list[int]:
        n = self._info.negotiated
        return sorted(n.acct_application_ids) if n else []

    @property
    def host_ip_address(self) -> list[str]:
        c = self._info.capabilities
        return list(c.host_ip_addresses) if c else []

    @property
    def origin_host(self) -> str:
        return self._info.identity

    @property
    def hop_by_hop_seq(self) -> Any:
        """The connection's hop-by-hop generator (``next_sequence()``)."""
        return _SeqView(self._info.protocol.conn.hop_by_hop) if self._info.protocol else None

    @property
    def is_sender(self) -> bool:
        """True when this node opened the connection."""
        p = self._info.protocol
        return bool(p and p.conn.initiator)

    @property
    def is_receiver(self) -> bool:
        p = self._info.protocol
        return bool(p and not p.conn.initiator)

    def __str__(self) -> str:
        return f"<Peer connection {self._info.identity} {self._info.state}>"


@dataclasses.dataclass
class Peer:
    """A known Diameter peer of the threaded ``Node``, as returned by ``Node.add_peer``
    (python-diameter's name; the asyncio node's counterpart is
    :class:`diameter.node.aio.PeerInfo`).

    Attributes may be changed before ``Node.start``; afterwards the live state
    is read through ``connection``, ``counters`` and ``statistics``.
    """

    node_name: str
    realm_name: str
    transport: int
    port: int
    ip_addresses: list[str] = dataclasses.field(default_factory=list)
    persistent: bool = False
    always_reconnect: bool = False
    cea_timeout: int | None = None
    cer_timeout: int | None = None
    dwa_timeout: int | None = None
    idle_timeout: int | None = None
    reconnect_wait: int = 30
    disconnect_reason: int | None = None
    last_connect: int | None = None
    last_disconnect: int | None = None
    is_secure: bool = False
    #: grammar variant its requests are validated with ("3gpp" when None)
    dialect: str | None = None
    _info: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def connection(self) -> PeerConnectionView | None:
        if self._info is None or self._info.protocol is None:
            return None
        return PeerConnectionView(self._info)

    @property
    def counters(self) -> PeerCounters:
        c = PeerCounters()
        if self._info is None:
            return c
        for code, cs in self._info.stats.commands.items():
            if code == 257:
                c.cer, c.cea = cs.requests_sent + cs.requests_received, cs.answers_sent + cs.answers_received
            elif code == 280:
                c.dwr, c.dwa = cs.requests_sent + cs.requests_received, cs.answers_sent + cs.answers_received
            elif code == 282:
                c.dpr, c.dpa = cs.requests_sent + cs.requests_received, cs.answers_sent + cs.answers_received
            else:
                c.requests += cs.requests_sent + cs.requests_received
                c.answers += cs.answers_sent + cs.answers_received
        return c

    @property
    def statistics(self) -> Any:
        return self._info.stats if self._info is not None else None

    @property
    def disconnected_since(self) -> int:
        return int(time.time()) - (self.last_disconnect or 0) if self.last_disconnect else 0

    def __str__(self) -> str:
        return f"<Peer {self.node_name}>"
