"""asyncio credit-control server on a :class:`~diameter.node.aio.DiameterNode`.

``CreditControlServer(node, handler)`` serves application 4 (Gy/Ro, and Huawei DCC from
``dialect="huawei"`` peers): it parses each CCR into a :class:`~diameter.cc.types.CCRequest`,
awaits ``handler.on_initial / on_update / on_termination / on_event(req)`` for a
:class:`~diameter.cc.types.CCResult`, builds the CCA, runs the RFC 4006 server state machine
(:mod:`diameter.cc.server_core`) with Tcc supervision, answers STR, and pushes RAR
(:meth:`CreditControlServer.re_auth`) and ASR (:meth:`CreditControlServer.abort`) to clients.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Mapping, Protocol

from ..message.commands import (AbortSessionRequest, CreditControlAnswer, ReAuthRequest,
                                SessionTerminationAnswer)
from ..node.aio.node import DiameterNode
from ..node.aio.reply import Reply
from .server_core import (CLOSED_ABORT, CLOSED_STR, CLOSED_TCC, ServerCore, ServerSession)
from .types import (DIAMETER_SUCCESS, DIAMETER_TOO_BUSY, DIAMETER_UNABLE_TO_COMPLY,
                    DIAMETER_UNKNOWN_SESSION_ID, CCRequest, CCResult, RequestType, is_success)
from .encode import CcaEncoder
from .fastwire import cca as _cca
from .ccr_walk import ccr_request as _ccr_request
from .wire import APP_CC
from ..codec.objects import fresh_bytes as _fresh_bytes

log = logging.getLogger("diameter.cc.server")

CMD_CC = 272
CMD_RA = 258
CMD_ST = 275
CMD_AS = 274
DIAMETER_INVALID_AVP_VALUE = 5004
RE_AUTH_AUTHORIZE_ONLY = 0


class UnknownSession(KeyError):
    """No open credit-control session with this Session-Id."""


class CreditControlHandler(Protocol):
    """What :class:`CreditControlServer` calls; methods may be coroutines or plain functions.

    ``on_session_closed(session_id, reason)`` is optional; reason is ``"tcc_expired"``,
    ``"session_termination"`` (STR), ``"abort"`` (ASR not acknowledged) or ``"failed"``
    (an update that was not successfully processed moved the session Open -> Idle).
    """

    def on_initial(self, req: CCRequest) -> CCResult | Awaitable[CCResult]: ...
    def on_update(self, req: CCRequest) -> CCResult | Awaitable[CCResult]: ...
    def on_termination(self, req: CCRequest) -> CCResult | Awaitable[CCResult]: ...
    def on_event(self, req: CCRequest) -> CCResult | Awaitable[CCResult]: ...

    # Optional: ``answer_soon(req, done)`` for CCR-I/U/T, used instead of the on_* methods:
    # it returns the CCResult at once, or None and calls ``done(result, None)`` (or
    # ``done(None, exception)``) exactly once later, on the event loop. A handler whose
    # answers wait for something else than a coroutine (a storage's batch commit) saves
    # a task and a coroutine per request this way. ``answer_soon = None``: not offered.
    # ``done`` is a `SoonAnswer`; with ``soon_class`` (a `SoonAnswer` subclass with slots of
    # its own) the handler chooses its class: ``answer_soon`` may then use `done` as its
    # own per-request object (one object per request instead of two).
    #
    # Optional: ``read_request(msg, buf, peer, dialect)``, the CCR reader used instead of
    # :func:`diameter.cc.ccr_walk.ccr_request` (which it calls with its ``usage`` hook, so that
    # the request's ``services`` are what the handler reads of the MSCCs).


def _wire_bytes(msg: Any) -> bytes:
    """The request's bytes: as received when the message is fresh from the decoder (it keeps
    them, with nothing changed or added since), else encoded again."""
    d = getattr(msg, "__dict__", None)
    if d is not None:
        buf = _fresh_bytes(d)
        if buf is not None:
            return buf
    out: bytes = msg.as_bytes()
    return out


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    out = fn(*args)
    if inspect.isawaitable(out):
        out = await out
    return out


class SoonAnswer:
    """A request answered through the handler's ``answer_soon``: its callback (the object
    itself: ``done(result, exc)``, or ``done.answered(code, avps)``) encodes the answer and
    gives it to the node's :class:`~diameter.node.aio.Reply` (or resolves the future the
    caller waits on, without one).

    No slots of its own: a handler may offer ``soon_class``, a subclass with its own object
    layout holding :data:`SOON_SLOTS` and ``key`` (e.g. the handler's pending unit of
    work), which the server then builds for each request instead of :class:`_Soon`: one
    object per request for both."""

    __slots__ = ()
    server: CreditControlServer
    msg: Any
    buf: bytes
    creq: CCRequest
    key: tuple[str, int]
    fut: asyncio.Future[bytes] | None
    reply: Reply | None
    dropped: bool  # answered (or failed): a second callback is ignored
    out: bytes | None

    def __call__(self, res: CCResult | None, exc: BaseException | None) -> None:
        if self.dropped:
            log.warning("session %s: answer_soon called back twice (ignored)", self.creq.session_id)
            return
        self.dropped = True
        server = self.server
        try:
            if exc is not None:
                raise exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            if not isinstance(res, CCResult):
                raise TypeError(f"handler returned {type(res).__name__}, not CCResult")
            out = server._enc.encode(self.msg, self.buf, self.creq, res)
        except Exception as err:  # noqa: BLE001 - one failing request costs only its own answer
            self._settle(server._failed(self.msg, self.buf, self.creq, self.key, err), None, False)
            return
        server.in_progress -= 1  # (before the core is told, as `_completed` does)
        self._settle(out, server.core.complete(self.creq, res, out, server.node.loop.time()), True)

    def answered(self, code: int, avps: bytes) -> None:
        """The callback for a handler that encoded the answer's AVPs after
        CC-Request-Number itself (`avps`, for a result with this Result-Code and nothing
        else than grants, their Validity-Time and an Error-Message): the same CCA, no CCResult."""
        if self.dropped:
            log.warning("session %s: answer_soon called back twice (ignored)", self.creq.session_id)
            return
        self.dropped = True
        server = self.server
        req = self.creq
        try:  # server._enc.assemble(...), without its frame
            out = _cca(self.buf, req, code, server._enc.static, avps)
        except Exception as err:  # noqa: BLE001 - one failing request costs only its own answer
            self._settle(server._failed(self.msg, self.buf, req, self.key, err), None, False)
            return
        server.in_progress -= 1
        self._settle(out, server.core.complete_code(req, code, out, server.node.loop.time(), self.key), True)

    def _settle(self, out: bytes, reason: str | None, completed: bool) -> None:
        """The answer is `out`: after a completed request (the core told, `reason`: its
        session closes) the copies waiting for it and the session's closing; then the future."""
        if completed:  # server._completed's rest, inline
            server = self.server
            if server._waiters:
                server._finish_waiter(self.key, out, None)
            if reason is not None:
                server._closed_later(self.creq.session_id, reason)
        reply = self.reply
        if reply is not None:
            reply.answer(out)
            return
        self.out = out  # for `_on_request_soon` when called back before `answer_soon` returned
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(out)


