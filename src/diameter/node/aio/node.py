"""The asyncio Diameter node: peers, listeners, routing, agents and the request API."""
from __future__ import annotations

import asyncio
from time import perf_counter as _perf_counter
import dataclasses
import inspect
import logging
import random
import socket
import ssl
import struct
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._helpers import parse_diameter_uri
from ..protocol import avps as A
from ..protocol.capabilities import Capabilities
from ..protocol.connection import (AnswerReceived, Closed, Opened, PeerConnection, PeerState,
                                   RequestReceived, SequenceCounter, StartTls, WatchdogChange, elect)
from ..protocol.constants import *
from ..protocol.dedup import DuplicateCache
from ..protocol.framing import parse_header
from ..protocol.pending import PendingTable
from ..protocol.routing import Balancer, Balancing, RedirectCache, Route, RouteAction, RoutingTable, decide
from ..protocol.watchdog import WatchdogAction
from ...validation import error_answer, validate
from ...validation.dialects import DEFAULT_DIALECT
from ...validation.dialects import dialect as get_dialect
from .fill import SupportsAnswer, check_result, fill_request
from .peer import PeerInfo
from .sctp import sctp_socket
from .stats import result_class
from .transport import DiameterProtocol

if TYPE_CHECKING:
    from ...message import Message

log = logging.getLogger("diameter.node")
state_log = logging.getLogger("diameter.node.peer")
dump_log = logging.getLogger("diameter.peer.msg")

Handler = Callable[[Any], Awaitable[Any] | Any]
_A = TypeVar("_A")


class NodeError(Exception):
    """Base error raised by the node."""


class NotRoutable(NodeError):
    """No open peer can take the request."""


class RequestTimeout(NodeError, TimeoutError):
    """No answer arrived within the request's timeout."""


class PeerFailed(NodeError):
    """The peer failed and no alternate peer could take the request."""


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


def _read_str(data: bytes, code: int) -> str | None:
    p = A.find(data, code)
    return None if p is None else p.decode("utf-8", "replace")


_NO_PEERS: frozenset[str] = frozenset()
_DEST_CODES = (AVP_DESTINATION_HOST, AVP_DESTINATION_REALM)
_HDR = struct.Struct("!IIIII")  # ver|len, flags|code, app, hbh, e2e
_U32 = struct.Struct("!I")
_IDS = struct.Struct("!II")  # hop-by-hop, end-to-end


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


