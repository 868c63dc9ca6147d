"""Requests this node sends and the answers that come back: peer choice, failover, redirects.

Which peer takes a request is decided by :func:`~diameter.node.protocol.selection.select_peer`;
this part writes it, keeps it pending and resolves its future."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Collection
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ...codec.frame import U32
from ...codec.objects import LazyHeader, decode_message as _decode_message
from ...codec.frame import find_u32 as _find_u32
from ..protocol import avps as A
from ..protocol.answers import parse_redirect
from ..protocol.connection import PeerState
from ..protocol.counters import request_sent as _request_sent
from ..protocol.constants import (APP_COMMON, AVP_DESTINATION_HOST, AVP_DESTINATION_REALM, AVP_RESULT_CODE,
                                  DIAMETER_REDIRECT_INDICATION,
                                  DIAMETER_UNABLE_TO_DELIVER, FLAG_ERROR, FLAG_RETRANSMIT)
from ..protocol.framing import parse_header
from ..protocol.outbound import SET_APPLICATION as _SET_APPLICATION, SET_END_TO_END as _SET_END_TO_END
from ..protocol.outbound import OutboundRequest, filled as _filled, open_request as _open_request, send as _send
from ..protocol.outbound import open_message as _open_message
from ..protocol.selection import select_peer
from .base import (NodeParts, _DEST_CODES, _NO_PEERS, NodeError, NotRoutable, _as_str, _Pending, dump_log, log)
from .fill import SupportsAnswer, fill_request
from .peer import PeerInfo
from .transport import BASE_LOOP_TIME, DiameterProtocol


if TYPE_CHECKING:
    from ...message import Message

_A = TypeVar("_A")
_OPEN = PeerState.OPEN
_NO_HEADER: Any = object()
#: per message class: (has a destination_realm attribute, has a destination_host attribute,
#: both are the message layer's own attributes, read from the instance dict; has a class
#: attribute avp_def (typed); has no class attribute header, so that an instance's is in
#: its dict; all of these: request_future's fast path (outbound.open_message) takes it)
_DEST_ATTRS: dict[type, tuple[bool, bool, bool, bool, bool, bool]] = {}
_LAYER_ATTRS = frozenset({"IdentityAttr", "Attr"})
_NONE: Any = object()


def _dest_attrs(cls: type) -> tuple[bool, bool, bool, bool, bool, bool]:
    """What :data:`_DEST_ATTRS` holds for ``cls``."""
    realm, host = hasattr(cls, "destination_realm"), hasattr(cls, "destination_host")
    own = True
    for name, has in (("destination_realm", realm), ("destination_host", host)):
        if has:
            attr = inspect.getattr_static(cls, name)
            t = type(attr)
            own = own and t.__name__ in _LAYER_ATTRS and t.__module__.startswith("diameter.")
    # (the message layer's LazyHeader stands for a decoded message's header alone: one built
    # from attributes has its header in its dict)
    found = inspect.getattr_static(cls, "header", _NONE)
    typed, header_in_dict = hasattr(cls, "avp_def"), found is _NONE or type(found) is LazyHeader
    own = own and realm
    return (realm, host, own, typed, header_in_dict, own and typed and header_in_dict)

class RequestsPart(NodeParts):
    """Requests this node sends and the answers that come back: peer choice, failover, redirects (a part of
    :class:`~diameter.node.aio.DiameterNode`)."""

    def _usable(self, identity: str, app_id: int) -> bool:
        p = self.peers.get(identity)
        return p is not None and p.is_open and p.supports(app_id) and not p.protocol.congested

    def _pending_count(self, identity: str) -> int:
        return self.pending.count(identity)

    def _select_peer(self, app_id: int, dest_realm: str | None, dest_host: str | None,
                     exclude: Collection[str], session: str | None = None) -> PeerInfo | None:
        routes = self.routes
        if (dest_host is None and len(self._open) == 1 and not self.redirects._entries and not self.client_routes
                and routes.default is None and not routes._routes):
            # the usual client: one open peer, no routes, no redirects. select_peer would
            # pick that peer whatever its realm (no route: any usable open peer), or none
            p = self._open[0]
            proto, neg = p.protocol, p.negotiated
            if (p.key not in exclude and proto is not None and proto.conn.state is _OPEN and not p.suspect
                    and neg is not None and neg.supports(app_id) and not proto.congested):
                return p
            return None
        key = select_peer(app_id=app_id, dest_realm=dest_realm, dest_host=dest_host, local_realm=self.realm,
                          exclude=exclude, usable=self._usable, open_peers=self._open, redirects=self.redirects,
                          client_routes=self.client_routes, routes=self.routes, balancer=self.balancer,
                          pending=self._pending_count, weight=self._weight,
                          now=self.loop.time() if self.redirects._entries else 0.0, session=session)
        return None if key is None else self.peers[key]

    def _weight(self, key: str) -> int:
        return self.peers[key].weight

    def _send_to(self, peer: PeerInfo, entry: _Pending | OutboundRequest) -> int:
        """Write ``entry`` to ``peer`` with a new hop-by-hop identifier (returned), pending."""
        proto = peer.protocol
        key = peer.key
        if type(entry) is OutboundRequest:
            hbh = _send(entry, key, proto.conn.hop_by_hop, self.pending, peer.stats)
        else:   # a relayed request (serving.py's record): outbound.send's steps
            hbh = proto.conn.hop_by_hop.next()
            U32.pack_into(entry.data, 12, hbh)
            entry.tried.add(key)
            self.pending.add(key, hbh, entry.deadline, entry)
            _request_sent(peer.stats, entry.command)
        data = entry.data
        if self.dump_messages:
            dump_log.debug("-> %s %r", peer.identity, bytes(data))
        if self.coalesce_requests:
            proto.write_soon(data)
        else:
            proto.write(data)
        return hbh

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

    def request_future(self, message: Any, timeout: float | None = None, peer: str | None = None,
                       raw: bool = False, future: asyncio.Future[Any] | None = None) -> asyncio.Future[Any]:
        """Send a request now; the returned future resolves to the answer.

        The future raises :class:`NotRoutable`, :class:`RequestTimeout` or
        :class:`PeerFailed`; it is never left pending. ``future``: resolve this one
        instead of a new one (any object with ``done``, ``set_result`` and
        ``set_exception``: the threaded ``Node`` passes a blocked thread's waiter).
        """
        loop = self.loop
        if future is None:
            future = loop.create_future()
        if timeout is None:
            timeout = self.request_timeout
        attrs = _DEST_ATTRS.get(type(message))
        entry: OutboundRequest | None = None
        if attrs is not None and attrs[5] and not raw and self._own_prepare:
            # the usual request, a typed message built from attributes and complete: encoded,
            # its header completed, its record and destination in one compiled call (None: the
            # general path below). asyncio's clock, without its frame when it is the base loop's
            entry = _open_message(message, message.__dict__, self.end_to_end,
                                  _monotonic if type(loop).time is BASE_LOOP_TIME else loop.time, timeout, future,
                                  attrs[1], peer)
        if entry is None:
            entry = self._open_general(message, timeout, peer, raw, future)
        app_id = entry.app_id
        data = entry.data
        routes = self.routes
        if entry.dest_host is None and len(self._open) == 1 and not self.redirects._entries and not self.client_routes \
                and routes.default is None and not routes._routes:
            # _select_peer's usual-client case, inline (nothing to exclude): the one open peer, if
            # usable for the application (Negotiated.supports, inline), else none
            target = self._open[0]
            proto, neg = target.protocol, target.negotiated
            if (proto is None or proto.conn.state is not _OPEN or target.suspect or neg is None
                    or not (neg.peer_is_relay or app_id in neg.auth_application_ids
                            or app_id in neg.acct_application_ids or app_id == APP_COMMON)
                    or proto.congested):
                from .readiness import not_open_hint
                raise NotRoutable(f"no open peer for application {app_id} realm {entry.dest_realm} host None"
                                  + not_open_hint(self, app_id))
        else:
            target = self._select_peer(app_id, entry.dest_realm, entry.dest_host, _NO_PEERS)
            if target is None:
                from .readiness import not_open_hint
                raise NotRoutable(f"no open peer for application {app_id} realm {entry.dest_realm} "
                                  f"host {entry.dest_host}" + not_open_hint(self, app_id))
            proto = target.protocol
        # _send_to, inline (send gives the typed request's header its hop-by-hop identifier, counts it)
        _send(entry, target.key, proto.conn.hop_by_hop, self.pending, target.stats)
        if self.dump_messages:
            dump_log.debug("-> %s %r", target.identity, bytes(data))
        if self.coalesce_requests:
            proto.write_soon(data)
        else:
            proto.write(data)
        return future

    def _open_general(self, message: Any, timeout: float, peer: str | None, raw: bool, future: Any) -> OutboundRequest:
        """request_future's record of ``message`` in the general case: bytes, messages to
        complete, decoded from bytes or of other classes (encoded, the header completed, the
        destination recorded)."""
        header: Any = _NO_HEADER
        dest_attrs: tuple[bool, ...] | None = None
        d: Any = None
        if isinstance(message, (bytes, bytearray, memoryview)):
            raw_data = message if type(message) is bytes else bytes(message)
        else:
            cls = type(message)
            attrs = _DEST_ATTRS.get(cls)
            if attrs is None:
                attrs = _DEST_ATTRS[cls] = _dest_attrs(cls)
            if not raw and (attrs[3] or hasattr(message, "avp_def")):   # typed: complete what the node knows
                d = message.__dict__
                if not _filled(d):   # (fill_request's own first test, compiled)
                    fill_request(self, message, peer)
            if self._own_prepare:
                raw_data = message.as_bytes()
            else:
                raw_data = self.prepare(message)
            if type(raw_data) is not bytes:
                raw_data = bytes(raw_data)
            if not raw:
                # a typed message's header is in its dict (no class attribute to look past)
                if d is not None and attrs[4]:
                    header = d.get("header", _NO_HEADER)
                if header is _NO_HEADER:
                    header = getattr(message, "header", _NO_HEADER)
                dest_attrs = attrs
        loop = self.loop
        now = _monotonic() if type(loop).time is BASE_LOOP_TIME else loop.time()   # asyncio's clock, without its frame
        return self._open_other(message, raw_data, now, timeout, future, raw, header, dest_attrs, d, peer)

    def _open_other(self, message: Any, raw_data: bytes, now: float, timeout: float, future: Any, raw: bool,
                    header: Any, dest_attrs: tuple[bool, ...] | None, d: Any, peer: str | None) -> OutboundRequest:
        """:meth:`_open_general`'s second half: the record of the encoded ``raw_data`` (the header
        completed, the destination recorded)."""
        # the header checked and completed (end-to-end id, application id), the pending record
        entry = _open_request(raw_data, self.end_to_end, now, timeout, future, raw)
        app_id = entry.app_id
        if header is not _NO_HEADER:
            fixed = entry.fixed
            if fixed:
                if fixed & _SET_END_TO_END:
                    header.end_to_end_identifier = entry.end_to_end
                if fixed & _SET_APPLICATION:
                    header.application_id = app_id
        dest_host: Any
        dest_realm: Any
        if dest_attrs is None or not dest_attrs[0]:
            if dest_attrs is None or not hasattr(message, "destination_realm"):   # bytes: scan them
                found = A.find_many(raw_data, _DEST_CODES)
                dest_host = _as_str(found.get(AVP_DESTINATION_HOST)) if peer is None else peer
                dest_realm = _as_str(found.get(AVP_DESTINATION_REALM))
            else:  # attributes set on an instance of a class without them
                dest_host = peer if peer is not None else _as_str(getattr(message, "destination_host", None))
                dest_realm = _as_str(message.destination_realm)
        else:   # typed message: the attributes are already there, no scan needed
            if d is None:
                d = message.__dict__
            if dest_attrs[2] and "_raw" not in d:
                # the message layer's own attributes on a message built from attributes:
                # an unset one reads None, a set one is in the instance dict
                dest_realm = d.get("destination_realm")
                dest_host = peer if peer is not None else d.get("destination_host") if dest_attrs[1] else None
            else:
                dest_realm = message.destination_realm
                dest_host = peer if peer is not None else message.destination_host if dest_attrs[1] else None
            if dest_host is not None and type(dest_host) is not str:
                dest_host = dest_host.decode("utf-8", "replace") if type(dest_host) is bytes else _as_str(dest_host)
            if dest_realm is not None and type(dest_realm) is not str:
                dest_realm = (dest_realm.decode("utf-8", "replace") if type(dest_realm) is bytes
                              else _as_str(dest_realm))
        entry.dest_realm = dest_realm
        entry.dest_host = dest_host
        if header is not _NO_HEADER:
            entry.header = header   # its hop-by-hop identifier: send's
        return entry

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
        if self._own_request_future:   # positional arguments: a cheaper call
            fut = self.request_future(message, timeout, peer)
        else:
            fut = self.request_future(message, timeout=timeout, peer=peer)
        # sent: this frame lets the message go while the answer is awaited, so that a request
        # nobody else holds (and its objects) is freed now rather than walked by the garbage
        # collector's young collections for as long as it is in flight
        del message
        return await fut

    async def request_bytes(self, data: bytes, *, timeout: float | None = None, peer: str | None = None) -> bytes:
        """Like :meth:`request` for pre-encoded bytes; returns the answer's bytes."""
        return await self.request_future(data, timeout=timeout, peer=peer, raw=True)

    def _on_answer(self, proto: DiameterProtocol, hdr, data: bytes, entry: Any) -> None:
        """An answer from ``proto``'s peer that ``outbound.answer_arrived`` (called by
        ``handle_events``) took the record ``entry`` of (None: none) and did not deliver."""
        peer = proto.peer
        if entry is None:
            log.debug("answer hbh %#x from %s matches no request (late or duplicate)", hdr.hop_by_hop_identifier, peer.identity)
            return
        if self.dump_messages:
            dump_log.debug("<- %s %r", peer.identity, data)
        if (hdr.flags & FLAG_ERROR and entry.origin is None and self.follow_redirects and entry.redirects < 3
                and _find_u32(data, AVP_RESULT_CODE, 20, len(data)) == DIAMETER_REDIRECT_INDICATION
                and self._follow_redirect(entry, data)):
            return
        if entry.future is not None:
            self._deliver(entry, data)
        elif entry.origin is not None:
            origin, hbh = entry.origin
            out = bytearray(data)
            U32.pack_into(out, 12, hbh)
            if origin.peer is not None:
                origin.peer.stats.cmd(hdr.command_code).answers_sent += 1
            origin.write(out)

    def _follow_redirect(self, entry: _Pending, data: bytes) -> bool:
        r = parse_redirect(data)
        if r is None:
            return False
        hosts = r.hosts
        self.redirects.store(hosts, r.usage, r.max_cache_time, self.loop.time(), realm=entry.dest_realm or self.realm,
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
                self.spawn(self._redirect_via_new_connection(peer, entry, data))
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
        decode = self._decode
        try:
            if decode is None and type(data) is bytes:
                # the default decoder, Message.from_bytes, without its Python frame
                msg = _decode_message(data, False)
            else:
                msg = (decode or self.decode)(data)
            fut.set_result(msg)
        except Exception as exc:  # noqa: BLE001 - decoding errors go to the caller
            fut.set_exception(NodeError(f"cannot decode answer: {exc}"))

