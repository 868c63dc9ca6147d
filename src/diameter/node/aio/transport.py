"""asyncio transport glue: one ``asyncio.Protocol`` per peer connection.

The transport knows its node only through :class:`TransportOwner` (which
``DiameterNode`` implements), so this module imports nothing of the node."""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine
from time import monotonic as _monotonic
from typing import Any, Protocol

from ..protocol.connection import Closed, CloseCause, PeerConnection, StartTls
from ..protocol.framing import WriteBatch

log = logging.getLogger("diameter.node.transport")

#: messages held back at most before a write: batches save syscalls and
#: wake-ups, small ones let the peer work in parallel with us
WRITE_BATCH = 16
#: bytes held back at most before a write: a batch of large messages must not jump
#: past the write-buffer limits in one write (the peer would be cut off instead of
#: being paused, with requests refused while it is congested)
WRITE_BATCH_BYTES = 32 * 1024
#: asyncio's own loop clock: ``time.monotonic()`` behind a Python frame. Hot paths read a
#: loop whose ``time`` is this one with ``time.monotonic`` directly (same value, no frame):
#: ``now = _monotonic() if type(loop).time is BASE_LOOP_TIME else loop.time()``
BASE_LOOP_TIME = asyncio.BaseEventLoop.time


class TransportOwner(Protocol):
    """What a :class:`DiameterProtocol` needs from its node."""

    loop: asyncio.AbstractEventLoop
    #: write-buffer size that pauses writing, and the one that closes the connection
    write_buffer_high: int
    write_buffer_hard_limit: int
    #: received requests in progress per connection before reading pauses
    max_inflight_per_peer: int
    #: batch the writes made in one loop iteration (the first goes out at once)
    batch_writes: bool
    #: connections whose writes wait for the node's release (None: writes are not held)
    held_writes: list[DiameterProtocol] | None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task the owner keeps."""
        ...

    def transport_opened(self, proto: DiameterProtocol) -> None:
        """The connection's transport is up: start the peer state machine."""
        ...

    def transport_closed(self, proto: DiameterProtocol) -> None:
        """The connection's transport is gone."""
        ...

    def tls_accept_failed(self, address: Any, exc: BaseException) -> None:
        """The TLS handshake of a connection accepted from `address` failed."""
        ...

    def handle_events(self, proto: DiameterProtocol, events: list[Any]) -> None:
        """Act on events of the connection's sans-IO core."""
        ...


