"""Requests this node originates, sans-IO: the header fix-ups and the pending record.

:func:`open_request` checks an encoded request's header, gives it an end-to-end
identifier and (python-diameter's rule) an application id from its AVPs when the
header has none, and returns its :class:`OutboundRequest` record; :func:`send`
gives it a hop-by-hop identifier and makes it pending (a relayed request's record,
``aio.base._Pending``, takes the same steps in ``aio/requests.py``). The asyncio node
(``aio/requests.py``) writes the bytes and resolves the future. Compiled with the
rest of the node core (setup.py's ``NODE_COMPILED_MODULES``).
"""
from __future__ import annotations

import struct
from typing import Any, Final

from ...codec.frame import U32
from ...codec.objects import decode_message as _decode_message
from ...codec.typed_encode import message_bytes
from ..errors import NodeError
from . import avps as A
from .connection import SequenceCounter
from .events import _Received
from .counters import PeerStats, answer_received, request_sent
from .constants import AVP_ACCT_APPLICATION_ID, AVP_AUTH_APPLICATION_ID, BASE_COMMANDS
from .pending import PendingTable

#: :attr:`OutboundRequest.fixed` bits: the header fields :func:`open_request` completed
SET_END_TO_END: Final = 1
SET_APPLICATION: Final = 2

_BASE_COMMANDS: Final = frozenset(BASE_COMMANDS)
_FLAG_ERROR: Final = 0x20
_IDS: Final = struct.Struct(">II")   # hop-by-hop, end-to-end: bytes 12-19 of the header


class OutboundRequest:
    """A request sent by this node (or relayed through it) and its pending state."""

    data: bytearray
    app_id: int
    sent_at: float
    deadline: float
    future: Any
    raw: bool
    #: Destination-Realm: text, or the message's bytes until :attr:`dest_realm` is first read
    _dest_realm: Any
    dest_host: str | None
    #: a relayed request: (the protocol it came from, its original hop-by-hop identifier)
    origin: Any
    #: the peers tried (:attr:`tried`): one request in the usual case, kept without a set
    _tried: set[Any] | None
    _first: Any
    redirects: int
    command: int
    #: the end-to-end identifier (:func:`send` writes it into ``data``)
    end_to_end: int
    #: :data:`SET_END_TO_END` / :data:`SET_APPLICATION`: the header fields open_request completed
    fixed: int
    #: the typed request's header, until :func:`send` gave it the hop-by-hop identifier
    header: Any

    def __init__(self, data: bytearray, app_id: int, sent_at: float, deadline: float, future: Any = None,
                 raw: bool = False, dest_realm: str | None = None, dest_host: str | None = None,
                 origin: Any = None, tried: set[Any] | None = None, redirects: int = 0,
                 command: int = 0, end_to_end: int = -1, fixed: int = 0) -> None:
        self.data = data
        self.app_id = app_id
        self.sent_at = sent_at
        self.deadline = deadline
        self.future = future
        self.raw = raw
        self._dest_realm = dest_realm
        self.dest_host = dest_host
        self.origin = origin
        self._tried = tried
        self._first = None
        self.redirects = redirects
        self.command = command
        if end_to_end < 0:   # the one in data
            end_to_end = int.from_bytes(bytes(data[16:20]), "big") if len(data) >= 20 else 0
        self.end_to_end = end_to_end
        self.fixed = fixed
        self.header = None

    @property
    def dest_realm(self) -> str | None:
        """The request's Destination-Realm as text (None: none)."""
        v = self._dest_realm
        if v is not None and type(v) is not str:   # the message's value, decoded when asked for
            v = self._dest_realm = _as_str(v)
        return v

    @dest_realm.setter
    def dest_realm(self, value: str | None) -> None:
        self._dest_realm = value

    @property
    def tried(self) -> set[Any]:
        """The peers this request was sent to (a set made when it is first asked for)."""
        t = self._tried
        if t is None:
            t = self._tried = set() if self._first is None else {self._first}
        return t

    @tried.setter
    def tried(self, value: set[Any]) -> None:
        self._tried = value

    def add_tried(self, key: Any) -> None:
        """Add ``key`` to :attr:`tried` (the first one without making the set)."""
        if self._tried is None and self._first is None:
            self._first = key
        else:
            self.tried.add(key)


_pack_u32: Final = U32.pack_into


def open_request(raw: bytes, end_to_end: SequenceCounter, now: float, timeout: float, future: Any,
                 raw_answer: bool) -> OutboundRequest:
    """The record of the encoded request ``raw``: its data (a copy; the application id
    completed, the identifiers are written by :func:`send`), application, command and deadline.

    A zero end-to-end identifier gets ``end_to_end.next()``; a zero application id
    (other than in a base command) gets the message's Auth-/Acct-Application-Id.
    Raises :class:`~diameter.node.errors.NodeError` below 20 bytes."""
    if len(raw) < 20:
        raise NodeError("message shorter than a Diameter header")
    # the header read byte by byte (native code when compiled)
    command = (raw[5] << 16) | (raw[6] << 8) | raw[7]
    app_id = (raw[8] << 24) | (raw[9] << 16) | (raw[10] << 8) | raw[11]
    e2e = (raw[16] << 24) | (raw[17] << 16) | (raw[18] << 8) | raw[19]
    data = bytearray(raw[:])   # (compiled: one copy, no buffer protocol)
    fixed = 0
    if e2e == 0:   # written with the hop-by-hop identifier, by send
        e2e = end_to_end.next()
        fixed = SET_END_TO_END
    if app_id == 0 and command not in _BASE_COMMANDS:
        # like python-diameter, take the application from the message's AVPs
        found = A.find_u32(raw, AVP_AUTH_APPLICATION_ID)
        if not found:
            found = A.find_u32(raw, AVP_ACCT_APPLICATION_ID)
        if found:
            app_id = found
            _pack_u32(data, 8, app_id)
            fixed |= SET_APPLICATION
    return OutboundRequest(data, app_id, now, now + timeout, future, raw_answer, None, None, None, None, 0,
                           command, e2e, fixed)