#: the slots a :class:`SoonAnswer` subclass holds (and ``key``, which its handler's own
#: base class may hold already: the same ``(session id, request number)``)
SOON_SLOTS = ("server", "msg", "buf", "creq", "fut", "reply", "dropped", "out")


class _Soon(SoonAnswer):
    """The :class:`SoonAnswer` of a handler that offers no ``soon_class``."""

    __slots__ = (*SOON_SLOTS, "key")


_new_soon = object.__new__


def _soon_class(handler: Any) -> type[SoonAnswer]:
    """The handler's ``soon_class`` if it has one (a `SoonAnswer` subclass), else `_Soon`."""
    cls = getattr(handler, "soon_class", None)
    if cls is None:
        return _Soon
    if not (isinstance(cls, type) and issubclass(cls, SoonAnswer)):
        raise TypeError(f"the handler's soon_class {cls!r} is not a SoonAnswer subclass")
    missing = [name for name in (*SOON_SLOTS, "key") if not hasattr(cls, name)]
    if missing:
        raise TypeError(f"the handler's soon_class {cls.__name__} has no slot for {', '.join(missing)}")
    return cls
_EVENT = RequestType.EVENT


class CreditControlServer:
    """RFC 4006 server on a node: sessions (Idle/Open), Tcc, STR, RAR/ASR push, duplicate answers."""

    def __init__(self, node: DiameterNode, handler: Any, *, application_id: int = APP_CC, tcc: float = 600.0,
                 max_in_progress: int | None = None, answer_cache: int = 65536,
                 validate: bool | None = None) -> None:
        self.node = node
        self.handler = handler
        self.application_id = application_id
        self.core = ServerCore(tcc, answer_cache)
        self.max_in_progress = max_in_progress
        self.in_progress = 0
        self._waiters: dict[tuple[str, int], asyncio.Future[bytes]] = {}
        self._methods = {RequestType.INITIAL: getattr(handler, "on_initial", None),
                         RequestType.UPDATE: getattr(handler, "on_update", None),
                         RequestType.TERMINATION: getattr(handler, "on_termination", None),
                         RequestType.EVENT: getattr(handler, "on_event", None)}
        self._ticker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._origin_host = node.origin_host.encode()
        self._origin_realm = node.realm.encode()
        self._enc = CcaEncoder(self._origin_host, self._origin_realm, application_id)
        self._dialects: dict[str, str] = {}
        #: the handler's CCR reader ``(msg, buf, peer, dialect) -> CCRequest``, if it has one
        self._read: Callable[..., CCRequest] = getattr(handler, "read_request", None) or _ccr_request
        #: the handler's callback path for CCR-I/U/T, if it has one (see `CreditControlHandler`)
        self._soon: Callable[..., CCResult | None] | None = getattr(handler, "answer_soon", None)
        #: the class of the object given to ``answer_soon`` as ``done`` (see `SoonAnswer`)
        self._soon_class: type[SoonAnswer] = _soon_class(handler)
        node.add_application(application_id, self._on_request if self._soon is None else self._on_request_soon,
                             commands={CMD_CC, CMD_ST}, validate=validate, reply=self._soon is not None)

    @property
    def sessions(self) -> Mapping[str, ServerSession]:
        """Open sessions by Session-Id (read-only view)."""
        return self.core.sessions

    # ---- requests -----------------------------------------------------------------
    def _dialect(self, origin_host: str) -> str:
        d = self._dialects.get(origin_host)
        if d is None:
            p = self.node.peers.get(origin_host.lower())
            d = (p.dialect if p is not None and p.dialect else None) or self.node.dialect
            if p is not None:  # known peers only: the cache stays as small as the peer table
                self._dialects[origin_host] = d
        return d

    def _prelude(self, msg: Any, buf: bytes | None = None) -> Any:
        """What every CCR goes through before its handler: parsed, then answered from the
        duplicate cache, by the first copy's answer (a coroutine), with 3004 when too busy, or
        begun: ``(buf, req, key)`` is returned then (a tuple: nothing else returned is one).
        ``buf``: the request's bytes as received, when the caller has them."""
        if self._ticker is None:
            self._start_ticker()
        try:
            if buf is None:
                buf = _wire_bytes(msg)
            req = self._read(msg, buf, "", "3gpp")  # parse_ccr(msg, raw=buf), one call less
        except Exception as exc:  # noqa: BLE001 - bad CC-Request-Type or malformed AVPs: this request only
            log.info("CCR rejected: %s", exc)
            return self._error_cca(msg, DIAMETER_INVALID_AVP_VALUE, str(exc))
        d = self._dialects.get(req.origin_host)
        req.dialect = d if d is not None else self._dialect(req.origin_host)
        key = (req.session_id, req.request_number)
        core = self.core
        cached = core._answers.get(key)
        if cached is not None:
            log.info("session %s: CCR %d repeated (T=%s), answered from the cache", req.session_id,
                     req.request_number, req.retransmitted)
            return cached
        if key in core._in_progress:
            return self._second_copy(msg, buf, req, key)
        if self.max_in_progress is not None and self.in_progress >= self.max_in_progress:
            return self._enc.encode(msg, buf, req, CCResult(DIAMETER_TOO_BUSY))
        core._in_progress.add(key)  # core.begin(req), inline
        self.in_progress += 1
        return (buf, req, key)

    async def _second_copy(self, msg: Any, buf: bytes, req: CCRequest, key: tuple[str, int]) -> Any:
        """A copy of a request still being handled: the first copy's answer."""
        fut = self._waiters.get(key)
        if fut is None:
            fut = self._waiters[key] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.shield(fut)
        except Exception:  # noqa: BLE001 - the first copy failed: so does this one
            return self._enc.encode(msg, buf, req, CCResult(DIAMETER_UNABLE_TO_COMPLY,
                                                            error_message="the first copy failed"))

    async def _on_request(self, msg: Any) -> Any:
        if msg.header.command_code == CMD_ST:
            return await self._on_str(msg)
        begun = self._prelude(msg)
        if type(begun) is not tuple:
            return (await begun) if inspect.iscoroutine(begun) else begun
        return await self._handle(msg, *begun)

    def _failed(self, msg: Any, buf: bytes, req: CCRequest, key: tuple[str, int], exc: Exception) -> bytes:
        log.error("credit-control handler failed for %s: %r", req.session_id, exc)
        self.in_progress -= 1
        self.core.abandon(req)
        self._finish_waiter(key, None, exc)
        return self._enc.encode(msg, buf, req, CCResult(DIAMETER_UNABLE_TO_COMPLY,
                                                        error_message="credit-control handler failed"))

    def _completed(self, req: CCRequest, key: tuple[str, int], res: CCResult, out: bytes) -> bytes:
        self.in_progress -= 1
        reason = self.core.complete(req, res, out, self.node.loop.time())
        self._finish_waiter(key, out, None)
        if reason is not None:
            self._closed_later(req.session_id, reason)
        return out

    def _on_request_soon(self, msg: Any, reply: Reply | None = None) -> Any:
        """The node's handler when the credit-control handler has ``answer_soon``: CCR-I/U/T
        are answered through it, without a coroutine per request (the answer, or None and the
        node's ``reply`` called back by the handler's callback; without a ``reply``, a future
        of the answer); everything else as :meth:`_on_request`."""
        if msg.header.command_code == CMD_ST:
            return self._on_str(msg)
        begun = self._prelude(msg, None if reply is None else reply.request)
        if type(begun) is not tuple:   # answered already (cache, first copy, 3004, 5004)
            return begun
        buf, req, key = begun
        if req.request_type is _EVENT:
            return self._handle(msg, buf, req, key)
        pending = _new_soon(self._soon_class)  # built without an __init__ call
        pending.server, pending.msg, pending.buf, pending.creq, pending.key = self, msg, buf, req, key
        pending.fut = pending.out = None
        pending.reply = reply
        pending.dropped = False
        try:
            res = self._soon(req, pending)  # type: ignore[misc]
            if res is None:
                if reply is not None:  # answered through it (maybe already)
                    return None
                if pending.out is not None:  # the handler called back before it returned
                    return pending.out
                fut = pending.fut = self.node.loop.create_future()
                return fut
            if pending.dropped:
                raise RuntimeError("answer_soon returned a result after calling back")
            if not isinstance(res, CCResult):
                raise TypeError(f"handler returned {type(res).__name__}, not CCResult")
            out = self._enc.encode(msg, buf, req, res)
        except Exception as exc:  # noqa: BLE001 - one failing request costs only its own answer
            if pending.dropped:  # it was answered through the callback: that answer stands
                log.error("credit-control handler failed for %s after answering: %r", req.session_id, exc)
                return None if reply is not None else pending.out
            pending.dropped = True
            return self._failed(msg, buf, req, key, exc)
        pending.dropped = True
        return self._completed(req, key, res, out)

    async def _handle(self, msg: Any, buf: bytes, req: CCRequest, key: tuple[str, int]) -> Any:
        """A begun request through the handler's ``on_*`` method (the coroutine path)."""
        method = self._methods.get(req.request_type)
        try:
            if method is None:
                raise LookupError(f"handler has no method for {req.request_type.name}")
            res = method(req)
            if type(res) is not CCResult and inspect.isawaitable(res):
                res = await res
            if not isinstance(res, CCResult):
                raise TypeError(f"handler returned {type(res).__name__}, not CCResult")
            out = self._enc.encode(msg, buf, req, res)
        except Exception as exc:  # noqa: BLE001
            return self._failed(msg, buf, req, key, exc)
        except BaseException as exc:
            self.in_progress -= 1
            self.core.abandon(req)
            self._finish_waiter(key, None, exc)
            raise
        return self._completed(req, key, res, out)

    def _finish_waiter(self, key: tuple[str, int], out: bytes | None, exc: BaseException | None) -> None:
        fut = self._waiters.pop(key, None)
        if fut is not None and not fut.done():
            if isinstance(exc, asyncio.CancelledError):
                fut.cancel()
            elif exc is not None or out is None:
                fut.set_exception(exc or RuntimeError("no answer"))
                fut.exception()  # retrieved: no "never retrieved" warning when no one awaits it
            else:
                fut.set_result(out)

    def _error_cca(self, msg: Any, code: int, text: str) -> CreditControlAnswer:
        a: CreditControlAnswer = msg.to_answer()
        a.session_id = msg.session_id
        a.result_code = code
        a.origin_host = self._origin_host
        a.origin_realm = self._origin_realm
        a.auth_application_id = self.application_id
        a.cc_request_type = msg.cc_request_type
        a.cc_request_number = msg.cc_request_number
        a.error_message = text[:200]
        return a

    async def _on_str(self, msg: Any) -> SessionTerminationAnswer:
        a: SessionTerminationAnswer = msg.to_answer()
        a.session_id = msg.session_id
        a.origin_host = self._origin_host
        a.origin_realm = self._origin_realm
        s = self.core.close(msg.session_id or "")
        a.result_code = DIAMETER_SUCCESS if s is not None else DIAMETER_UNKNOWN_SESSION_ID
        if s is not None:
            await self._closed(s.session_id, CLOSED_STR)
        return a

    # ---- session closing ------------------------------------------------------------
    async def _closed(self, session_id: str, reason: str) -> None:
        fn = getattr(self.handler, "on_session_closed", None)
        if fn is None:
            return
        try:
            await _call(fn, session_id, reason)
        except Exception as exc:  # noqa: BLE001
            log.error("on_session_closed(%s, %s) failed: %r", session_id, reason, exc)

    def _closed_later(self, session_id: str, reason: str) -> None:
        t = asyncio.get_running_loop().create_task(self._closed(session_id, reason))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _start_ticker(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            nd = self.core.next_deadline()
            now = loop.time()
            await asyncio.sleep(self.core.tcc if nd is None else max(0.005, min(nd - now, self.core.tcc)))
            for s in self.core.expire(loop.time()):
                await self._closed(s.session_id, CLOSED_TCC)

    async def close(self) -> None:
        """Stop Tcc supervision (the node keeps running)."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- server-initiated -----------------------------------------------------------
    def _session(self, session_id: str) -> ServerSession:
        s = self.core.sessions.get(session_id)
        if s is None:
            raise UnknownSession(session_id)
        return s

    async def re_auth(self, session_id: str, *, rating_group: int | None = None,
                      service_identifier: int | None = None, timeout: float | None = None) -> int:
        """Send a Re-Auth-Request (AUTHORIZE_ONLY) to the session's client; returns the RAA's Result-Code.

        The client answers and then sends a CCR-Update with Reporting-Reason FORCED_REAUTHORISATION.
        """
        s = self._session(session_id)
        r = ReAuthRequest()
        r.header.application_id = self.application_id
        self._fill(r, s)
        r.re_auth_request_type = RE_AUTH_AUTHORIZE_ONLY
        if rating_group is not None:
            r.rating_group = rating_group
        if service_identifier is not None:
            r.service_identifier = service_identifier
        ans = await self.node.request(r, peer=s.peer, timeout=timeout)
        return int(ans.result_code or 0)

    async def abort(self, session_id: str, *, timeout: float | None = None) -> int:
        """Send an Abort-Session-Request; returns the ASA's Result-Code.

        On success the client ends the session with a CCR-Termination (reporting the used units);
        when the client does not acknowledge, the session is closed here (``on_session_closed``
        with reason ``"abort"``).
        """
        s = self._session(session_id)
        r = AbortSessionRequest()
        r.header.application_id = self.application_id
        self._fill(r, s)
        try:
            ans = await self.node.request(r, peer=s.peer, timeout=timeout)
            code = int(ans.result_code or 0)
        except Exception as exc:  # noqa: BLE001 - not delivered: the session cannot be aborted remotely
            log.info("ASR for %s not answered: %r", session_id, exc)
            code = 0
        if not is_success(code) and self.core.close(session_id) is not None:
            await self._closed(session_id, CLOSED_ABORT)
        return code

    def _fill(self, r: Any, s: ServerSession) -> None:
        r.session_id = s.session_id
        r.origin_host = self._origin_host
        r.origin_realm = self._origin_realm
        r.destination_realm = s.origin_realm.encode()
        r.destination_host = s.origin_host.encode()
        r.auth_application_id = self.application_id
