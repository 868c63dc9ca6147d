"""Requests this node receives: dispatch, validation, handlers, duplicates, answers, relaying.

What to do with a request is decided by :func:`~diameter.node.protocol.dispatch.dispatch_request`;
this part runs the handler and writes the answer."""
from __future__ import annotations

import asyncio
import inspect
from types import GeneratorType as _GeneratorType
from time import perf_counter as _perf_counter
from typing import Any

from ...codec.frame import U32, U32X2
from ...codec.objects import decode_message as _decode_message
from ..protocol import avps as A
from ..protocol.answers import RelayError, answer_header, redirect_avps, relayed
from ..protocol.answers import error_answer as node_error_answer
from ..protocol.counters import local_answer as _counted_answer
from ..protocol.counters import request_received as _request_received
from ..protocol.counters import result_counted as _result_counted
from ..protocol.constants import (AVP_DESTINATION_HOST, AVP_DESTINATION_REALM,
                                  AVP_RESULT_CODE, AVP_SESSION_ID, DIAMETER_COMMAND_UNSUPPORTED,
                                  DIAMETER_INVALID_AVP_BITS, DIAMETER_REDIRECT_INDICATION,
                                  DIAMETER_UNABLE_TO_COMPLY, FLAG_ERROR, FLAG_REQUEST)
from ..protocol.dispatch import Step, dispatch_request, local_refusal
from ..protocol.framing import Header
from ..protocol.inbound import admit as _admit
from ...validation import error_answer, validate
from ...validation.check import request_findings as _findings
from ...validation.dialects import GENERATION as DIALECT_GENERATION
from ...validation.dialects import dialect as get_dialect
from .base import (NodeParts, _App, _DEST_CODES, _RETURNED, _as_str, _Pending, _read_str, _resume, dump_log, log,
                   new_runner)
from .fill import check_result
from .reply import serve as _serve_with_reply
from .stats import result_class
from .transport import DiameterProtocol

_isawaitable = inspect.isawaitable
#: the loop's own future types (asyncio's, uvloop's loop.create_future() too): a handler's
#: result of these is answered when done, without isawaitable/ensure_future (the OCS's server)
_FUTURES = (asyncio.Future, asyncio.Task)
#: types of handler results seen not to be awaitable (answers, bytes): no isawaitable call for them
_NOT_AWAITABLE: set[type] = {bytes, bytearray, type(None)}


def _send_copy(proto: DiameterProtocol, out: bytearray) -> None:
    """The answer for a copy of a request that arrived while the first was handled."""
    proto.write(out)


