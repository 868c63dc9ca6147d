"""The asyncio Diameter node: configuration, lifecycle and timers; its parts live in
:mod:`.connections`, :mod:`.requests` and :mod:`.serving`, the decisions in :mod:`diameter.node.protocol`."""
from __future__ import annotations

import asyncio
import inspect
import random
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..uri import parse_diameter_uri
from ..protocol.capabilities import Capabilities
from ..protocol.connection import SequenceCounter
from ..protocol.constants import (APP_RELAY, DEFAULT_MAX_CER_SIZE, DEFAULT_MAX_MESSAGE_SIZE,
                                  DIAMETER_UNABLE_TO_DELIVER, DISCONNECT_REBOOTING,
                                  INBAND_NO_SECURITY, INBAND_TLS)
from ..protocol.dedup import DuplicateCache
from ..protocol.pending import PendingTable
from ..protocol.unanswered import UnansweredRequests
from ..protocol.routing import Balancer, Balancing, RedirectCache, Route, RouteAction, RoutingTable
from ...validation.dialects import DEFAULT_DIALECT
from ...validation.dialects import dialect as get_dialect
from .fill import SupportsAnswer
from .peer import PeerInfo
from .sctp import sctp_socket
from .transport import DiameterProtocol

from .base import Handler, _App, _Pending, log  # noqa: F401
from .base import NodeError as NodeError
from .base import NotRoutable as NotRoutable
from .base import PeerFailed as PeerFailed
from .base import RequestTimeout as RequestTimeout
from .connections import ConnectionsPart
from .requests import RequestsPart
from .reply import ReplyHandler
from .serving import ServingPart

_A = TypeVar("_A")


class DiameterNode(ConnectionsPart, RequestsPart, ServingPart):
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
        self._unanswered = UnansweredRequests(request_timeout)
        self._replies = UnansweredRequests(request_timeout)
        self.protocols: set[DiameterProtocol] = set()
        #: peers with an open connection (kept in step with open/close events)
        self._open: list[PeerInfo] = []
        self.listeners: list[asyncio.AbstractServer] = []
        self.listen_ports: list[int] = []
        self.on_peer_state: list[Callable[[PeerInfo, str], None]] = []
        self._decode = decode
        self._rules: tuple[str, int, Any] | None = None
        self._runner: tuple[Any, list] | None = None
        #: this class's request_future and prepare are RequestsPart's own (read per request: an
        #: instance attribute is a cheaper read than the class's): request() calls request_future
        #: with positional arguments, typed requests take its compiled path
        self._own_request_future = type(self).request_future is RequestsPart.request_future
        self._own_prepare = type(self).prepare is RequestsPart.prepare
        self._tasks: set[asyncio.Task] = set()
        #: batch writes made in one loop iteration (the first goes out at once)
        self.batch_writes = True
        #: connections whose writes wait for release_writes() (None: writes are not held)
        self.held_writes: list[DiameterProtocol] | None = None
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

    def add_application(self, app_id: int, handler: Handler | ReplyHandler | None = None, *, auth: bool = True,
                        acct: bool = False, vendor_id: int | None = None,
                        commands: set[int] | None = None, validate: bool | None = None,
                        reply: bool = False) -> None:
        """Serve (or just advertise, with no handler) an application id.

        With ``commands``, requests for other command codes get 3001
        (DIAMETER_COMMAND_UNSUPPORTED). Requests are validated against their
        grammar (in the sending peer's dialect) before the handler sees them
        unless ``validate=False`` (default: the node's ``validate``).
        ``reply=True``: the handler is called as ``handler(msg, reply)`` and may return
        None and answer later through the :class:`~diameter.node.aio.Reply`.
        """
        is_coro = handler is not None and inspect.iscoroutinefunction(handler)
        self.apps[app_id] = _App(app_id, handler, is_coro and not reply, auth and not acct, acct, vendor_id,
                                 frozenset(commands) if commands is not None else None,
                                 self.validate if validate is None else validate, reply and handler is not None)

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
            self.spawn(self._maintain(peer))
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
                self.spawn(self._maintain(peer))

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
            self.handle_events(p, p.conn.disconnect(now, cause))
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
        if self.held_writes is None:
            self.held_writes = []

    def release_writes(self) -> None:
        """Write what :meth:`hold_writes` buffered, one write per connection."""
        held, self.held_writes = self.held_writes, None
        if held:
            for proto in held:
                proto.end_batch()

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` as a task the node keeps (and cancels on stop)."""
        t = self.loop.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # ---- connections ------------------------------------------------------------

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

    # ---- events from connections ------------------------------------------------

    # ---- sending requests -------------------------------------------------------

    # ---- answers ----------------------------------------------------------------

    # ---- requests ---------------------------------------------------------------

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
                self.handle_events(proto, proto.conn.handle_timer(now))
                proto.flush()
        for key, _hbh, entry in self.pending.expire(now):
            peer = self.peers.get(key)
            if peer is not None:
                peer.stats.cmd(entry.command).timeouts += 1
            self._fail_pending(entry, RequestTimeout(f"no answer from {key} in time"),
                               DIAMETER_UNABLE_TO_DELIVER)
        self.dedup.trim(now)
        if self._unanswered._items or self._replies._items:
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