class DiameterProtocol(asyncio.Protocol):
    """Feeds socket bytes to a sans-IO :class:`PeerConnection` and writes its output.

    Memory is bounded both ways: writes above ``hard_limit`` buffered bytes
    close the connection (the peer stopped reading), and reading pauses while
    more than ``max_inflight`` received requests are being handled.
    """

    def __init__(self, node: TransportOwner, conn: PeerConnection, *, tls_server: ssl.SSLContext | None = None,
                 tls_client: ssl.SSLContext | None = None, server_hostname: str | None = None) -> None:
        self.node = node
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.peer = None  # set by the node once the peer is known
        self.tls_server = tls_server
        self.tls_client = tls_client
        self.server_hostname = server_hostname
        self.congested = False
        self.closed = asyncio.get_running_loop().create_future()
        self.inflight = 0
        self.reading_paused = False
        self.replaced = False  # lost an election / superseded: no reconnect
        self.remote_address = None
        #: loop time the capabilities exchange completed (None: not open yet)
        self.opened_at: float | None = None
        self._tls_pending = False
        #: server context of a TLS listener: the handshake runs before Diameter starts
        self.tls_accept: ssl.SSLContext | None = None
        self._early: list[bytes] = []
        #: messages held back for one write (WRITE_BATCH messages or WRITE_BATCH_BYTES at most)
        self._batch = WriteBatch(WRITE_BATCH, WRITE_BATCH_BYTES)
        self._corked = False
        #: a write went out in this loop iteration: later ones wait for its end
        self._batching = False

    # ---- asyncio callbacks ---------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is not None or self._tls_pending:  # start_tls hands us the new transport itself
            return
        if self.tls_accept is not None:  # a TLS listener: handshake first, then Diameter
            transport.pause_reading()  # type: ignore[attr-defined]
            self._tls_pending = True
            self.node.spawn(self._accept_tls(transport))  # type: ignore[arg-type]
            return
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=self.node.write_buffer_high)  # type: ignore[attr-defined]
        self.remote_address = transport.get_extra_info("peername")
        self.node.transport_opened(self)

    def data_received(self, data: bytes) -> None:
        if self._tls_pending:  # decrypted bytes that arrive before the handshake's end is seen
            self._early.append(data)
            return
        if self.peer is not None:
            self.peer.stats.bytes_in += len(data)
        loop = self.node.loop
        events = self.conn.receive_data(data, _monotonic() if type(loop).time is BASE_LOOP_TIME else loop.time())
        if events:
            self._corked = True
            try:
                self.node.handle_events(self, events)
            finally:
                self._corked = False
            self._flush_wbuf()
        if self.conn.has_outgoing:   # what the connection answered itself (DWA, CEA...)
            self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tls_pending:
            return
        events = self.conn.connection_lost(self.node.loop.time(), str(exc) if exc else "transport closed")
        self.node.handle_events(self, events)
        if not self.closed.done():
            self.closed.set_result(None)
        self.node.transport_closed(self)

    def pause_writing(self) -> None:
        self.congested = True

    def resume_writing(self) -> None:
        self.congested = False

    # ---- output -----------------------------------------------------------------
    def flush(self) -> None:
        out = self.conn.take_outgoing()
        if out:
            self._flush_wbuf()
            self.write_frames(out)

    def write_frames(self, frames: list[bytes]) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if self.peer is not None:
            self.peer.stats.bytes_out += len(data)
        t.write(data)
        if self.congested and t.get_write_buffer_size() > self.node.write_buffer_hard_limit:
            log.warning("peer %s stopped reading (%d bytes queued): closing",
                        self.peer.identity if self.peer else self.remote_address, t.get_write_buffer_size())
            t.abort()

    def write(self, data: bytes) -> None:
        """Send one message.

        Messages made while handling one read go out in one syscall. Otherwise
        the first message of a loop iteration is written at once (the peer can
        start on it) and later ones are batched until the iteration ends.
        """
        if self._corked or self._batching:
            # held for the batch; a full one (WRITE_BATCH messages or WRITE_BATCH_BYTES) is
            # written at once, so that the peer is kept busy
            if self._batch.add(data):
                self._flush_wbuf()
            return
        node = self.node
        held = node.held_writes
        if held is not None:  # the node holds writes until release_writes()
            self._batching = True
            self._batch.add(data)
            held.append(self)
            return
        if node.batch_writes:
            self._batching = True
            node.loop.call_soon(self.end_batch)
        self.write_frames([data])

    def end_batch(self) -> None:
        """Write the batched messages now, in one write (the end of a batch)."""
        self._batching = False
        self._flush_wbuf()

    def write_soon(self, data: bytes) -> None:
        """Send one message at the end of this loop iteration, batched with others."""
        if not self._corked and not self._batching:
            self._batching = True
            self.node.loop.call_soon(self.end_batch)
        self.write(data)   # batched now

    def _flush_wbuf(self) -> None:
        frames = self._batch.take()
        if frames:
            self.write_frames(frames)

    def close(self) -> None:
        self._flush_wbuf()
        self.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ---- flow control for received requests ----------------------------------
    def request_started(self) -> None:
        self.inflight += 1
        if self.inflight >= self.node.max_inflight_per_peer and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()

    def request_done(self) -> None:
        self.inflight -= 1
        if self.reading_paused and self.inflight <= self.node.max_inflight_per_peer // 2:
            self.reading_paused = False
            if self.transport and not self.transport.is_closing():
                self.transport.resume_reading()

    # ---- TLS ---------------------------------------------------------------------
    async def _accept_tls(self, raw: asyncio.Transport) -> None:
        """TLS at connect on a listener: a failed handshake is logged and counted."""
        loop = self.node.loop
        address = raw.get_extra_info("peername")
        try:
            new = await loop.start_tls(raw, self, self.tls_accept, server_side=True,  # type: ignore[arg-type]
                                       ssl_handshake_timeout=self.conn.ce_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as exc:
            self._tls_pending = False
            self.node.tls_accept_failed(address, exc)
            raw.abort()
            return
        self._tls_pending = False
        self.tls_accept = None
        if new is None:  # the peer went away as the handshake ended
            raw.abort()
            return
        self.connection_made(new)
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    async def start_tls(self, ev: StartTls) -> None:
        ctx = self.tls_server if ev.server_side else self.tls_client
        loop = self.node.loop
        if ctx is None:
            log.error("in-band TLS negotiated but no TLS context configured")
            self.node.handle_events(self, self.conn.connection_lost(loop.time(), "no TLS context", failure=False,
                                                                   cause=CloseCause.TLS))
            self.abort()
            return
        self.flush()
        old = self.transport
        self._tls_pending = True
        try:
            new = await loop.start_tls(old, self, ctx, server_side=ev.server_side,
                                       server_hostname=None if ev.server_side else self.server_hostname,
                                       ssl_handshake_timeout=self.conn.ce_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as exc:
            self._tls_pending = False
            log.warning("in-band TLS handshake failed: %s", exc)
            events = self.conn.connection_lost(loop.time(), f"TLS handshake failed: {exc}",
                                               cause=CloseCause.TLS)
            self.node.handle_events(self, events)
            old.abort()
            if not self.closed.done():
                self.closed.set_result(None)
            self.node.transport_closed(self)
            return
        self._tls_pending = False
        self.transport = new
        new.set_write_buffer_limits(high=self.node.write_buffer_high)
        events = self.conn.tls_established(loop.time())
        self.node.handle_events(self, events)
        self.flush()
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)


def is_closed_event(events: list) -> bool:
    return any(isinstance(e, Closed) for e in events)