class ServingPart(NodeParts):
    """Requests this node receives: dispatch, validation, handlers, duplicates, answers, relaying (a part of
    :class:`~diameter.node.aio.DiameterNode`)."""

    def _on_request(self, proto: DiameterProtocol, hdr, data: bytes) -> None:
        peer = proto.peer
        # counted; the start of its processing time (the loop's clock may tick in ms)
        t_in = _request_received(peer.stats, hdr.command_code)
        now = hdr.received_at   # the loop's time its bytes arrived (the connection's event)
        if self.dump_messages:
            dump_log.debug("<- %s %r", peer.identity, data)
        app = self.apps.get(hdr.application_id)
        routes = self.routes
        if ((app is None or hdr.flags & FLAG_ERROR or self.is_relay or routes.default or routes._routes)
                and not self._dispatch(proto, hdr, data, app)):
            return
        # local processing, with duplicate detection
        origin_host = _admit(self.dedup, data, now, proto)
        if type(origin_host) is not bytes:
            # a copy (RFC 6733 T flag): the cached answer, or the answer of the first
            # copy when it is ready (the dedup cache keeps this copy as a waiter)
            if origin_host is not None:
                proto.write(origin_host)
            return
        if app.commands is not None or app.handler is None:
            refused = local_refusal(hdr.command_code, app.commands, app.handler is not None)
            if refused is not None:
                self._send_error(proto, hdr, data, refused.result_code, refused.message, origin_host=origin_host)
                return
        if app.validate:
            cached = self._rules   # (dialect name, registry generation, rules): one look-up per change
            if (cached is None or cached[0] != (peer.dialect or self.dialect)
                    or cached[1] != DIALECT_GENERATION[0]):
                cached = self._rules_for(peer)
            findings = _findings(data, cached[2])
            if findings and self._invalid(proto, hdr, data, origin_host, t_in, findings):
                return
        try:
            dec = self._decode
            # the default decoder (Message.from_bytes) without its Python frame (the events' frames are bytes)
            msg = _decode_message(data, False) if dec is None else dec(data)
        except Exception as exc:  # noqa: BLE001 - undecodable request gets an error answer
            code = getattr(exc, "result_code", None) or DIAMETER_INVALID_AVP_BITS
            avp_code = getattr(exc, "avp_code", None)
            log.info("request %d from %s cannot be decoded: %s", hdr.command_code, peer.identity, exc)
            self._send_error(proto, hdr, data, code if code >= 3000 else DIAMETER_UNABLE_TO_COMPLY,
                             "cannot decode request" + (f": AVP code {avp_code}" if avp_code is not None else ""),
                             origin_host=origin_host)
            return
        if app.reply:
            _serve_with_reply(self, proto, hdr, data, origin_host, app.handler, msg, t_in, now)
            return
        if app.is_coro:
            # run the coroutine's first step at once: a handler that does not suspend is
            # answered without creating a Task (through the node's runner: no StopIteration)
            coro = app.handler(msg)
            pair = self._runner
            if pair is None:
                pair = new_runner()
            else:
                self._runner = None   # in use: a request handled within the handler gets a runner of its own
            runner, box = pair
            try:
                first = runner.send(coro)
            except Exception:  # noqa: BLE001 - the handler's error becomes 5012 (and ends that runner)
                self._handler_failed(proto, hdr, data, origin_host)
                return
            if first is not _RETURNED:   # suspended: the runner is the handler's task's
                box[1] = True
                self._answer_when_done(proto, hdr, data, origin_host, self.loop.create_task(_resume(runner, first)),
                                       t_in, now)
                return
            ans = box[0]
            box[0] = None
            self._runner = pair
        else:
            try:
                ans = app.handler(msg)
            except Exception:  # noqa: BLE001
                self._handler_failed(proto, hdr, data, origin_host)
                return
            t = type(ans)
            if t not in _NOT_AWAITABLE:
                if t in _FUTURES:   # ensure_future's result for it: the future itself
                    self._answer_when_done(proto, hdr, data, origin_host, ans, t_in, now)
                    return
                if _isawaitable(ans):
                    self._answer_when_done(proto, hdr, data, origin_host, asyncio.ensure_future(ans), t_in, now)
                    return
                if t is not _GeneratorType:
                    _NOT_AWAITABLE.add(t)   # awaitability is a property of the type (but for generators)
        if ans is None:  # the application answers later with send_answer (or never: logged)
            self._awaiting_answer(proto, hdr, data, self.loop.time())
            return
        self._local_answer(proto, hdr, data, origin_host, ans, t_in, now)

    def _answer_when_done(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes,
                          task: asyncio.Future, t_in: float, now: float) -> None:
        """A handler that suspended: answer when its task ends (a method of its own, so that
        ``_on_request`` keeps no closure cells for the common case)."""
        proto.request_started()
        self._awaiting_answer(proto, hdr, data, now)
        task.add_done_callback(lambda t: self._handler_done(proto, hdr, data, origin_host, t, t_in))

    def _local_answer(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, ans: Any,
                      t_in: float, now: float) -> None:
        """The handler's answer to a local request: :meth:`send_answer` for the common case
        (an answer that encodes, carries its request's identifiers and a Result-Code), inline.
        ``now``: the loop time the request arrived (the handler answered in the same turn)."""
        # encoded, given the request's identifiers, cached for copies (waiting ones get it now),
        # counted (compiled)
        peer = proto.peer
        out = _counted_answer(self.dedup, origin_host, data, ans, now, _send_copy, peer.stats, hdr.command_code,
                              t_in, check_result, peer)
        if out is None:   # not a message (it does not encode, or is too short): send_answer's error, 5012
            self.send_answer(proto, ans, hdr, origin_host, t_in, request=data)
            return
        if self._unanswered._items:
            self._unanswered.answered((id(proto), hdr.hop_by_hop_identifier, hdr.end_to_end_identifier))
        if self.dump_messages:
            dump_log.debug("-> %r", out)
        if proto._corked:   # DiameterProtocol.write while a read is handled, inline
            if proto._batch.add(out):
                proto._flush_wbuf()
        else:
            proto.write(out)

    def _dispatch(self, proto: DiameterProtocol, hdr, data: bytes, app: _App | None) -> bool:
        """Route a request that is not simply for a local application; True: process it locally."""
        peer = proto.peer
        app_id = hdr.application_id
        local_only = app is not None and not self.is_relay and not self.routes.default and not self.routes._routes
        found = A.find_many(data, _DEST_CODES)
        d = dispatch_request(flags=hdr.flags, app_id=app_id, local_app=app is not None, local_only=local_only,
                             peer_supports=peer.supports(app_id),
                             dest_host=_as_str(found.get(AVP_DESTINATION_HOST)),
                             dest_realm=_as_str(found.get(AVP_DESTINATION_REALM)),
                             local_host=self.origin_host, local_realm=self.realm, local_apps=self.apps,
                             table=self.routes, usable=self._usable, balancer=self.balancer,
                             pending=self._pending_count, came_from=peer.key)
        if d.step is Step.LOCAL:
            return True
        if d.step is Step.RELAY:
            self._relay(proto, hdr, data, d.decision.peer)
        elif d.step is Step.REDIRECT:
            self._send_redirect(proto, hdr, data, d.decision)
        else:
            self._send_error(proto, hdr, data, d.result_code, d.message)
        return False

    def _handler_failed(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes,
                        exc: BaseException | None = None) -> None:
        log.error("request handler for command %d (Session-Id %s) failed: answering 5012", hdr.command_code,
                  _read_str(data, AVP_SESSION_ID), exc_info=exc or True)
        self._send_error(proto, hdr, data, DIAMETER_UNABLE_TO_COMPLY, "request handler failed",
                         origin_host=origin_host)

    def _handler_returned(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, ans: Any,
                          t_in: float) -> None:
        if ans is None:  # the application answers later with send_answer (or never: logged)
            self._awaiting_answer(proto, hdr, data, self.loop.time())
        elif type(ans) is bytes and t_in is not None:  # encoded already: the common answer path
            self._local_answer(proto, hdr, data, origin_host, ans, t_in, self.loop.time())
        else:
            self.send_answer(proto, ans, hdr, origin_host, t_in, request=data)

    def _awaiting_answer(self, proto: DiameterProtocol, hdr, data: bytes, now: float) -> None:
        """Remember a request whose handler has not answered yet, to log it if it never does."""
        un = self._unanswered
        un.timeout = self.request_timeout
        un.waiting((id(proto), hdr.hop_by_hop_identifier, hdr.end_to_end_identifier), now, hdr.command_code, data)

    def _log_unanswered(self, now: float) -> None:
        for waiting in (self._unanswered, self._replies):
            for command, session_id in waiting.overdue(now):
                log.warning("request %d (Session-Id %s) got no answer from its handler within %.0f s",
                            command, session_id, waiting.timeout)

    def _rules_for(self, peer) -> tuple[str, int, Any]:
        """The validation rules of the peer's dialect, kept in ``_rules`` until the dialect changes."""
        name = peer.dialect or self.dialect
        self._rules = (name, DIALECT_GENERATION[0], get_dialect(name).rules)
        return self._rules

    def _invalid(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, t_in: float,
                 findings: list | None = None) -> bool:
        """Validate a request for a local application (or take the ``findings`` of its
        validation); answer and return True when it fails.

        The first finding is answered with the RFC 6733 error answer (E bit only
        for 3xxx); 3001 is left to the application's ``commands``.
        """
        peer = proto.peer
        cached = self._rules
        if cached is None or cached[0] != (peer.dialect or self.dialect) or cached[1] != DIALECT_GENERATION[0]:
            cached = self._rules_for(peer)
        rules = cached[2]
        if findings is None:
            findings = validate(data, rules)
        if not findings:
            return False
        findings = [f for f in findings if f.result_code != DIAMETER_COMMAND_UNSUPPORTED]
        if not findings:
            return False
        log.info("request %d from %s rejected: %s", hdr.command_code, peer.identity, findings[0])
        answer = error_answer(data, findings[0], origin_host=self.origin_host, origin_realm=self.realm,
                              origin_state_id=self.state_id, dictionary=rules)
        self.send_answer(proto, answer.as_bytes(), hdr, origin_host, t_in)
        return True

    def _handler_done(self, proto: DiameterProtocol, hdr, data: bytes, origin_host: bytes, task: asyncio.Future,
                      received: float | None = None) -> None:
        proto.request_done()
        self._unanswered.answered((id(proto), hdr.hop_by_hop_identifier, hdr.end_to_end_identifier))
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
                h = hdr if hdr is not None else answer_header(answer)
                if h is None:
                    raise
                if type(h) is tuple:   # answer_header's fields: read by name below
                    h = Header(*h)
                sid = getattr(answer, "session_id", None)
                log.error("answer to command %d (Session-Id %s) cannot be encoded: answering 5012", h.command_code,
                          _as_str(sid), exc_info=True)
                if request is None and sid is not None:
                    request = A.avp(AVP_SESSION_ID, sid if isinstance(sid, bytes) else str(sid).encode())
                    request = A.message(FLAG_REQUEST, h.command_code, h.application_id, h.hop_by_hop_identifier,
                                        h.end_to_end_identifier, [request])
                self._send_error(proto, h, request or b"", DIAMETER_UNABLE_TO_COMPLY, "answer could not be encoded",
                                 origin_host=origin_host)
                return
        if hdr is not None and U32X2.unpack_from(out, 12) != (hdr.hop_by_hop_identifier, hdr.end_to_end_identifier):
            out = bytearray(out)
            U32X2.pack_into(out, 12, hdr.hop_by_hop_identifier, hdr.end_to_end_identifier)
        if self._unanswered._items:
            self._unanswered.answered((id(proto), *U32X2.unpack_from(out, 12)))
        if origin_host is not None:
            self._record(origin_host, hdr.end_to_end_identifier, out)
        if proto.peer is not None:
            self._count_answer(proto, hdr.command_code if hdr else U32.unpack_from(out, 4)[0] & 0xFFFFFF, out,
                               received)
        if self.dump_messages:
            dump_log.debug("-> %r", bytes(out))
        proto.write(out)

    def _count_answer(self, proto: DiameterProtocol, command: int, out: bytes | bytearray,
                      received: float | None) -> None:
        """Count an answer sent to a local request in its peer's statistics."""
        peer = proto.peer
        stats = peer.stats
        cs = stats.commands[command]
        cs.answers_sent += 1
        if received is not None:
            cs.processing.append(_perf_counter() - received)
        rc = A.find_u32(out, AVP_RESULT_CODE)
        if rc is not None:
            _result_counted(stats, cs, rc)
        else:
            check_result(out, peer.identity)

    def _to_waiters(self, waiters: list, out: bytes | bytearray) -> None:
        """The answer for the copies of a request that arrived while it was handled."""
        for wproto, whbh in waiters:
            copy = bytearray(out)
            U32.pack_into(copy, 12, whbh)
            wproto.write(copy)

    def _record(self, origin_host: bytes, e2e: int, out: bytes | bytearray) -> None:
        """Cache a local answer for duplicates; copies waiting for it get it now."""
        waiters = self.dedup.record(origin_host, e2e, out if type(out) is bytes else bytes(out), self.loop.time())
        if waiters:
            self._to_waiters(waiters, out)

    def _send_error(self, proto: DiameterProtocol, hdr, data: bytes, result: int, message: str | None = None,
                    extra: list[bytes] | None = None, *, origin_host: bytes | None = None) -> None:
        out = node_error_answer(hdr, data, result, self.origin_host, self.realm, message, extra)
        if origin_host is not None:  # a local request: copies get the same answer
            self._unanswered.answered((id(proto), hdr.hop_by_hop_identifier, hdr.end_to_end_identifier))
            self._record(origin_host, hdr.end_to_end_identifier, out)
        if proto.peer is not None:
            proto.peer.stats.cmd(hdr.command_code).answers_sent += 1
            proto.peer.stats.add_sent_result(hdr.command_code, result)
            proto.peer.stats.sent_results_per_minute[result_class(result)].add()
        proto.write(out)

    def _send_redirect(self, proto: DiameterProtocol, hdr, data: bytes, d) -> None:
        route = d.route
        extra = redirect_avps(d.redirect_hosts, route.redirect_usage if route else None,
                              route.redirect_max_cache_time if route else None)
        self._send_error(proto, hdr, data, DIAMETER_REDIRECT_INDICATION, extra=extra)

    def _relay(self, proto: DiameterProtocol, hdr, data: bytes, target: str) -> None:
        out = relayed(data, proto.peer.identity, self.origin_host)
        if isinstance(out, RelayError):
            self._send_error(proto, hdr, data, out.result_code, out.message)
            return
        now = self.loop.time()
        entry = _Pending(out, hdr.application_id, now, now + self.request_timeout, origin=(proto, hdr.hop_by_hop_identifier),
                         dest_realm=_read_str(data, AVP_DESTINATION_REALM),
                         dest_host=_read_str(data, AVP_DESTINATION_HOST), command=hdr.command_code)
        entry.tried.add(proto.peer.key)
        self._send_to(self.peers[target], entry)