def _as_str(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


class DiameterNode:
    """A Diameter node on asyncio: client, server, relay, proxy or redirect agent.

    Register applications with :meth:`add_application` (handlers may be
    coroutines), peers with :meth:`add_peer`, optional realm routes with
    ``routes.add(Route(...))``; then ``await start()`` and ``await request(msg)``.
    """

    def __init__(self, origin_host: str, realm: str, *, ip_addresses: list[str] | None = None,
                 tcp_port: int | None = None, tls_port: int | None = None, sctp_port: int | None = None,
                 listen_addresses: list[str] | None = None, vendor_id: int = 0,
                 product_name: str = "python-diameter", vendor_ids: list[int] | None = None,
                 accept_unknown_peers: bool = False, tw: float = 30.0, ce_timeout: float = 10.0,
                 dpa_timeout: float = 5.0, request_timeout: float = 30.0,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_cer_size: int = DEFAULT_MAX_CER_SIZE,
                 ssl_server: ssl.SSLContext | None = None,
                 ssl_client: ssl.SSLContext | None = None, inband_tls: bool = False,
                 require_inband_tls: bool = False, balancing: Balancing = Balancing.LEAST_PENDING,
                 duplicate_window: float = 60.0, duplicate_cache_bytes: int = 32 << 20, follow_redirects: bool = True,
                 is_relay: bool = False, max_failover: int = 2, decode: Callable[[bytes], Any] | None = None,
                 tick: float = 0.05, write_buffer_high: int = 1 << 20, max_inflight_per_peer: int = 4096,
                 dump_messages: bool = False, coalesce_requests: bool = False,
                 strict_reopen: bool = True, validate: bool = True, dialect: str = DEFAULT_DIALECT,
                 tls_session_tickets: bool = False) -> None:
        self.origin_host = origin_host
        self.realm = realm
        self.ip_addresses = list(ip_addresses or [])
        self.tcp_port = tcp_port
        self.tls_port = tls_port
        self.sctp_port = sctp_port
        self.listen_addresses = listen_addresses
        self.vendor_id = vendor_id
        self.product_name = product_name
        self.vendor_ids = set(vendor_ids or [])
        self.accept_unknown_peers = accept_unknown_peers
        self.tw = tw
        self.ce_timeout = ce_timeout
        self.dpa_timeout = dpa_timeout
        self.request_timeout = request_timeout
        self.max_message_size = max_message_size
        #: largest message a peer may send before its capabilities exchange is done
        self.max_cer_size = max_cer_size
        self.ssl_server = ssl_server
        self.ssl_client = ssl_client
        #: TLS 1.3 session tickets from TLS listeners (off: ``num_tickets = 0`` on ``ssl_server``)
        self.tls_session_tickets = tls_session_tickets
        #: TLS handshakes that failed on a listener (each is logged with the address)
        self.tls_handshake_failures = 0
        self.inband_tls = inband_tls or require_inband_tls
        self.require_inband_tls = require_inband_tls
        self.follow_redirects = follow_redirects
        self.is_relay = is_relay
        self.max_failover = max_failover
        self.tick = tick
        self.write_buffer_high = write_buffer_high
        self.write_buffer_hard_limit = write_buffer_high * 4
        self.max_inflight_per_peer = max_inflight_per_peer
        self.dump_messages = dump_messages
        #: requests sent in one loop iteration share one write: fewer syscalls and
        #: less CPU, but client and server then work in lock-step (lower throughput)
        self.coalesce_requests = coalesce_requests
        #: RFC 3539 REOPEN: after a failure, carry no traffic until three DWAs came back
        #: (False: send at once on a reconnected peer, as many stacks do)
        self.strict_reopen = strict_reopen
        #: check requests for local applications against their grammar (docs/validation.md)
        self.validate = validate
        #: the dialect of peers configured without one (and of unknown peers)
        self.dialect = get_dialect(dialect).name
        self.state_id = int(time.time()) & 0xFFFFFFFF
        self.end_to_end = SequenceCounter(((self.state_id & 0xFFF) << 20) | random.getrandbits(20))
        self.peers: dict[str, PeerInfo] = {}
        self.apps: dict[int, _App] = {}
        self.routes = RoutingTable()
        #: peers for requests this node originates, by (realm, app id or None)
        self.client_routes: dict[tuple[str, int | None], list[str]] = {}
        self.balancer = Balancer(balancing)
        self.redirects = RedirectCache()
        self.pending = PendingTable()
        self.dedup = DuplicateCache(duplicate_window, max_bytes=duplicate_cache_bytes)
        #: requests whose handler has not answered yet: (id(proto), hbh, e2e) -> (deadline, command, request)
        self._unanswered: dict[tuple[int, int, int], tuple[float, int, bytes]] = {}
        self.protocols: set[DiameterProtocol] = set()
        #: peers with an open connection (kept in step with open/close events)
        self._open: list[PeerInfo] = []
        self.listeners: list[asyncio.AbstractServer] = []
        self.listen_ports: list[int] = []
        self.on_peer_state: list[Callable[[PeerInfo, str], None]] = []
        self._decode = decode
        self._tasks: set[asyncio.Task] = set()
        #: batch writes made in one loop iteration (the first goes out at once)
        self.batch_writes = True
        self._held_writes: list[DiameterProtocol] | None = None
        self._running = False
        self._ticker: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    # ---- configuration ----------------------------------------------------------
    @property
    def decode(self) -> Callable[[bytes], Any]:
        if self._decode is None:
            from ...message import Message
            self._decode = Message.from_bytes
        return self._decode

    def add_application(self, app_id: int, handler: Handler | None = None, *, auth: bool = True,
                        acct: bool = False, vendor_id: int | None = None,
                        commands: set[int] | None = None, validate: bool | None = None) -> None:
        """Serve (or just advertise, with no handler) an application id.

        With ``commands``, requests for other command codes get 3001
        (DIAMETER_COMMAND_UNSUPPORTED). Requests are validated against their
        grammar (in the sending peer's dialect) before the handler sees them
        unless ``validate=False`` (default: the node's ``validate``).
        """
        is_coro = handler is not None and inspect.iscoroutinefunction(handler)
        self.apps[app_id] = _App(app_id, handler, is_coro, auth and not acct, acct, vendor_id,
                                 frozenset(commands) if commands is not None else None,
                                 self.validate if validate is None else validate)

    def add_peer(self, identity: str, realm: str | None = None, addresses: list[str] | None = None,
                 port: int | None = None, **kw: Any) -> PeerInfo:
        """Configure a known peer; ``persistent=True`` keeps a connection up to it.

        ``identity`` is the peer's DiameterIdentity (its FQDN) or a DiameterURI
        (``aaa://host:3868;transport=tcp``, ``aaas://`` for TLS), whose host, port,
        transport and security are then used; anything else raises ``ValueError``.
        ``dialect="huawei"`` (any name of :func:`diameter.validation.dialects.dialect_names`)
        validates the peer's requests with that grammar variant; default: the node's.
        """
        identity, port = _peer_identity(identity, port, kw)
        key = identity.lower()
        if key in self.peers:
            return self.peers[key]
        if kw.get("dialect") is not None:
            kw["dialect"] = get_dialect(kw["dialect"]).name
        peer = PeerInfo(identity=identity, realm=realm or self.realm, addresses=list(addresses or []),
                        port=port, **kw)
        self.peers[key] = peer
        if self._running and peer.persistent and peer.addresses:
            self._spawn(self._maintain(peer))
        return peer

    def add_route(self, realm: str, servers: list[str], action: RouteAction = RouteAction.RELAY,
                  application_id: int | None = None, **kw: Any) -> Route:
        return self.routes.add(Route(realm, action, [s.lower() for s in servers], application_id, **kw))

    def capabilities(self) -> Capabilities:
        auth = {a.app_id for a in self.apps.values() if a.auth and a.vendor_id is None}
        acct = {a.app_id for a in self.apps.values() if a.acct and a.vendor_id is None}
        vsa = [(a.vendor_id, a.app_id if a.auth else None, a.app_id if a.acct else None)
               for a in self.apps.values() if a.vendor_id is not None]
        if self.is_relay:
            auth.add(APP_RELAY)
        sec: set[int] = set()
        if self.inband_tls:
            sec = {INBAND_TLS} if self.require_inband_tls else {INBAND_NO_SECURITY, INBAND_TLS}
        return Capabilities(self.origin_host, self.realm, self.ip_addresses or ["127.0.0.1"],
                            self.vendor_id, self.product_name, self.state_id, set(self.vendor_ids),
                            auth, acct, vsa, sec)

    # ---- lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._running = True
        hosts = self.listen_addresses or self.ip_addresses or None
        if self.ssl_server is not None and not self.tls_session_tickets:
            try:  # TLS 1.3 session tickets: Diameter peers do not resume sessions (GnuTLS warns)
                self.ssl_server.num_tickets = 0
            except ValueError:  # not a PROTOCOL_TLS_SERVER context
                log.info("cannot turn off TLS session tickets on this SSLContext")
        if self.tcp_port is not None:
            await self._listen(hosts, self.tcp_port, None)
        if self.sctp_port is not None:
            for host in hosts or ["0.0.0.0"]:
                sock = sctp_socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, self.sctp_port))
                sock.listen(1024)
                sock.setblocking(False)
                server = await self.loop.create_server(lambda: self._new_protocol(False, None), sock=sock)
                self.listeners.append(server)
                self.listen_ports.append(sock.getsockname()[1])
        if self.tls_port is not None:
            if self.ssl_server is None:
                raise NodeError("tls_port needs ssl_server")
            await self._listen(hosts, self.tls_port, self.ssl_server)
        self._ticker = self.loop.create_task(self._tick_loop())
        for peer in self.peers.values():
            if peer.persistent and peer.addresses:
                self._spawn(self._maintain(peer))

    async def _listen(self, hosts, port: int, ctx: ssl.SSLContext | None) -> None:
        def accept() -> DiameterProtocol:
            proto = self._new_protocol(False, None)
            proto.tls_accept = ctx  # the node runs the handshake, to log and count failures
            return proto
        server = await self.loop.create_server(accept, hosts, port, reuse_address=True, backlog=2048)
        self.listeners.append(server)
        for s in server.sockets:
            self.listen_ports.append(s.getsockname()[1])

    async def stop(self, timeout: float = 5.0, cause: int = DISCONNECT_REBOOTING) -> None:
        """Send DPR on every open connection, wait for DPAs, close everything."""
        self._running = False
        for s in self.listeners:
            s.close()
        now = self.loop.time()
        protos = list(self.protocols)
        for p in protos:
            self._handle_events(p, p.conn.disconnect(now, cause))
            p.flush()
        if protos:
            await asyncio.wait([p.closed for p in protos], timeout=timeout)
        for p in list(self.protocols):
            p.abort()
        for t in list(self._tasks):
            t.cancel()
        if self._ticker:
            self._ticker.cancel()
        for _peer, _hbh, entry in self.pending.expire(float("inf")):
            self._fail_pending(entry, PeerFailed("node stopped"))
        await asyncio.sleep(0)

    def hold_writes(self) -> None:
        """Buffer every connection's writes until :meth:`release_writes` (loop thread only)."""
        if self._held_writes is None:
            self._held_writes = []

    def release_writes(self) -> None:
        """Write what :meth:`hold_writes` buffered, one write per connection."""
        held, self._held_writes = self._held_writes, None
        if held:
            for proto in held:
                proto._end_batch()

    def _spawn(self, coro) -> asyncio.Task:
        t = self.loop.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # ---- connections ------------------------------------------------------------
    def _new_protocol(self, initiator: bool, peer: PeerInfo | None) -> DiameterProtocol:
        conn = PeerConnection(self.capabilities(), initiator, self.loop.time(),
                              tw=(peer.tw if peer and peer.tw else self.tw), ce_timeout=self.ce_timeout,
                              dpa_timeout=self.dpa_timeout, max_message_size=self.max_message_size,
                              max_cer_size=self.max_cer_size,
                              reopen=bool(peer and peer.failed_before), end_to_end=self.end_to_end)
        proto = DiameterProtocol(self, conn, tls_server=self.ssl_server,
                                 tls_client=(peer.ssl_context if peer and peer.ssl_context else self.ssl_client),
                                 server_hostname=peer.identity if peer else None)
        # weak references: the connection's hooks must not keep its transport alive
        # (a cycle would hold the receive buffer until a full garbage collection)
        ref = weakref.ref(proto)
        conn.accept_cer = lambda caps, _r=ref: self._accept_cer(_r(), caps)
        conn.base_hook = lambda code, req, sent, _r=ref: _count_base(_r(), code, req, sent)
        if peer is not None:
            proto.peer = peer
        return proto

    def _connection_made(self, proto: DiameterProtocol) -> None:
        self.protocols.add(proto)
        if proto.transport is not None:
            sock = proto.transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
        if not self.ip_addresses and proto.transport is not None:
            # no configured addresses: advertise the one this connection uses
            local = proto.transport.get_extra_info("sockname")
            if local:
                proto.conn.local = dataclasses.replace(proto.conn.local, host_ip_addresses=[local[0]])
        proto.conn.start(self.loop.time())
        proto.flush()

    def _tls_failed(self, address: Any, exc: BaseException) -> None:
        self.tls_handshake_failures += 1
        reason = getattr(exc, "reason", None) or (type(exc).__name__ if isinstance(exc, TimeoutError) else exc)
        log.warning("TLS handshake with %s failed: %s", _address(address), reason)

    def _connection_gone(self, proto: DiameterProtocol) -> None:
        self.protocols.discard(proto)

    def _accept_cer(self, proto: DiameterProtocol, caps: Capabilities) -> int:
        key = caps.origin_host.lower()
        peer = self.peers.get(key)
        if peer is None:
            if not self.accept_unknown_peers:
                log.warning("CER from unknown peer %s: rejected with 3010", caps.origin_host)
                return DIAMETER_UNKNOWN_PEER
            peer = self.peers[key] = PeerInfo(identity=caps.origin_host, realm=caps.origin_realm, dynamic=True)
        other = peer.protocol
        if other is not None and other is not proto and other.conn.state is not PeerState.CLOSED:
            restarted = (other.conn.is_open and peer.capabilities is not None
                         and caps.origin_state_id is not None
                         and peer.capabilities.origin_state_id not in (None, caps.origin_state_id))
            if restarted:
                log.info("%s restarted (new Origin-State-Id): replacing its stale connection", caps.origin_host)
                events = other.conn.connection_lost(self.loop.time(), "peer restarted", failure=False)
                other.abort()
                self._handle_events(other, events)
            elif other.conn.state is PeerState.WAIT_I_CEA and elect(self.origin_host, caps.origin_host):
                log.info("election won against %s: dropping our own connection", caps.origin_host)
                other.replaced = True
                other.conn.connection_lost(self.loop.time(), "election won", failure=False)
                other.abort()
            else:
                log.info("election lost / already connected to %s: rejecting CER", caps.origin_host)
                return DIAMETER_ELECTION_LOST
        proto.peer = peer
        peer.protocol = proto
        proto.conn.reopen = peer.failed_before  # RFC 3539: after a failure the new connection starts in REOPEN
        return DIAMETER_SUCCESS

    async def _maintain(self, peer: PeerInfo) -> None:
        """Keep a persistent peer connected, reconnecting with backoff."""
        while self._running and not peer.no_reconnect:
            if peer.protocol is None or peer.protocol.closed.done():
                proto = await self._connect(peer)
                if proto is not None:
                    await proto.closed
                    if peer.protocol is proto:
                        peer.protocol = None
            if not self._running or peer.no_reconnect:
                break
            if peer.protocol is not None and not peer.protocol.closed.done():
                await peer.protocol.closed  # someone else's (incoming) connection is serving
                continue
            wait = peer.backoff if peer.backoff else 0.05
            wait = min(wait, peer.reconnect_max)
            peer.backoff = min(max(peer.reconnect_wait, peer.backoff * 2), peer.reconnect_max)
            await asyncio.sleep(wait * random.uniform(0.8, 1.2))

    async def _connect(self, peer: PeerInfo) -> DiameterProtocol | None:
        ctx = None
        if peer.tls == "tls":
            ctx = peer.ssl_context or self.ssl_client
        for addr in peer.addresses:
            proto = self._new_protocol(True, peer)
            peer.protocol = proto
            try:
                if peer.transport == "sctp":
                    sock = sctp_socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
                    sock.setblocking(False)
                    await asyncio.wait_for(self.loop.sock_connect(sock, (addr, peer.port)), self.ce_timeout)
                    await self.loop.create_connection(lambda _p=proto: _p, sock=sock, ssl=ctx,
                                                      server_hostname=peer.identity if ctx else None)
                    return proto
                await asyncio.wait_for(self.loop.create_connection(
                    lambda _p=proto: _p, addr, peer.port, ssl=ctx,
                    server_hostname=peer.identity if ctx else None), self.ce_timeout)
                return proto
            except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
                log.info("connect to %s at %s:%s failed: %s", peer.identity, addr, peer.port, exc)
                peer.last_failure = (("TLS handshake" if isinstance(exc, ssl.SSLError) else "connect")
                                     + f" to {addr}:{peer.port} failed: {exc!r}")
                if peer.protocol is proto:
                    peer.protocol = None
        return None

    async def connect(self, peer: PeerInfo | str, timeout: float = 10.0) -> PeerInfo:
        """Connect to a peer now and wait until it is open (raises NodeError if not)."""
        if isinstance(peer, str):
            peer = self.peers[peer.lower()]
        if not peer.is_open:
            if peer.persistent:
                await self.wait_open(peer, timeout)
            else:
                proto = await self._connect(peer)
                if proto is None:
                    raise NodeError(f"cannot connect to {peer.identity}")
                await self.wait_open(peer, timeout)
        return peer

    async def wait_open(self, peer: PeerInfo | str, timeout: float = 10.0) -> None:
        if isinstance(peer, str):
            peer = self.peers[peer.lower()]
        deadline = self.loop.time() + timeout
        while not peer.is_open:
            if self.loop.time() > deadline:
                from .readiness import peer_status
                raise NodeError(f"peer {peer.identity} not open after {timeout}s ({peer_status(peer)})")
            await asyncio.sleep(0.01)

    async def wait_ready(self, application_id: int, timeout: float = 10.0) -> PeerInfo:
        """Wait until an open peer took ``application_id``; call it after :meth:`start`.

        Raises :class:`~diameter.node.aio.readiness.PeerNotReady` naming each peer's
        state and last failure (e.g. ``CEA ... (Result-Code 5010 DIAMETER_NO_COMMON_APPLICATION)``).
        """
        from .readiness import wait_ready
        return await wait_ready(self, application_id, timeout)

    def new_session_id(self, optional: str | None = None) -> str:
        """A new Session-Id of this node (RFC 6733 §8.8: ``host;high32;low32[;optional]``)."""
        gen = self.__dict__.get("_session_ids")
        if gen is None:
            from .fill import SessionIds
            gen = self.__dict__["_session_ids"] = SessionIds(self.origin_host, self.state_id)
        return gen.next(optional)

    def answer(self, request: SupportsAnswer[_A], result_code: int | None = None, **kw: Any) -> _A:
        """``request.answer(result_code)`` with this node's Origin-Host and Origin-Realm:
        Session-Id, application ids, Proxy-Info and CC-Request-Type/-Number copied."""
        from .fill import make_answer
        return make_answer(self, request, result_code, **kw)

    def disconnect_peer(self, peer: PeerInfo | str, cause: int = DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU) -> None:
        """Send DPR to a peer; with DO_NOT_WANT_TO_TALK_TO_YOU it stays disconnected."""
        if isinstance(peer, str):
            peer = self.peers[peer.lower()]
        if cause == DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU:
            peer.no_reconnect = True
        p = peer.protocol
        if p is not None:
            self._handle_events(p, p.conn.disconnect(self.loop.time(), cause))
            p.flush()

    # ---- events from connections ------------------------------------------------
    def _handle_events(self, proto: DiameterProtocol, events: list) -> None:
        for ev in events:
            t = type(ev)
            if t is AnswerReceived:
                self._on_answer(proto, ev.header, ev.data)
            elif t is RequestReceived:
                try:
                    self._on_request(proto, ev.header, ev.data)
                except Exception:  # noqa: BLE001 - a failing request costs itself, not the connection
                    log.exception("request %d failed: answering 5012", ev.header[2])
                    self._send_error(proto, ev.header, ev.data, DIAMETER_UNABLE_TO_COMPLY, "request failed")
            elif t is Opened:
                self._on_open(proto, ev)
            elif t is Closed:
                self._on_closed(proto, ev)
            elif t is WatchdogChange:
                self._on_watchdog(proto, ev.action)
            elif t is StartTls:
                self._spawn(proto.start_tls(ev))

    def _set_state(self, peer: PeerInfo, what: str) -> None:
        state_log.info("peer %s: %s", peer.identity, what)
        for cb in self.on_peer_state:
            try:
                cb(peer, what)
            except Exception:  # noqa: BLE001 - a listener must not break the node
                log.exception("peer state listener failed")

    def _on_open(self, proto: DiameterProtocol, ev: Opened) -> None:
        peer = proto.peer
        if peer is None:
            key = ev.capabilities.origin_host.lower()
            peer = self.peers.get(key)
            if peer is None:
                peer = self.peers[key] = PeerInfo(ev.capabilities.origin_host, ev.capabilities.origin_realm,
                                                  dynamic=True)
            proto.peer = peer
        elif peer.key != ev.capabilities.origin_host.lower():
            log.warning("peer configured as %s answered as %s", peer.identity, ev.capabilities.origin_host)
        peer.protocol = proto
        peer.capabilities = ev.capabilities
        peer.negotiated = ev.negotiated
        peer.suspect = bool(self.strict_reopen and proto.conn.reopen)
        proto.opened_at = self.loop.time()
        peer.stats.connects += 1
        if peer not in self._open:
            self._open.append(peer)
        self._set_state(peer, "open" + (" (reopen, waiting for 3 DWAs)" if proto.conn.reopen else ""))

    def _on_closed(self, proto: DiameterProtocol, ev: Closed) -> None:
        peer = proto.peer
        self.loop.call_soon(proto.close)
        if peer is None:
            return
        was_active = peer.protocol is proto
        if was_active:
            peer.protocol = None
            if peer in self._open:
                self._open.remove(peer)
        peer.stats.disconnects += 1
        peer.last_disconnect_cause = ev.disconnect_cause
        if proto.opened_at is not None and self.loop.time() - proto.opened_at >= min(peer.tw or self.tw, 5.0):
            peer.backoff = 0.0  # it worked for a while: reconnect at once; a flapping peer backs off
        if ev.reason not in ("local close", "DPA received"):
            from .readiness import describe_failure
            peer.last_failure = describe_failure(ev.reason, ev.result_code)
        if ev.disconnect_cause == DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU and ev.reason == "DPR received":
            peer.no_reconnect = True
        elif ev.disconnect_cause == DISCONNECT_BUSY and ev.reason == "DPR received":
            peer.backoff = max(peer.backoff, peer.reconnect_wait)
        if ev.failure:  # RFC 3539: the next connection starts in REOPEN
            peer.failed_before = True
        self._set_state(peer, f"closed: {ev.reason}" + (f" (result {ev.result_code})" if ev.result_code else ""))
        if was_active and not proto.replaced:
            self._failover(peer)
        if peer.dynamic and peer.protocol is None and self.peers.get(peer.key) is peer:
            del self.peers[peer.key]  # an unknown peer is kept only while connected

    def _on_watchdog(self, proto: DiameterProtocol, action: WatchdogAction) -> None:
        peer = proto.peer
        if peer is None:
            return
        if action is WatchdogAction.FAILOVER:
            peer.suspect = True
            peer.failed_before = True
            peer.stats.failovers += 1
            self._set_state(peer, "SUSPECT: failing over pending requests")
            self._failover(peer)
        elif action is WatchdogAction.FAILBACK:
            peer.suspect = self.strict_reopen and proto.conn.peer_reopen
            self._set_state(peer, "OKAY: failback" + (" (the peer is still in REOPEN)" if peer.suspect else ""))
        elif action is WatchdogAction.PEER_REOPEN:
            if self.strict_reopen:
                peer.suspect = True
                self._set_state(peer, "the peer is in REOPEN (DWR at once): holding traffic until it has 3 DWAs")
        elif action is WatchdogAction.PEER_OKAY:
            if self.strict_reopen and proto.conn.ready:
                peer.suspect = False
                self._set_state(peer, "OKAY: the peer is out of REOPEN")

    def _failover(self, peer: PeerInfo) -> None:
        for _hbh, entry in self.pending.take_peer(peer.key):
            entry.tried.add(peer.key)
            if len(entry.tried) > self.max_failover or not self._resend(entry, retransmit=True):
                self._fail_pending(entry, PeerFailed(f"peer {peer.identity} failed; no alternate peer"))

    # ---- sending requests -------------------------------------------------------
    def _usable(self, identity: str, app_id: int) -> bool:
        p = self.peers.get(identity)
        return p is not None and p.is_open and p.supports(app_id) and not p.protocol.congested

    def _pending_count(self, identity: str) -> int:
        return self.pending.count(identity)

    def _select_peer(self, app_id: int, dest_realm: str | None, dest_host: str | None,
                     exclude: set[str], session: str | None = None) -> PeerInfo | None:
        if dest_host is not None:
            key = dest_host.lower()
            if key not in exclude and self._usable(key, app_id):
                return self.peers[key]
        realm = (dest_realm or self.realm)
        if self.redirects._entries:
            hosts = self.redirects.lookup(self.loop.time(), realm=realm, app=app_id, host=dest_host,
                                          session=session)
            if hosts:
                for h in hosts:
                    if h.lower() not in exclude and self._usable(h.lower(), app_id):
                        return self.peers[h.lower()]
        cr = self.client_routes
        if cr:
            rl = realm.lower()
            ids = cr.get((rl, app_id)) or cr.get((rl, None))
            if ids:
                cands = [s for s in ids if s not in exclude and self._usable(s, app_id)]
                if cands:
                    return self.peers[self.balancer.choose(cands, self._pending_count,
                                                           {k: self.peers[k].weight for k in cands})]
        route = self.routes.lookup(realm, app_id)
        if route is not None and route.action is not RouteAction.LOCAL:
            cands = [s for s in route.servers if s not in exclude and self._usable(s, app_id)]
            weights = route.weights
        else:
            rl = realm.lower()
            cands = [p.key for p in self._open
                     if p.realm.lower() == rl and p.key not in exclude and self._usable_peer(p, app_id)]
            if not cands and route is None:
                cands = [p.key for p in self._open
                         if p.key not in exclude and self._usable_peer(p, app_id)]
            if len(cands) == 1:
                return self.peers[cands[0]]
            weights = {k: self.peers[k].weight for k in cands}
        if not cands:
            return None
        return self.peers[self.balancer.choose(cands, self._pending_count, weights)]

    @staticmethod
    def _usable_peer(p: PeerInfo, app_id: int) -> bool:
        return p.is_open and p.supports(app_id) and not p.protocol.congested

    def _send_to(self, peer: PeerInfo, entry: _Pending) -> None:
        proto = peer.protocol
        hbh = proto.conn.hop_by_hop.next()
        data = entry.data
        _U32.pack_into(data, 12, hbh)
        key = peer.key
        entry.tried.add(key)
        self.pending.add(key, hbh, entry.deadline, entry)
        peer.stats.cmd(entry.command).requests_sent += 1
        if self.dump_messages:
            dump_log.debug("-> %s %r", peer.identity, bytes(data))
        if self.coalesce_requests:
            proto.write_soon(data)
        else:
            proto.write(data)

    def _resend(self, entry: _Pending, retransmit: bool) -> bool:
        session = None
        peer = self._select_peer(entry.app_id, entry.dest_realm, entry.dest_host, entry.tried, session)
        if peer is None:
            return False
        if retransmit:
            entry.data[4] |= FLAG_RETRANSMIT
        self._send_to(peer, entry)
        return True

    def _fail_pending(self, entry: _Pending, exc: Exception, result: int = DIAMETER_UNABLE_TO_DELIVER) -> None:
        if entry.future is not None:
            if not entry.future.done():
                entry.future.set_exception(exc)
        elif entry.origin is not None:
            proto, hbh = entry.origin
            hdr = parse_header(entry.data)
            self._send_error(proto, hdr._replace(hop_by_hop_identifier=hbh), bytes(entry.data), result, str(exc))

    def prepare(self, message: Any) -> bytearray:
        """Encode a message (object or bytes) to a mutable buffer."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            return bytearray(message)
        return bytearray(message.as_bytes())

    def request_future(self, message: Any, *, timeout: float | None = None, peer: str | None = None,
                       raw: bool = False, future: asyncio.Future[Any] | None = None) -> asyncio.Future[Any]:
        """Send a request now; the returned future resolves to the answer.

        The future raises :class:`NotRoutable`, :class:`RequestTimeout` or
        :class:`PeerFailed`; it is never left pending. ``future``: resolve this one
        (e.g. a subclass acting on ``set_result`` at once) instead of a new one.
        """
        if not raw and hasattr(message, "avp_def"):   # typed: complete what the node knows
            fill_request(self, message, peer)
        data = self.prepare(message)
        if len(data) < 20:
            raise NodeError("message shorter than a Diameter header")
        _vl, fc, app_id, _hbh, e2e = _HDR.unpack_from(data)
        command = fc & 0xFFFFFF
        typed = not raw and hasattr(message, "header")
        if e2e == 0:
            e2e = self.end_to_end.next()
            _U32.pack_into(data, 16, e2e)
            if typed:
                message.header.end_to_end_identifier = e2e
        if app_id == 0 and command not in BASE_COMMANDS:
            # like python-diameter, take the application from the message's AVPs
            app_id = (A.as_u32(A.find(data, AVP_AUTH_APPLICATION_ID))
                      or A.as_u32(A.find(data, AVP_ACCT_APPLICATION_ID)) or 0)
            if app_id:
                _U32.pack_into(data, 8, app_id)
                if typed:
                    message.header.application_id = app_id
        if raw or not hasattr(message, "destination_realm"):
            found = A.find_many(data, _DEST_CODES)
            dest_host = _as_str(found.get(AVP_DESTINATION_HOST)) if peer is None else peer
            dest_realm = _as_str(found.get(AVP_DESTINATION_REALM))
        else:  # typed message: the attributes are already there, no scan needed
            dest_host = peer if peer is not None else _as_str(getattr(message, "destination_host", None))
            dest_realm = _as_str(message.destination_realm)
        now = self.loop.time()
        fut = future if future is not None else self.loop.create_future()
        entry = _Pending(data, app_id, now, now + (timeout if timeout is not None else self.request_timeout),
                         fut, raw, dest_realm, dest_host, command=command)
        target = self._select_peer(app_id, dest_realm, dest_host, _NO_PEERS)
        if target is None:
            from .readiness import not_open_hint
            raise NotRoutable(f"no open peer for application {app_id} realm {dest_realm} host {dest_host}"
                              + not_open_hint(self, app_id))
        self._send_to(target, entry)
        if typed:
            message.header.hop_by_hop_identifier = _U32.unpack_from(data, 12)[0]
        return fut

    @overload
    async def request(self, message: SupportsAnswer[_A], *, timeout: float | None = None,
                      peer: str | None = None) -> _A: ...
    @overload
    async def request(self, message: bytes | bytearray, *, timeout: float | None = None,
                      peer: str | None = None) -> Message: ...

    async def request(self, message: Any, *, timeout: float | None = None, peer: str | None = None) -> Any:
        """Send a request and return the decoded answer (a typed request: its answer class).

        A typed request is completed first: Origin-Host/Realm, Session-Id
        (:meth:`new_session_id`) and Destination-Realm when missing."""
        return await self.request_future(message, timeout=timeout, peer=peer)

    async def request_bytes(self, data: bytes, *, timeout: float | None = None, peer: str | None = None) -> bytes:
        """Like :meth:`request` for pre-encoded bytes; returns the answer's bytes."""
        return await self.request_future(data, timeout=timeout, peer=peer, raw=True)

    # ---- answers ----------------------------------------------------------------
    def _on_answer(self, proto: DiameterProtocol, hdr, data: bytes) -> None:
        peer = proto.peer
        key = peer.key
        entry = self.pending.pop(key, hdr[4])
        if entry is None:
            log.debug("answer hbh %#x from %s matches no request (late or duplicate)", hdr[4], peer.identity)
            return
        now = self.loop.time()
        cs = peer.stats.cmd(hdr[2])
        cs.answers_received += 1
        cs.latencies.append(now - entry.sent_at)
        result = A.as_u32(A.find(data, AVP_RESULT_CODE))
        if result is not None:
            cs.result_classes[result_class(result)] += 1
        if self.dump_messages:
            dump_log.debug("<- %s %r", peer.identity, data)
        if (result == DIAMETER_REDIRECT_INDICATION and hdr[1] & FLAG_ERROR and entry.origin is None
                and self.follow_redirects and entry.redirects < 3 and self._follow_redirect(entry, data)):
            return
        if entry.future is not None:
            self._deliver(entry, data)
        elif entry.origin is not None:
            origin, hbh = entry.origin
            out = bytearray(data)
            _U32.pack_into(out, 12, hbh)
            if origin.peer is not None:
                origin.peer.stats.cmd(hdr[2]).answers_sent += 1
            origin.write(out)

    def _follow_redirect(self, entry: _Pending, data: bytes) -> bool:
        try:
            hosts = [parse_diameter_uri(p.decode("utf-8", "replace")).fqdn for c, _f, v, p in A.iter_avps(data)
                     if c == AVP_REDIRECT_HOST and v == 0]
        except (A.AvpError, ValueError):
            return False
        if not hosts:
            return False
        usage = A.as_u32(A.find(data, AVP_REDIRECT_HOST_USAGE), REDIRECT_DONT_CACHE)
        max_age = A.as_u32(A.find(data, AVP_REDIRECT_MAX_CACHE_TIME), 0)
        now = self.loop.time()
        self.redirects.store(hosts, usage, max_age, now, realm=entry.dest_realm or self.realm,
                             app=entry.app_id, host=entry.dest_host)
        entry.redirects += 1
        for h in hosts:
            if self._usable(h.lower(), entry.app_id):
                entry.tried.discard(h.lower())
                self._send_to(self.peers[h.lower()], entry)
                return True
        for h in hosts:  # a configured peer that is not connected yet: connect, then send
            peer = self.peers.get(h.lower())
            if peer is not None and peer.addresses and not peer.no_reconnect:
                self._spawn(self._redirect_via_new_connection(peer, entry, data))
                return True
        return False

    async def _redirect_via_new_connection(self, peer: PeerInfo, entry: _Pending, answer: bytes) -> None:
        try:
            await self.connect(peer, timeout=min(self.ce_timeout, max(entry.deadline - self.loop.time(), 0.1)))
        except NodeError as exc:
            log.info("redirect to %s failed: %s", peer.identity, exc)
        if self._usable(peer.key, entry.app_id):
            entry.tried.discard(peer.key)
            self._send_to(peer, entry)
        else:
            self._deliver(entry, answer)

    def _deliver(self, entry: _Pending, data: bytes) -> None:
        fut = entry.future
        if fut is None or fut.done():
            return
        if entry.raw:
            fut.set_result(data)
            return
        try:
            fut.set_result(self.decode(data))
        except Exception as exc:  # noqa: BLE001 - decoding errors go to the caller
            fut.set_exception(NodeError(f"cannot decode answer: {exc}"))

    # ---- requests ---------------------------------------------------------------
    def _on_request(self, proto: DiameterProtocol, hdr, data: bytes) -> None:
        peer = proto.peer
        app_id = hdr[3]
        cs = peer.stats.cmd(hdr[2])
        cs.requests_received += 1
        peer.stats.received_per_minute.add()
        if self.dump_messages:
            dump_log.debug("<- %s %r", peer.identity, data)
        if hdr[1] & FLAG_ERROR:  # RFC 6733 §3: a request never has the E bit
            self._send_error(proto, hdr, data, DIAMETER_INVALID_HDR_BITS, "E bit set in a request")
            return
        app = self.apps.get(app_id)
        local_only = app is not None and not self.is_relay and not self.routes.default and not self.routes._routes
        if local_only:
            dest_host = None
        else:
            found = A.find_many(data, _DEST_CODES)
            dest_host = _as_str(found.get(AVP_DESTINATION_HOST))
            dest_realm = _as_str(found.get(AVP_DESTINATION_REALM))
            if not peer.supports(app_id) and app_id != APP_COMMON:
                self._send_error(proto, hdr, data, DIAMETER_APPLICATION_UNSUPPORTED)
                return
            d = decide(local_host=self.origin_host, local_realm=self.realm, dest_host=dest_host,
                       dest_realm=dest_realm, app_id=app_id, local_apps=set(self.apps), table=self.routes,
                       usable=self._usable, balancer=self.balancer, pending=self._pending_count,
                       exclude=frozenset({peer.key}))
            if d.action is None:
                self._send_error(proto, hdr, data, d.result_code)
                return
            if d.action is RouteAction.REDIRECT:
                self._send_redirect(proto, hdr, data, d)
                return
            if d.action is not RouteAction.LOCAL:
                if not hdr[1] & FLAG_PROXYABLE:  # only proxiable requests may leave this node
                    self._send_error(proto, hdr, data, DIAMETER_UNABLE_TO_DELIVER, "request is not proxiable")
                    return
                self._relay(proto, hdr, data, d.peer)
                return
            if app is None:
                self._send_error(proto, hdr, data, DIAMETER_APPLICATION_UNSUPPORTED)
                return
        # local processing, with duplicate detection
        origin_host = A.find(data, AVP_ORIGIN_HOST) or b""
        now = self.loop.time()
        t_in = _perf_counter()   # processing time: the loop's clock may tick in milliseconds
        cached = self.dedup.check(origin_host, hdr[5], now, (proto, hdr[4]))
        if cached is not None:
            # a copy (RFC 6733 T flag): the cached answer, or the answer of the first
            # copy when it is ready (the dedup cache keeps this copy as a waiter)
            if cached:
                out = bytearray(cached)
                _U32.pack_into(out, 12, hdr[4])
                proto.write(out)
            return
        if app.commands is not None and hdr[2] not in app.commands:
            self._send_error(proto, hdr, data, DIAMETER_COMMAND_UNSUPPORTED, origin_host=origin_host)
            return
        if app.handler is None:
            self._send_error(proto, hdr, data, DIAMETER_UNABLE_TO_COMPLY, "no handler", origin_host=origin_host)
            return
        if app.validate and self._invalid(proto, hdr, data, origin_host, t_in):
            return
        try:
            msg = self.decode(data)
        except Exception as exc:  # noqa: BLE001 - undecodable request gets an error answer
            code = getattr(exc, "result_code", None) or DIAMETER_INVALID_AVP_BITS
            avp_code = getattr(exc, "avp_code", None)
            log.info("request %d from %s cannot be decoded: %s", hdr[2], peer.identity, exc)
            self._send_error(proto, hdr, data, code if code >= 3000 else DIAMETER_UNABLE_TO_COMPLY,
                             "cannot decode request" + (f": AVP code {avp_code}" if avp_code is not None else ""),
                             origin_host=origin_host)
            return
        if app.is_coro:
            # run the coroutine's first step at once: a handler that does not
            # suspend is answered without creating a Task
            coro = app.handler(msg)
            try:
                first = coro.send(None)
            except StopIteration as stop:
                self._handler_returned(proto, hdr, data, origin_host, stop.value, t_in)
                return
            except Exception:  # noqa: BLE001 - the handler's error becomes 5012
                self._handler_failed(proto, hdr, data, origin_host)
                return
            task = self.loop.create_task(_resume(coro, first))
        else:
            try:
                ans = app.handler(msg)
            except Exception:  # noqa: BLE001
                self._handler_failed(proto, hdr, data, origin_host)
                return
            if not inspect.isawaitable(ans):
                self._handler_returned(proto, hdr, data, origin_host, ans, t_in)
                return
            task = asyncio.ensure_future(ans)
        proto.request_started()
        self._awaiting_answer(proto, hdr, data, now)
        task.add_done_callback(lambda t: self._handler_done(proto, hdr, data, origin_host, t, t_in))

    def _handler_failed(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes,
                        exc: BaseException | None = None) -> None:
        log.error("request handler for command %d (Session-Id %s) failed: answering 5012", hdr[2],
                  _read_str(data, AVP_SESSION_ID), exc_info=exc or True)
        self._send_error(proto, hdr, data, DIAMETER_UNABLE_TO_COMPLY, "request handler failed",
                         origin_host=origin_host)

    def _handler_returned(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, ans: Any,
                          t_in: float) -> None:
        if ans is None:  # the application answers later with send_answer (or never: logged)
            self._awaiting_answer(proto, hdr, data, self.loop.time())
        else:
            self.send_answer(proto, ans, hdr, origin_host, t_in, request=data)

    def _awaiting_answer(self, proto: DiameterProtocol, hdr, data: bytes, now: float) -> None:
        """Remember a request whose handler has not answered yet, to log it if it never does."""
        key = (id(proto), hdr[4], hdr[5])
        aw = self._unanswered
        aw.pop(key, None)  # keep the dict in deadline order
        aw[key] = (now + self.request_timeout, hdr[2], data)

    def _log_unanswered(self, now: float) -> None:
        aw = self._unanswered
        while aw:
            key = next(iter(aw))
            deadline, command, data = aw[key]
            if deadline > now:
                break
            del aw[key]
            log.warning("request %d (Session-Id %s) got no answer from its handler within %.0f s",
                        command, _read_str(data, AVP_SESSION_ID), self.request_timeout)

    def _invalid(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, t_in: float) -> bool:
        """Validate a request for a local application; answer and return True when it fails.

        The first finding is answered with the RFC 6733 error answer (E bit only
        for 3xxx); 3001 is left to the application's ``commands``.
        """
        peer = proto.peer
        rules = get_dialect(peer.dialect or self.dialect).rules
        findings = [f for f in validate(data, rules) if f.result_code != DIAMETER_COMMAND_UNSUPPORTED]
        if not findings:
            return False
        log.info("request %d from %s rejected: %s", hdr[2], peer.identity, findings[0])
        answer = error_answer(data, findings[0], origin_host=self.origin_host, origin_realm=self.realm,
                              origin_state_id=self.state_id, dictionary=rules)
        self.send_answer(proto, answer.as_bytes(), hdr, origin_host, t_in)
        return True

    def _handler_done(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, task: asyncio.Future,
                      received: float | None = None) -> None:
        proto.request_done()
        self._unanswered.pop((id(proto), hdr[4], hdr[5]), None)
        if task.cancelled():
            self._send_error(proto, hdr, data, DIAMETER_UNABLE_TO_COMPLY, "request handler cancelled",
                             origin_host=origin_host)
            return
        exc = task.exception()
        if exc is not None:
            self._handler_failed(proto, hdr, data, origin_host, exc)
            return
        self._handler_returned(proto, hdr, data, origin_host, task.result(), received)

    def send_answer(self, proto: DiameterProtocol, answer: Any, hdr=None, origin_host: bytes | None = None,
                    received: float | None = None, *, request: bytes | None = None) -> None:
        """Send an answer (object or bytes) on the connection its request came from.

        An answer object that cannot be encoded is logged and replaced by a 5012
        answer (DIAMETER_UNABLE_TO_COMPLY) to that one request.
        """
        if isinstance(answer, (bytes, bytearray)):
            out = answer
        else:
            try:
                out = answer.as_bytes()
            except Exception:  # noqa: BLE001 - a bad answer costs its request, not the connection
                h = hdr if hdr is not None else _header_of(answer)
                if h is None:
                    raise
                sid = getattr(answer, "session_id", None)
                log.error("answer to command %d (Session-Id %s) cannot be encoded: answering 5012", h[2],
                          _as_str(sid), exc_info=True)
                if request is None and sid is not None:
                    request = A.avp(AVP_SESSION_ID, sid if isinstance(sid, bytes) else str(sid).encode())
                    request = A.message(FLAG_REQUEST, h[2], h[3], h[4], h[5], [request])
                self._send_error(proto, h, request or b"", DIAMETER_UNABLE_TO_COMPLY, "answer could not be encoded",
                                 origin_host=origin_host)
                return
        if hdr is not None and _IDS.unpack_from(out, 12) != (hdr[4], hdr[5]):
            out = bytearray(out)
            _IDS.pack_into(out, 12, hdr[4], hdr[5])
        if self._unanswered:
            self._unanswered.pop((id(proto), *_IDS.unpack_from(out, 12)), None)
        if origin_host is not None:
            self._record(origin_host, hdr[5], out)
        peer = proto.peer
        if peer is not None:
            cs = peer.stats.cmd(hdr[2] if hdr else _U32.unpack_from(out, 4)[0] & 0xFFFFFF)
            cs.answers_sent += 1
            if received is not None:
                cs.processing.append(_perf_counter() - received)
            rc = A.as_u32(A.find(out, AVP_RESULT_CODE))
            if rc is not None:
                cls = result_class(rc)
                cs.sent_result_classes[cls] += 1
                peer.stats.sent_results_per_minute[cls].add()
            else:
                check_result(out, peer.identity)
        if self.dump_messages:
            dump_log.debug("-> %r", bytes(out))
        proto.write(out)

    def _record(self, origin_host: bytes, e2e: int, out: bytes | bytearray) -> None:
        """Cache a local answer for duplicates; copies waiting for it get it now."""
        waiters = self.dedup.record(origin_host, e2e, out if type(out) is bytes else bytes(out), self.loop.time())
        for wproto, whbh in waiters:
            copy = bytearray(out)
            _U32.pack_into(copy, 12, whbh)
            wproto.write(copy)

    def _send_error(self, proto: DiameterProtocol, hdr, data: bytes, result: int, message: str | None = None,
                    extra: list[bytes] | None = None, *, origin_host: bytes | None = None) -> None:
        avps_out = []
        sid = A.find(data, AVP_SESSION_ID) if data else None
        if sid is not None:
            avps_out.append(A.avp(AVP_SESSION_ID, sid))
        avps_out += [A.text(AVP_ORIGIN_HOST, self.origin_host), A.text(AVP_ORIGIN_REALM, self.realm),
                     A.u32(AVP_RESULT_CODE, result)]
        # no Error-Reporting-Host: this node is the answer's Origin-Host (RFC 6733 6.2, 7.3)
        if message:
            avps_out.append(A.avp(AVP_ERROR_MESSAGE, message.encode(), mandatory=False))
        if extra:
            avps_out += extra
        try:
            avps_out += [A.avp(AVP_PROXY_INFO, p) for p in A.find_all(data, AVP_PROXY_INFO)]
        except A.AvpError:
            pass
        flags = (hdr[1] & FLAG_PROXYABLE) | (FLAG_ERROR if 3000 <= result < 4000 else 0)
        out = A.message(flags, hdr[2], hdr[3], hdr[4], hdr[5], avps_out)
        if origin_host is not None:  # a local request: copies get the same answer
            self._unanswered.pop((id(proto), hdr[4], hdr[5]), None)
            self._record(origin_host, hdr[5], out)
        if proto.peer is not None:
            proto.peer.stats.cmd(hdr[2]).answers_sent += 1
            proto.peer.stats.add_sent_result(hdr[2], result)
            proto.peer.stats.sent_results_per_minute[result_class(result)].add()
        proto.write(out)

    def _send_redirect(self, proto: DiameterProtocol, hdr, data: bytes, d) -> None:
        extra = [A.text(AVP_REDIRECT_HOST, f"aaa://{h}") for h in d.redirect_hosts]
        if d.route is not None:
            extra.append(A.u32(AVP_REDIRECT_HOST_USAGE, d.route.redirect_usage))
            extra.append(A.u32(AVP_REDIRECT_MAX_CACHE_TIME, d.route.redirect_max_cache_time))
        self._send_error(proto, hdr, data, DIAMETER_REDIRECT_INDICATION, extra=extra)

    def _relay(self, proto: DiameterProtocol, hdr, data: bytes, target: str) -> None:
        me = self.origin_host.lower().encode()
        try:
            records = A.find_all(data, AVP_ROUTE_RECORD)
        except A.AvpError as exc:
            self._send_error(proto, hdr, data, exc.result_code, str(exc))
            return
        if any(r.lower() == me for r in records):
            self._send_error(proto, hdr, data, DIAMETER_LOOP_DETECTED)
            return
        rr = A.text(AVP_ROUTE_RECORD, proto.peer.identity)
        out = bytearray(data)
        out += rr
        out[1:4] = len(out).to_bytes(3, "big")
        now = self.loop.time()
        entry = _Pending(out, hdr[3], now, now + self.request_timeout, origin=(proto, hdr[4]),
                         dest_realm=_read_str(data, AVP_DESTINATION_REALM),
                         dest_host=_read_str(data, AVP_DESTINATION_HOST), command=hdr[2])
        entry.tried.add(proto.peer.key)
        self._send_to(self.peers[target], entry)

    # ---- timers -----------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                self.handle_timers(self.loop.time())
            except Exception:  # noqa: BLE001 - the ticker must survive
                log.exception("timer handling failed")

    def handle_timers(self, now: float) -> None:
        for proto in list(self.protocols):
            t = proto.conn.next_timer()
            if t is not None and t <= now:
                self._handle_events(proto, proto.conn.handle_timer(now))
                proto.flush()
        for key, _hbh, entry in self.pending.expire(now):
            peer = self.peers.get(key)
            if peer is not None:
                peer.stats.cmd(entry.command).timeouts += 1
            self._fail_pending(entry, RequestTimeout(f"no answer from {key} in time"),
                               DIAMETER_UNABLE_TO_DELIVER)
        self.dedup.trim(now)
        if self._unanswered:
            self._log_unanswered(now)

    # ---- introspection ----------------------------------------------------------
    def open_peers(self) -> list[PeerInfo]:
        return [p for p in self.peers.values() if p.is_open]


