"""Connections and peer lifecycle: connect, accept, CER election, reconnect, events.

The decisions are made by the sans-IO :class:`~diameter.node.protocol.connection.PeerConnection`;
this part owns the sockets, the reconnect tasks and the peers' state."""
from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import ssl
import weakref
from typing import Any

from ..protocol.capabilities import Capabilities
from ..protocol.connection import (AnswerReceived, Closed, CloseCause, Collision, Opened, PeerConnection, PeerState,
                                   RequestReceived, StartTls, WatchdogChange, cer_collision)
from ..protocol.outbound import DELIVERED as _DELIVERED, answer_arrived as _answer_arrived
from ..protocol.constants import (DIAMETER_ELECTION_LOST, DIAMETER_SUCCESS,
                                  DIAMETER_UNABLE_TO_COMPLY, DIAMETER_UNKNOWN_PEER,
                                  DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU)
from ..protocol.reconnect import after_close, reconnect_wait_after
from ..protocol.selection import may_fail_over
from ..protocol.watchdog import WatchdogAction
from .base import (NodeParts, NodeError, PeerFailed, _address,
                   _count_base, log, state_log)
from .peer import PeerInfo
from .sctp import sctp_socket
from .transport import DiameterProtocol


class ConnectionsPart(NodeParts):
    """Connections and peer lifecycle: connect, accept, CER election, reconnect, events (a part of
    :class:`~diameter.node.aio.DiameterNode`)."""

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

    # ---- the transport's interface (transport.TransportOwner) -------------------
    def transport_opened(self, proto: DiameterProtocol) -> None:
        """A connection's transport is up (after the TLS handshake on a TLS listener)."""
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

    def tls_accept_failed(self, address: Any, exc: BaseException) -> None:
        """The TLS handshake of a connection accepted from `address` failed: counted, logged."""
        self.tls_handshake_failures += 1
        reason = getattr(exc, "reason", None) or (type(exc).__name__ if isinstance(exc, TimeoutError) else exc)
        log.warning("TLS handshake with %s failed: %s", _address(address), reason)

    def transport_closed(self, proto: DiameterProtocol) -> None:
        """A connection's transport is gone (its ``Closed`` event was handled before)."""
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
            what = cer_collision(local_host=self.origin_host, remote_host=caps.origin_host,
                                 other_state=other.conn.state,
                                 known_state_id=peer.capabilities.origin_state_id if peer.capabilities else None,
                                 new_state_id=caps.origin_state_id)
            if what is Collision.REPLACE:
                log.info("%s restarted (new Origin-State-Id): replacing its stale connection", caps.origin_host)
                events = other.conn.connection_lost(self.loop.time(), "peer restarted", failure=False,
                                                     cause=CloseCause.PEER_RESTARTED)
                other.abort()
                self.handle_events(other, events)
            elif what is Collision.WIN:
                log.info("election won against %s: dropping our own connection", caps.origin_host)
                other.replaced = True
                other.conn.connection_lost(self.loop.time(), "election won", failure=False,
                                           cause=CloseCause.ELECTION_WON)
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
            wait, peer.backoff = reconnect_wait_after(peer.backoff, peer.reconnect_wait, peer.reconnect_max)
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

    def disconnect_peer(self, peer: PeerInfo | str, cause: int = DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU) -> None:
        """Send DPR to a peer; with DO_NOT_WANT_TO_TALK_TO_YOU it stays disconnected."""
        if isinstance(peer, str):
            peer = self.peers[peer.lower()]
        if cause == DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU:
            peer.no_reconnect = True
        p = peer.protocol
        if p is not None:
            self.handle_events(p, p.conn.disconnect(self.loop.time(), cause))
            p.flush()

    def handle_events(self, proto: DiameterProtocol, events: list) -> None:
        """Act on the events a connection's sans-IO core produced."""
        on_request = self._on_request
        pending: Any = None
        for ev in events:
            t = type(ev)
            # the event stands for its header (it has the same fields; ev.header builds the tuple)
            if t is AnswerReceived:
                if pending is None:   # the batch's first answer: what every answer of it needs
                    peer = proto.peer
                    pending, key, stats = self.pending, peer.key, peer.stats
                # its request's record, taken; the answer counted with its latency (to the loop's
                # time its bytes arrived, the event's) and Result-Code class, and in the usual case
                # (a future, the default decoder, no E bit, no dump) delivered (compiled)
                entry = _answer_arrived(pending, key, ev, stats, ev.received_at,
                                        self._decode is None and not self.dump_messages)
                if entry is not _DELIVERED:
                    self._on_answer(proto, ev, ev.data, entry)
            elif t is RequestReceived:
                try:
                    on_request(proto, ev, ev.data)
                except Exception:  # noqa: BLE001 - a failing request costs itself, not the connection
                    log.exception("request %d failed: answering 5012", ev.command_code)
                    self._send_error(proto, ev, ev.data, DIAMETER_UNABLE_TO_COMPLY, "request failed")
            elif t is Opened:
                self._on_open(proto, ev)
            elif t is Closed:
                self._on_closed(proto, ev)
            elif t is WatchdogChange:
                self._on_watchdog(proto, ev.action)
            elif t is StartTls:
                self.spawn(proto.start_tls(ev))

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
        if ev.cause not in (CloseCause.LOCAL, CloseCause.DPA_RECEIVED):
            from .readiness import describe_failure
            peer.last_failure = describe_failure(ev.reason, ev.result_code)
        after = after_close(ev, open_for=None if proto.opened_at is None else self.loop.time() - proto.opened_at,
                            tw=peer.tw or self.tw, backoff=peer.backoff, reconnect_wait=peer.reconnect_wait)
        peer.backoff = after.backoff
        peer.no_reconnect = peer.no_reconnect or after.no_reconnect
        peer.failed_before = peer.failed_before or after.failed
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
            if not may_fail_over(entry.tried, self.max_failover) or not self._resend(entry, retransmit=True):
                self._fail_pending(entry, PeerFailed(f"peer {peer.identity} failed; no alternate peer"))
