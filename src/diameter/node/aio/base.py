"""What the asyncio node's parts share: errors, request records, small helpers and loggers."""
from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol import avps as A
from ..protocol.constants import (AVP_DESTINATION_HOST, AVP_DESTINATION_REALM)
from ..errors import NodeError, NotRoutable, PeerFailed, RequestTimeout  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    import ssl

    from ..protocol.dedup import DuplicateCache
    from ..protocol.pending import PendingTable
    from ..protocol.routing import Balancer, RedirectCache, RoutingTable
    from ..protocol.unanswered import UnansweredRequests
    from .peer import PeerInfo
    from .transport import DiameterProtocol

log = logging.getLogger("diameter.node")
state_log = logging.getLogger("diameter.node.peer")
dump_log = logging.getLogger("diameter.peer.msg")

Handler = Callable[[Any], Awaitable[Any] | Any]


@dataclass(eq=False, slots=True)
class _Pending:
    data: bytearray
    app_id: int
    sent_at: float
    deadline: float
    future: asyncio.Future | None = None
    raw: bool = False
    dest_realm: str | None = None
    dest_host: str | None = None
    origin: tuple[DiameterProtocol, int] | None = None  # relayed: (from, original hbh)
    tried: set = field(default_factory=set)
    redirects: int = 0
    command: int = 0


@dataclass
class _App:
    app_id: int
    handler: Handler | None
    is_coro: bool
    auth: bool
    acct: bool
    vendor_id: int | None = None
    commands: frozenset[int] | None = None
    validate: bool = True
    #: the handler is called as ``handler(msg, reply)`` (:class:`~diameter.node.aio.reply.Reply`)
    reply: bool = False


def _read_str(data: bytes, code: int) -> str | None:
    p = A.find(data, code)
    return None if p is None else p.decode("utf-8", "replace")


_NO_PEERS: frozenset[str] = frozenset()
_DEST_CODES = (AVP_DESTINATION_HOST, AVP_DESTINATION_REALM)


class _Resumed:
    """Awaitable that carries on a coroutine already started by hand."""

    __slots__ = ("coro", "first")

    def __init__(self, coro, first) -> None:
        self.coro = coro
        self.first = first

    def __await__(self):
        coro, to_yield = self.coro, self.first
        while True:
            try:
                sent = yield to_yield
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation etc. go into the coroutine
                try:
                    to_yield = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    to_yield = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _resume(coro, first):
    return await _Resumed(coro, first)


#: what a handler runner yields when its handler returned without suspending
_RETURNED: Any = object()


@types.coroutine
def _handler_runner(box: list):
    """Takes coroutine handlers' first steps without a StopIteration each (``yield from``
    gets a returned value as it is): ``send(coro)`` gives :data:`_RETURNED`, the handler's
    value in ``box[0]``, when it returned; else what it first awaits: it suspended, and
    ``box[1]`` must be set and the runner handed to a task (:func:`_resume`), whose result is
    the handler's value. A handler's exception ends the runner (see :func:`new_runner`)."""
    out = None
    while True:
        coro = yield out
        box[0] = yield from coro
        if box[1]:   # a task's now
            return box[0]
        out = _RETURNED


def new_runner() -> tuple[Any, list]:
    """A started :func:`_handler_runner` and its box: ``(runner, [value, handed to a task])``."""
    box: list = [None, False]
    runner = _handler_runner(box)
    runner.send(None)
    return runner, box


def _as_str(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)




def _count_base(proto: DiameterProtocol | None, code: int, is_request: bool, sent: bool) -> None:
    peer = proto.peer
    if peer is None:
        return
    cs = peer.stats.cmd(code)
    if is_request:
        if sent:
            cs.requests_sent += 1
        else:
            cs.requests_received += 1
    elif sent:
        cs.answers_sent += 1
    else:
        cs.answers_received += 1


def _address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def data_ids(hdr) -> bytes:
    return hdr.hop_by_hop_identifier.to_bytes(4, "big") + hdr.end_to_end_identifier.to_bytes(4, "big")


class NodeParts:
    """What the parts of :class:`~diameter.node.aio.DiameterNode` use from each other
    (declarations for type checkers; ``DiameterNode.__init__`` sets them)."""

    loop: asyncio.AbstractEventLoop
    origin_host: str
    realm: str
    ip_addresses: list[str]
    state_id: int
    end_to_end: Any
    peers: dict[str, PeerInfo]
    apps: dict[int, _App]
    protocols: set[DiameterProtocol]
    _open: list[PeerInfo]
    _running: bool
    _unanswered: UnansweredRequests
    #: requests waiting for their :class:`~diameter.node.aio.reply.Reply` (keyed by it)
    _replies: UnansweredRequests
    routes: RoutingTable
    client_routes: dict[tuple[str, int | None], list[str]]
    balancer: Balancer
    redirects: RedirectCache
    pending: PendingTable
    dedup: DuplicateCache
    on_peer_state: list[Callable[[PeerInfo, str], None]]
    accept_unknown_peers: bool
    tw: float
    ce_timeout: float
    dpa_timeout: float
    request_timeout: float
    max_message_size: int
    max_cer_size: int
    max_failover: int
    ssl_server: ssl.SSLContext | None
    ssl_client: ssl.SSLContext | None
    tls_handshake_failures: int
    is_relay: bool
    follow_redirects: bool
    coalesce_requests: bool
    dump_messages: bool
    strict_reopen: bool
    dialect: str
    _decode: Callable[[bytes], Any] | None
    #: the rules last used for validation: (dialect name, dialect generation, rules)
    _rules: tuple[str, int, Any] | None
    #: the coroutine handlers' runner and its box (:func:`new_runner`), None while in use
    _runner: tuple[Any, list] | None
    #: the node's class keeps RequestsPart's request_future / prepare
    _own_request_future: bool
    _own_prepare: bool

    if TYPE_CHECKING:
        @property
        def decode(self) -> Callable[[bytes], Any]: ...
        def capabilities(self) -> Any: ...
        def spawn(self, coro: Any) -> asyncio.Task[Any]: ...
        async def connect(self, peer: PeerInfo | str, timeout: float = 10.0) -> PeerInfo: ...
        def handle_events(self, proto: DiameterProtocol, events: list[Any]) -> None: ...
        def _on_request(self, proto: DiameterProtocol, hdr: Any, data: bytes) -> None: ...
        def _on_answer(self, proto: DiameterProtocol, hdr: Any, data: bytes, entry: Any) -> None: ...
        def _local_answer(self, proto: DiameterProtocol, hdr: Any, data: bytes, origin_host: bytes, ans: Any,
                          t_in: float, now: float) -> None: ...
        def _handler_failed(self, proto: DiameterProtocol, hdr: Any, data: bytes, origin_host: bytes,
                            exc: BaseException | None = None) -> None: ...
        def _usable(self, identity: str, app_id: int) -> bool: ...
        def _pending_count(self, identity: str) -> int: ...
        def _send_to(self, peer: PeerInfo, entry: _Pending) -> None: ...
        def _resend(self, entry: _Pending, retransmit: bool) -> bool: ...
        def _fail_pending(self, entry: _Pending, exc: Exception, result: int = ...) -> None: ...
        def _send_error(self, proto: DiameterProtocol, hdr: Any, data: bytes, result: int,
                        message: str | None = None, extra: list[bytes] | None = None, *,
                        origin_host: bytes | None = None) -> None: ...

