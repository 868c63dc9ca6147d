"""The events a :class:`~.connection.PeerConnection` reports to its node.

Application traffic (:class:`RequestReceived`, :class:`AnswerReceived`) carries its bytes, its
header's fields and the time it was received; the rest is the connection's life (opened, TLS,
watchdog changes, closed). Compiled with the node core (setup.py's ``NODE_COMPILED_MODULES``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from .capabilities import Capabilities, Negotiated
from .framing import Header, parse_header
from .watchdog import WatchdogAction


@dataclass
class Opened:
    capabilities: Capabilities
    negotiated: Negotiated


@dataclass
class StartTls:
    """In-band security was negotiated: the transport must start TLS now
    (after flushing outgoing bytes) and then call ``tls_established``."""

    server_side: bool


class _Received:
    """A message for the node (application traffic): its bytes, its header's fields read
    from them and the time it was received (``received_at``: the ``now`` of
    :meth:`~.connection.PeerConnection.receive_data`, so that the node's hot paths do not read
    the clock again). A plain class, not a dataclass: compiled, its ``__init__`` is native
    code. The public :class:`~.framing.Header` (a NamedTuple) is built only when
    :attr:`header` is read: the node's hot paths read the fields of the event itself
    (``ev.command_code``...), which carries the same names as ``Header``."""

    data: bytes
    length: int
    flags: int
    command_code: int
    application_id: int
    hop_by_hop_identifier: int
    end_to_end_identifier: int
    received_at: float
    _header: Header | None

    def __init__(self, header: Header | None, data: bytes, received_at: float) -> None:
        self.data = data
        self.received_at = received_at
        self._header = header
        if header is None:
            # the frame's own header (frames are >= 20 bytes), natively
            self.length = (data[1] << 16) | (data[2] << 8) | data[3]
            self.flags = data[4]
            self.command_code = (data[5] << 16) | (data[6] << 8) | data[7]
            self.application_id = (data[8] << 24) | (data[9] << 16) | (data[10] << 8) | data[11]
            self.hop_by_hop_identifier = (data[12] << 24) | (data[13] << 16) | (data[14] << 8) | data[15]
            self.end_to_end_identifier = (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19]
        else:
            self._set_fields(header)

    def _set_fields(self, header: Header) -> None:
        self.length = header.length
        self.flags = header.flags
        self.command_code = header.command_code
        self.application_id = header.application_id
        self.hop_by_hop_identifier = header.hop_by_hop_identifier
        self.end_to_end_identifier = header.end_to_end_identifier

    @property
    def header(self) -> Header:
        """The message's header, decoded (built on first use)."""
        h = self._header
        if h is None:
            h = self._header = parse_header(self.data)
        return h

    @header.setter
    def header(self, header: Header) -> None:
        self._header = header
        self._set_fields(header)

    @property
    def is_request(self) -> bool:
        return bool(self.flags & 0x80)

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and isinstance(other, _Received) and self.header == other.header
                and self.data == other.data)

    __hash__ = None  # type: ignore[assignment]   # mutable and compared by value, like a dataclass


class RequestReceived(_Received):
    """A request for the node (application traffic), with its header's fields."""

    def __repr__(self) -> str:
        return f"RequestReceived(header={self.header!r}, data={self.data!r}, received_at={self.received_at!r})"


class AnswerReceived(_Received):
    """An answer for the node (application traffic), as :class:`RequestReceived`."""

    def __repr__(self) -> str:
        return f"AnswerReceived(header={self.header!r}, data={self.data!r}, received_at={self.received_at!r})"


@dataclass
class WatchdogChange:
    action: WatchdogAction


class CloseCause(enum.Enum):
    """Why a connection closed, for code to act on (:attr:`Closed.reason` is for people)."""
    LOCAL = "local close"                    # disconnect() before the connection was open
    DPA_RECEIVED = "DPA received"            # the orderly close we started
    DPR_RECEIVED = "DPR received"            # the peer's orderly close (see disconnect_cause)
    DPR_WHILE_CLOSING = "DPR received while closing"
    DPA_TIMEOUT = "DPA timed out"
    WATCHDOG = "watchdog: no answer to DWR"  # RFC 3539 failure
    CAPABILITIES_TIMEOUT = "capabilities exchange timed out"
    CAPABILITIES_FAILED = "capabilities exchange failed"   # invalid or rejected CER/CEA
    UNEXPECTED_COMMAND = "unexpected command"              # not a CER/CEA when one was due
    FRAMING = "framing error"
    TRANSPORT = "transport closed"           # closed or reset by the peer or the network
    TLS = "TLS failed"                       # handshake failed or no TLS context
    PEER_RESTARTED = "peer restarted"        # dropped by the node: a new connection replaced it
    ELECTION_WON = "election won"            # dropped by the node: RFC 6733 5.6.4 election
    OTHER = "other"


_CAUSE_OF_REASON = {c.value: c for c in CloseCause}


@dataclass
class Closed:
    """The connection is finished; flush outgoing bytes, then close.

    ``cause`` is machine-readable (the connection always sets it; for an event
    built by hand it is looked up from ``reason``), ``reason`` the human text.
    """

    reason: str
    disconnect_cause: int | None = None
    result_code: int | None = None
    #: a transport or watchdog failure (RFC 3539): the next connection starts in REOPEN
    failure: bool = False
    cause: CloseCause | None = None

    def __post_init__(self) -> None:
        if self.cause is None:
            self.cause = _CAUSE_OF_REASON.get(self.reason, CloseCause.OTHER)


Event = Opened | StartTls | RequestReceived | AnswerReceived | WatchdogChange | Closed
