"""The answer to one received request, given later: :class:`Reply`.

A handler registered with ``add_application(..., reply=True)`` is called as
``handler(message, reply)``. It answers by returning the answer (as any handler does),
or by returning None and calling ``reply.answer(answer)`` or ``reply.fail(exc)`` exactly
once later, on the event loop: no future, task or done-callback per request.
"""
from __future__ import annotations

import asyncio
from inspect import isawaitable as _isawaitable
from typing import TYPE_CHECKING, Any, Callable

from ..protocol.constants import AVP_SESSION_ID, DIAMETER_UNABLE_TO_COMPLY
from .base import _read_str, log

if TYPE_CHECKING:
    from .serving import ServingPart
    from .transport import DiameterProtocol

#: a handler registered with ``add_application(..., reply=True)``
ReplyHandler = Callable[[Any, "Reply"], Any]

#: :attr:`Reply._state`: the handler has not returned yet / it returned, the answer is awaited
#: (the request counts as in progress and unanswered) / answered (or failed)
_CALLED, _WAITING, _DONE = 0, 1, 2


class Reply:
    """One request's answer channel: :meth:`answer` or :meth:`fail`, once.

    The guarantees are a returned answer's: the answer gets the request's hop-by-hop and
    end-to-end identifiers, is kept for duplicate detection (copies of the request get it,
    including copies that arrived meanwhile) and counted in the peer's statistics; an
    answer that cannot be encoded, a failure, or a cancelled task answers 5012
    (DIAMETER_UNABLE_TO_COMPLY). A request still waiting counts against the peer's
    ``max_inflight_per_peer`` and is logged when not answered within the node's
    ``request_timeout``. A second answer is ignored (logged); an answer to a request whose
    connection has closed meanwhile is dropped (and still kept for duplicates).
    """

    __slots__ = ("_node", "_proto", "_hdr", "_data", "_origin_host", "_t_in", "_state")

    _node: ServingPart
    _proto: DiameterProtocol
    _hdr: Any
    _data: bytes
    _origin_host: bytes
    _t_in: float
    _state: int

    @property
    def answered(self) -> bool:
        """True once :meth:`answer` or :meth:`fail` was called (or the handler returned an answer)."""
        return self._state == _DONE

    @property
    def request(self) -> bytes:
        """The request as received."""
        return self._data

    def answer(self, answer: Any) -> bool:
        """Send ``answer`` (a message, or its bytes); False when the request was answered already."""
        if not self._begin():
            return False
        node = self._node
        node._local_answer(self._proto, self._hdr, self._data, self._origin_host, answer, self._t_in,
                           node.loop.time())
        return True

    def fail(self, exc: BaseException | None = None) -> bool:
        """Answer 5012 (the handler failed: ``exc`` is logged); False when answered already."""
        if not self._begin():
            return False
        self._node._handler_failed(self._proto, self._hdr, self._data, self._origin_host,
                                   exc if exc is not None else RuntimeError("Reply.fail() called"))
        return True

    __call__ = answer

    def _begin(self) -> bool:
        """Take the one answer: the request stops waiting; False (logged) when it was answered."""
        state = self._state
        if state == _DONE:
            log.warning("request %d (Session-Id %s) answered twice: the second answer is dropped",
                        self._hdr.command_code, _read_str(self._data, AVP_SESSION_ID))
            return False
        self._state = _DONE
        if state == _WAITING:
            self._proto.request_done()
            self._node._replies._items.pop(self, None)
        return True

    def _wait(self, now: float) -> None:
        """The handler returned without answering: the request waits for :meth:`answer`."""
        if self._state == _CALLED:
            self._state = _WAITING
            self._proto.request_started()
            node = self._node
            timeout = node.request_timeout
            replies = node._replies
            replies.timeout = timeout
            # replies.waiting(self, ...), inline: a new key goes at the end (deadline order)
            replies._items[self] = (now + timeout, self._hdr.command_code, self._data)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        """The done callback of a handler's awaitable: its value answers (None: later)."""
        if task.cancelled():
            if self._begin():
                self._node._send_error(self._proto, self._hdr, self._data, DIAMETER_UNABLE_TO_COMPLY,
                                       "request handler cancelled", origin_host=self._origin_host)
            return
        exc = task.exception()
        if exc is not None:
            self.fail(exc)
            return
        ans = task.result()
        if ans is not None:
            self.answer(ans)


_new = object.__new__


def serve(node: ServingPart, proto: DiameterProtocol, hdr: Any, data: bytes, origin_host: bytes,
          handler: ReplyHandler, msg: Any, t_in: float, now: float) -> None:
    """Call a handler registered with ``reply=True``: ``handler(msg, reply)``. An answer returned,
    or awaited, is sent at once; None: the handler answers through the :class:`Reply`."""
    reply: Reply = _new(Reply)   # its fields, without an __init__ call
    reply._node = node
    reply._proto = proto
    reply._hdr = hdr
    reply._data = data
    reply._origin_host = origin_host
    reply._t_in = t_in
    reply._state = _CALLED
    try:
        ans = handler(msg, reply)
    except Exception as exc:  # noqa: BLE001 - the handler's error becomes 5012 (if it did not answer)
        reply.fail(exc)
        return
    if ans is None:
        reply._wait(now)
    elif type(ans) is bytes or not _isawaitable(ans):
        reply.answer(ans)
    else:
        reply._wait(now)
        asyncio.ensure_future(ans).add_done_callback(reply._task_done)