#: what :func:`filled` requires set (truthy) in a typed request's instance dict
_FILLED: Final[tuple[str, ...]] = ("origin_host", "origin_realm", "session_id", "destination_realm")


def filled(d: dict[str, Any]) -> bool:
    """Whether a typed request (its instance dict ``d``) needs nothing from ``fill_request``:
    built from attributes (no ``_raw``), Origin-Host/Realm, Session-Id and Destination-Realm set."""
    if "_raw" in d:
        return False
    for name in _FILLED:
        if not d.get(name):
            return False
    return True


def _as_str(v: Any) -> str | None:
    """A destination attribute's value as text (``aio.base._as_str``)."""
    if v is None or type(v) is str:
        return v
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return str(v)


_MISSING: Final = object()


def open_message(message: Any, d: dict[str, Any], end_to_end: SequenceCounter, clock: Any, timeout: float,
                 future: Any, has_host: bool, peer: Any) -> OutboundRequest | None:
    """:func:`open_request` for a typed request built from attributes (``d``: its instance dict,
    with the message layer's own destination attributes), encoded here with ``as_bytes()``
    and stamped with ``clock()`` after that; None (nothing done) when it needs more:
    ``fill_request``'s completion (not :func:`filled`), no header in ``d``.

    Its header gets the identifiers and application completed (the hop-by-hop one by
    :func:`send`), the record its Destination-Realm and -Host (``peer`` when given, else the
    attribute when the class has one) as text."""
    if not filled(d):
        return None
    header = d.get("header", _MISSING)
    if header is _MISSING:
        return None
    raw = message_bytes(message)   # (as_bytes())
    if type(raw) is not bytes:
        raw = bytes(raw)
    now: float = clock()
    entry = open_request(raw, end_to_end, now, timeout, future, False)
    fixed = entry.fixed
    if fixed:
        if fixed & SET_END_TO_END:
            header.end_to_end_identifier = entry.end_to_end
        if fixed & SET_APPLICATION:
            header.application_id = entry.app_id
    entry.header = header
    entry._dest_realm = d.get("destination_realm")   # (text when first read: most requests never are)
    if peer is not None:
        entry.dest_host = _as_str(peer)
    elif has_host:
        entry.dest_host = _as_str(d.get("destination_host"))
    return entry


def send(entry: OutboundRequest, key: str, hop_by_hop: SequenceCounter, pending: PendingTable,
         stats: PeerStats | None = None) -> int:
    """Give ``entry`` the connection's next hop-by-hop identifier (written into its data with
    its end-to-end one, and into its :attr:`~OutboundRequest.header` the first time; returned)
    and make it pending for the peer ``key`` until its deadline; counted in the peer's ``stats``."""
    hbh: Any = hop_by_hop.next()   # boxed once (compiled) for the four uses
    # (one struct call: compiled, eight byte stores on a bytearray are generic calls, dearer)
    _IDS.pack_into(entry.data, 12, hbh, entry.end_to_end)
    entry.add_tried(key)
    pending.add(key, hbh, entry.deadline, entry)
    header = entry.header
    if header is not None:   # the first send: the request's header gets it too
        entry.header = None
        header.hop_by_hop_identifier = hbh
    if stats is not None:
        request_sent(stats, entry.command)
    return hbh


#: :func:`answer_arrived`'s result for an answer it delivered itself
DELIVERED: Final[Any] = object()


def answer_arrived(pending: PendingTable, key: str, ev: _Received, stats: PeerStats, now: float,
                   deliver: bool = False) -> Any:
    """The pending record that the answer ``ev`` (a connection's event) from the peer ``key``
    answers, taken from ``pending``, the answer counted in the peer's ``stats`` with its latency
    (sent to ``now``); None when it answers none (late or duplicate: not counted).

    ``deliver``: the answer of a request sent with a future, not raw, without the E bit, is
    decoded (``Message.from_bytes``'s decoder) and made its future's result here, and
    :data:`DELIVERED` returned instead of the record (an answer that does not decode is the
    future's :class:`~diameter.node.errors.NodeError`; a future resolved already, cancelled,
    takes nothing)."""
    entry = pending.pop(key, ev.hop_by_hop_identifier)
    if entry is None:
        return None
    if isinstance(entry, OutboundRequest):
        data = ev.data
        answer_received(stats, ev.command_code, now - entry.sent_at, data)
        fut = entry.future
        if deliver and fut is not None and not entry.raw and not ev.flags & _FLAG_ERROR:
            try:
                msg = _decode_message(data, False)
            except Exception as exc:  # noqa: BLE001 - decoding errors go to the caller
                if not fut.done():
                    fut.set_exception(NodeError(f"cannot decode answer: {exc}"))
                return DELIVERED
            try:
                fut.set_result(msg)
            except Exception:  # noqa: BLE001,S110 - resolved already (cancelled while the answer was on its way)
                pass
            return DELIVERED
        return entry
    # a relayed request's record
    answer_received(stats, ev.command_code, now - float(entry.sent_at), ev.data)
    return entry