def _peer_identity(identity: str, port: int | None, kw: dict[str, Any]) -> tuple[str, int]:
    """(FQDN, port) of an ``add_peer`` identity: a DiameterIdentity or an aaa(s):// URI."""
    if "://" in identity:
        scheme = identity.split("://", 1)[0].lower()
        if scheme not in ("aaa", "aaas"):
            raise ValueError(f"peer {identity!r}: a DiameterURI starts with aaa:// or aaas://")
        uri = parse_diameter_uri(identity)
        transport = uri.params.get("transport")
        if transport is not None:
            kw.setdefault("transport", transport.lower())
        if uri.is_secure:
            kw.setdefault("tls", "tls")
        identity, port = uri.fqdn, port if port is not None else uri.port
    if not identity or any(c in identity for c in "/:;@ \t"):
        raise ValueError(f"peer identity {identity!r} is not a DiameterIdentity (an FQDN) "
                         f"nor an aaa:// URI")
    return identity, port if port is not None else 3868


def _count_base(proto: DiameterProtocol, code: int, is_request: bool, sent: bool) -> None:
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


def _header_of(answer: Any) -> tuple | None:
    h = getattr(answer, "header", None)
    if h is None:
        return None
    try:
        return (0, h.command_flags, h.command_code, h.application_id, h.hop_by_hop_identifier,
                h.end_to_end_identifier)
    except AttributeError:
        return None


def data_ids(hdr) -> bytes:
    return hdr[4].to_bytes(4, "big") + hdr[5].to_bytes(4, "big")
