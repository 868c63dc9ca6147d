"""python-diameter's threaded ``Node`` API, running the asyncio node in a background thread."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .identifiers import SequenceGenerator, SessionGenerator
from .uri import parse_diameter_uri
from .aio.node import DiameterNode, NodeError, NotRoutable, RequestTimeout
from .aio.peer import PeerInfo
from .application import Application, EmptyAnswer
from .peer import PEER_TRANSPORT_SCTP, PEER_TRANSPORT_TCP, Peer, PeerConnectionView
from .node_stats import NodeStats, summed_stats
from .protocol.constants import DIAMETER_UNABLE_TO_COMPLY, DISCONNECT_REBOOTING
from .threads import Inbox, Waiter, new_event_loop
from ..validation.dialects import dialect as get_dialect

__all__ = ["Node", "NodeError", "NotRoutable", "NodeStats", "new_event_loop", "select_least_used_peer"]


def select_least_used_peer(node: Node, app: Application, message: Any, peers: list[Peer]) -> Peer:
    """Pick the peer with the fewest requests so far."""
    return min(peers, key=lambda p: p.counters.requests)


class Node:
    """A Diameter node with python-diameter's blocking API.

    The protocol runs in an asyncio event loop on a background thread;
    applications are called from that thread (``Application``) or from worker
    threads (``ThreadingApplication``).
    """

    def __init__(self, origin_host: str, realm_name: str, ip_addresses: list[str] | None = None,
                 tcp_port: int | None = None, sctp_port: int | None = None,
                 vendor_ids: list[int] | None = None) -> None:
        self.origin_host = origin_host
        self.realm_name = realm_name
        self.ip_addresses: list[str] = list(ip_addresses or [])
        self.tcp_port = tcp_port
        self.sctp_port = sctp_port
        self.vendor_ids: set[int] = set(vendor_ids or [])
        self.state_id = int(time.time())
        self.vendor_id = 99999
        self.product_name = "python-diameter"
        self.cea_timeout = 4
        self.cer_timeout = 4
        self.dwa_timeout = 4
        self.idle_timeout = 30
        self.wakeup_interval = 6
        self.retransmit_queue_size = 10240
        self.end_to_end_seq = SequenceGenerator(self.state_id)
        self.session_generator = SessionGenerator(self.origin_host)
        self.peers_logging = False
        self.stats_logging = False
        self.validate_received_request_avps = True
        self.accept_unknown_peers = False
        self.ssl_server = None
        self.ssl_client = None
        self.logger = logging.getLogger("diameter.node")
        self.peers: dict[str, Peer] = {}
        self.applications: list[Application] = []
        self.peer_route_select_func: Callable[[Node, Application, Any, list[Peer]], Peer] = select_least_used_peer
        self._app_peers: dict[int, tuple[Application, list[Peer], list[str]]] = {}
        self._defaults: dict[str, list[Peer]] = {}
        self._route_keys: list[tuple[str, int | None]] = []   # the client routes _sync_routes set
        #: received requests awaiting their answer; changed only in the loop thread
        #: (other threads only read it, one atomic dict operation at a time)
        self._waiting: dict[tuple[int, int], Any] = {}
        self._inline_answer: Any = None   # its answer, given inside handle_request
        self._anode: DiameterNode | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None   # threading.get_ident() of the loop's thread
        self._inbox: Inbox | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    # ---- configuration ----------------------------------------------------------
    @property
    def auth_application_ids(self) -> set[int]:
        return {a.application_id for a in self.applications if a.is_auth_application}

    @property
    def acct_application_ids(self) -> set[int]:
        return {a.application_id for a in self.applications if a.is_acct_application}

    def add_peer(self, peer_uri: str, realm_name: str | None = None, ip_addresses: list[str] | None = None,
                 is_persistent: bool = False, is_default: bool = False, *,
                 dialect: str | None = None) -> Peer:
        """Add a known peer from its DiameterURI (``aaa://host[:port][;transport=tcp]``).

        ``dialect`` (e.g. "huawei") selects the grammar variant its requests are
        validated with (docs/validation.md); default "3gpp".
        """
        uri = parse_diameter_uri(peer_uri)
        if uri.fqdn in self.peers:
            return self.peers[uri.fqdn]
        if dialect is not None:
            dialect = get_dialect(dialect).name  # unknown names fail here, not at start()
        transport = uri.params.get("transport", "tcp").lower()
        if transport == "sctp":
            from .aio.sctp import sctp_available
            if not sctp_available():
                raise RuntimeError("peer uses SCTP, but this machine has no SCTP support")
        peer = Peer(node_name=uri.fqdn, realm_name=realm_name or self.realm_name,
                    transport=PEER_TRANSPORT_SCTP if transport == "sctp" else PEER_TRANSPORT_TCP,
                    port=uri.port, ip_addresses=list(ip_addresses or []), persistent=is_persistent,
                    is_secure=uri.is_secure, dialect=dialect)
        self.peers[uri.fqdn] = peer
        if is_default:
            self._defaults.setdefault(peer.realm_name, []).append(peer)
        if self._started:
            self._call(self._register_peer, peer)
        return peer

    def add_application(self, app: Application, peers: list[Peer], realms: list[str] | None = None) -> None:
        """Register an application served through ``peers`` (and extra ``realms``)."""
        self.applications.append(app)
        self._app_peers[app.application_id] = (app, list(peers), list(realms or []))
        app._node = self
        cls = type(self)
        if cls.route_answer is Node.route_answer and cls.send_message is Node.send_message:
            app._answer_direct = self._answer   # send_answer in one call (both are ours)
            if type(app).send_answer is Application.send_answer:
                app.send_answer = self._answer   # type: ignore[method-assign] # one frame less
        app.start()
        if self._started:
            self._call(self._register_app, app)

    # ---- loop plumbing ----------------------------------------------------------
    def _call(self, fn: Callable, *args: Any) -> Any:
        """Run ``fn`` in the loop thread and return its result."""
        if threading.current_thread() is self._thread:
            return fn(*args)

        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def _register_peer(self, peer: Peer) -> None:
        a = self._anode
        info = a.add_peer(peer.node_name, peer.realm_name, peer.ip_addresses, peer.port,
                          persistent=peer.persistent and bool(peer.ip_addresses),
                          reconnect_wait=float(peer.reconnect_wait or 30),
                          tw=float(max(peer.idle_timeout or self.idle_timeout, 1)),
                          tls="tls" if peer.is_secure else "none",
                          transport="sctp" if peer.transport == PEER_TRANSPORT_SCTP else "tcp",
                          dialect=peer.dialect)
        peer._info = info
        if self._started:
            self._sync_routes()

    def _register_app(self, app: Application) -> None:
        a = self._anode
        a.add_application(app.application_id, self._make_handler(app), auth=app.is_auth_application,
                          acct=app.is_acct_application, validate=app.validate_requests)
        self._sync_routes()
        _app, peers, _realms = self._app_peers[app.application_id]
        # a peer that opened before the application existed must renegotiate
        for peer in peers:
            info = peer._info
            if info is not None and info.is_open and not info.supports(app.application_id):
                a.disconnect_peer(info, DISCONNECT_REBOOTING)
        self._update_ready()

    def _sync_routes(self) -> None:
        """Give the asyncio node the applications' peers (and default peers) as client routes.

        With one known peer and no unknown ones accepted the routes could only
        name that peer, the one the node picks anyway: they are left out, which
        keeps the node's fast single-peer path for every request sent.
        """
        routes = self._anode.client_routes
        for key in self._route_keys:   # ours only: routes set on aio_node directly stay
            routes.pop(key, None)
        self._route_keys = []
        if len(self.peers) <= 1 and not self.accept_unknown_peers:
            return
        mine: dict[tuple[str, int | None], list[str]] = {}
        for app, peers, realms in self._app_peers.values():
            for peer in peers:
                for realm in [peer.realm_name, *realms]:
                    ids = mine.setdefault((realm.lower(), app.application_id), [])
                    if peer.node_name.lower() not in ids:
                        ids.append(peer.node_name.lower())
        for realm, peers in self._defaults.items():
            mine[(realm.lower(), None)] = [p.node_name.lower() for p in peers]
        routes.update(mine)
        self._route_keys = list(mine)

    def _make_handler(self, app: Application) -> Callable[[Any], Any]:
        """The asyncio node's handler for ``app``: the answer given inside ``handle_request``
        (in this, the loop thread), or a future of the answer sent later.

        While the handler runs, ``_waiting`` maps the request's key to the key itself
        (a placeholder: :meth:`send_message` in this thread keeps the answer in
        ``_inline_answer``, no future); a request its handler left unanswered maps to
        the future the node waits on.
        """
        loop = self._loop
        assert loop is not None, "called in the loop thread, after start"
        waiting = self._waiting
        # a base Application's receive_request only calls handle_request: one call less
        receive = (app.handle_request if type(app).receive_request is Application.receive_request
                   else app.receive_request)
        new_future = loop.create_future
        logger = self.logger

        def handler(message: Any) -> Any:   # the answer, or a future of it
            h = message.header
            key = (h.hop_by_hop_identifier, h.end_to_end_identifier)
            waiting[key] = key
            try:
                receive(message)
            except Exception:
                answer, self._inline_answer = self._inline_answer, None
                logger.exception("%s failed to handle a request", app)
                if answer is None:
                    if waiting.get(key) is key:
                        del waiting[key]
                    raise   # answered 5012 by the node
                return answer
            answer = self._inline_answer
            if answer is not None:   # answered inside handle_request (send_message took the key out)
                self._inline_answer = None
                return answer
            fut = new_future()
            if waiting.get(key) is key:
                waiting[key] = fut
            else:   # send_message(conn, None) inside handle_request: no answer to send
                fut.set_exception(NodeError("the answer sent was None"))
            return fut
        return handler

    def _resolve(self, key: tuple[int, int], answer: Any) -> None:
        """In the loop thread: ``answer`` answers the request ``key`` (the first answer counts)."""
        w = self._waiting.pop(key, None)
        if w is None:
            return   # answered already (or never received)
        if type(w) is tuple:   # a placeholder: we are inside that request's handle_request
            if self._inline_answer is None:
                self._inline_answer = answer
        elif not w.done():
            w.set_result(answer)

    def _fail(self, key: tuple[int, int]) -> None:
        waiting = self._waiting
        w = waiting.get(key)
        if w is None or type(w) is tuple:
            return
        del waiting[key]
        if not w.done():
            w.set_exception(NodeError(f"handler failed ({DIAMETER_UNABLE_TO_COMPLY})"))

    def handler_failed(self, message: Any) -> None:
        """An application's handler raised for ``message``: fail whoever waits for its answer."""
        key = (message.header.hop_by_hop_identifier, message.header.end_to_end_identifier)
        if key in self._waiting and self._inbox is not None:
            self._inbox.post(self._fail, key)

    def _on_peer_state(self, info: PeerInfo, what: str) -> None:
        for peer in self.peers.values():
            if peer._info is info:
                if what.startswith("open"):
                    peer.last_connect = int(time.time())
                elif what.startswith("closed"):
                    peer.last_disconnect = int(time.time())
        self._update_ready()

    def _update_ready(self) -> None:
        for app, peers, _realms in self._app_peers.values():
            if any(p._info is not None and p._info.is_open and p._info.supports(app.application_id)
                   for p in peers):
                app.is_ready.set()
            else:
                app.is_ready.clear()

    # ---- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Start listening/connecting in a background thread; returns at once."""
        if self._started:
            return
        dump = logging.getLogger("diameter.peer.msg").isEnabledFor(logging.DEBUG)
        ready = threading.Event()
        self._anode = DiameterNode(
            self.origin_host, self.realm_name, ip_addresses=self.ip_addresses, tcp_port=self.tcp_port,
            sctp_port=self.sctp_port,
            vendor_id=self.vendor_id, product_name=self.product_name, vendor_ids=sorted(self.vendor_ids),
            accept_unknown_peers=self.accept_unknown_peers, tw=float(max(self.idle_timeout, 1)),
            ce_timeout=float(max(self.cea_timeout, self.cer_timeout)), ssl_server=self.ssl_server,
            ssl_client=self.ssl_client, dump_messages=dump,
            validate=bool(self.validate_received_request_avps))
        self._anode.state_id = self.state_id
        self._anode.on_peer_state.append(self._on_peer_state)
        errors: list[BaseException] = []

        def run() -> None:
            loop = new_event_loop()
            self._loop = loop
            self._loop_thread = threading.get_ident()
            self._inbox = Inbox(loop, self._anode)
            asyncio.set_event_loop(loop)
            for peer in self.peers.values():
                self._anode.loop = loop
                self._register_peer(peer)
            for app in self.applications:
                self._register_app(app)
            self._sync_routes()
            try:
                loop.run_until_complete(self._anode.start())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"diameter-node-{self.origin_host}", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise NodeError(f"node failed to start: {errors[0]}") from errors[0]
        self._started = True

    def stop(self, wait_timeout: int = 180, force: bool = False) -> None:
        """Disconnect every peer with DPR (unless ``force``) and stop the thread."""
        if not self._started:
            return
        for app in self.applications:
            app.stop()
        timeout = 0.0 if force else float(min(wait_timeout, 10))
        fut = asyncio.run_coroutine_threadsafe(self._anode.stop(timeout), self._loop)
        try:
            fut.result(timeout + 5)
        except Exception:  # noqa: BLE001 - stopping must always finish
            self.logger.exception("error while stopping the node")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._started = False
        self._waiting.clear()

    # ---- messaging --------------------------------------------------------------
    def send_request_for(self, app: Application, message: Any, timeout: float) -> Any:
        """``Application.send_request``: send ``message`` for ``app``, block until its answer."""
        inbox = self._inbox
        if not self._started or inbox is None:
            raise NotRoutable("node is not started")
        h = message.header
        if not h.end_to_end_identifier:
            h.end_to_end_identifier = self.end_to_end_seq.next_sequence()
        if not h.application_id:
            h.application_id = app.application_id
        waiter = Waiter()
        inbox.post(self._send_for, app, message, timeout, waiter)
        if not waiter._lock.acquire(timeout=timeout + 5):
            raise RequestTimeout("Timed out waiting for answer")
        error = waiter.error
        if error is not None:
            if isinstance(error, RequestTimeout):
                raise RequestTimeout("Timed out waiting for answer") from error
            raise error
        answer = waiter.value
        if answer is None:
            raise EmptyAnswer("Response is None")
        return answer

    def _send_for(self, app: Application, message: Any, timeout: float, waiter: Waiter) -> None:
        """In the loop thread: send a blocked thread's request; its answer wakes the thread."""
        try:
            self._anode.request_future(
                message, timeout=timeout, future=waiter,   # type: ignore[arg-type] # resolved, not awaited
                peer=None if self.peer_route_select_func is select_least_used_peer
                else self._custom_route(app, message))
        except Exception as exc:  # noqa: BLE001 - handed to the calling thread
            if not waiter.done():
                waiter.set_exception(exc)

    def _custom_route(self, app: Application, message: Any) -> str | None:
        """Apply a user-set ``peer_route_select_func`` when several peers can serve."""
        if self.peer_route_select_func is select_least_used_peer:
            return None  # the node's own least-pending balancing is equivalent and cheaper
        entry = self._app_peers.get(app.application_id)
        if entry is None:
            return None
        usable = [p for p in entry[1] if p._info is not None and p._info.is_open
                  and p._info.supports(app.application_id)]
        if len(usable) < 2:
            return None
        return self.peer_route_select_func(self, app, message, usable).node_name

    def route_request(self, app: Application, message: Any) -> tuple[PeerConnectionView, Any]:
        """Pick the peer a request would go to (raises NotRoutable)."""
        realm = self.realm_name
        dr = getattr(message, "destination_realm", None)
        if dr:
            realm = dr.decode() if isinstance(dr, bytes) else str(dr)

        def pick() -> PeerInfo | None:
            return self._anode._select_peer(app.application_id, realm, None, set())
        info = self._call(pick)
        if info is None:
            raise NotRoutable(f"no open peer for application {app.application_id} in realm {realm}")
        return PeerConnectionView(info), message

    def route_answer(self, message: Any) -> tuple[Any, Any]:
        """Find who waits for this answer (raises NotRoutable if nobody does)."""
        h = message.header
        key = (h.hop_by_hop_identifier, h.end_to_end_identifier)
        if key not in self._waiting:
            raise NotRoutable(f"no peer is waiting for an answer with ID {hex(h.hop_by_hop_identifier)}")
        return key, message

    def _answer(self, message: Any) -> None:
        """``Application.send_answer``: :meth:`route_answer` and :meth:`send_message` in one."""
        h = message.header
        key = (h.hop_by_hop_identifier, h.end_to_end_identifier)
        waiting = self._waiting
        if threading.get_ident() == self._loop_thread:   # _resolve, inline
            w = waiting.pop(key, None)
            if w is None:
                raise NotRoutable(f"no peer is waiting for an answer with ID {hex(key[0])}")
            if type(w) is tuple:   # inside its handle_request
                if self._inline_answer is None:
                    self._inline_answer = message
            elif not w.done():
                w.set_result(message)
            return
        if key not in waiting:
            raise NotRoutable(f"no peer is waiting for an answer with ID {hex(key[0])}")
        inbox = self._inbox
        if inbox is not None:
            inbox.post(self._resolve, key, message)

    def send_message(self, conn: Any, message: Any) -> None:
        """Send an answer routed with :meth:`route_answer`, or a request to a peer."""
        if type(conn) is tuple:   # an answer: the key route_answer returned
            if threading.get_ident() == self._loop_thread:
                self._resolve(conn, message)
            else:
                inbox = self._inbox
                if inbox is not None:
                    inbox.post(self._resolve, conn, message)
            return
        if isinstance(conn, PeerConnectionView):
            identity = conn.host_identity

            async def go() -> None:
                app_id = message.header.application_id
                fut = self._anode.request_future(message, peer=identity)

                def done(f: asyncio.Future) -> None:
                    if not f.cancelled() and f.exception() is None:
                        for app in self.applications:
                            if app.application_id == app_id:
                                app.receive_answer(f.result())
                fut.add_done_callback(done)
            asyncio.run_coroutine_threadsafe(go(), self._loop).result(30)
            return
        raise NodeError(f"cannot send to {conn!r}")

    # ---- for layers built on the asyncio node (diameter.cc.threaded) --------------
    @property
    def aio_node(self) -> DiameterNode | None:
        """The asyncio :class:`DiameterNode` underneath (None before :meth:`start`)."""
        return self._anode

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The background thread's event loop (None before :meth:`start`)."""
        return self._loop

    # ---- statistics -------------------------------------------------------------
    @property
    def statistics(self) -> NodeStats:
        """Averages and counts summed over every peer (python-diameter's NodeStats)."""
        return summed_stats([peer._info for peer in self.peers.values() if peer._info is not None])
