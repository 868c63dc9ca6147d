"""Requests and answers completed with what the node knows (docs/node.md, "Filling").

- :class:`SessionIds`: Session-Id values in RFC 6733 §8.8 form,
  ``<DiameterIdentity>;<high 32 bits>;<low 32 bits>[;<optional value>]``; the high
  part starts at the node's boot time, the low part counts (and carries into the
  high part), so ids stay unique across restarts.
- :func:`fill_request`: a typed request gets Origin-Host/Realm, a Session-Id and a
  Destination-Realm when it has none (values already set are kept).
- :func:`make_answer`: ``request.answer(...)`` with the node's Origin-Host/Realm.
- :func:`check_result`: logs an answer that leaves without Result-Code or
  Experimental-Result.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..protocol import avps as A

if TYPE_CHECKING:
    from .node import DiameterNode

log = logging.getLogger("diameter.node")

__all__ = ["SessionIds", "SupportsAnswer", "check_result", "fill_request", "make_answer"]

A_co = TypeVar("A_co", covariant=True)


class SupportsAnswer(Protocol[A_co]):
    """A request: typed commands answer with their own answer class (for type checkers)."""

    def answer(self, result_code: int | None = None, *, origin_host: str | bytes | None = None,
               origin_realm: str | bytes | None = None, vendor_id: int = 0,
               error_message: str | None = None) -> A_co: ...

_RESULT_CODE = 268
_EXPERIMENTAL_RESULT = 297


class SessionIds:
    """Session-Id generator of one node (RFC 6733 §8.8)."""

    def __init__(self, identity: str, start: int | None = None) -> None:
        self.identity = identity
        self._high = (int(time.time()) if start is None else start) & 0xFFFFFFFF
        self._low = 0

    def next(self, optional: str | None = None) -> str:
        """A new Session-Id; ``optional`` is appended after a third ``;``."""
        sid = f"{self.identity};{self._high};{self._low}"
        self._low = (self._low + 1) & 0xFFFFFFFF
        if self._low == 0:
            self._high = (self._high + 1) & 0xFFFFFFFF
        return sid if optional is None else f"{sid};{optional}"


_FILLED = ("origin_host", "origin_realm", "session_id", "destination_realm")


def _missing(msg: Any, name: str) -> bool:
    return hasattr(type(msg), name) and getattr(msg, name, None) in (None, b"", "")


def fill_request(node: DiameterNode, message: Any, peer: str | None = None) -> None:
    """Complete a typed request before it is sent (attributes already set are kept).

    Destination-Realm, when missing, is the realm of ``peer`` when given, else of the
    open peer that would take the request's application, else the node's own realm.
    """
    d = message.__dict__
    if ("_raw" not in d and d.get("origin_host") and d.get("origin_realm") and d.get("session_id")
            and d.get("destination_realm")):
        return                     # the usual case: everything set, nothing to look up
    if _missing(message, "origin_host"):
        message.origin_host = node.origin_host.encode("ascii")
    if _missing(message, "origin_realm"):
        message.origin_realm = node.realm.encode("ascii")
    if _missing(message, "session_id"):
        message.session_id = node.new_session_id()
    if _missing(message, "destination_realm"):
        message.destination_realm = _destination_realm(node, message, peer).encode("ascii")


def _destination_realm(node: DiameterNode, message: Any, peer: str | None) -> str:
    if peer is not None and peer.lower() in node.peers:
        return node.peers[peer.lower()].realm
    app_id = message.header.application_id or getattr(message, "auth_application_id", None) or 0
    for p in node.open_peers():
        if p.supports(app_id):
            caps = p.capabilities
            return caps.origin_realm if caps is not None else p.realm
    return node.realm


def make_answer(node: DiameterNode, request: SupportsAnswer[A_co], result_code: int | None = None,
                **kw: Any) -> A_co:
    """``request.answer(result_code, ...)`` with the node's Origin-Host and Origin-Realm."""
    kw.setdefault("origin_host", node.origin_host)
    kw.setdefault("origin_realm", node.realm)
    return request.answer(result_code, **kw)


def check_result(out: bytes | bytearray, peer: str) -> None:
    """Log an answer that carries neither Result-Code nor Experimental-Result."""
    data = bytes(out)
    if A.find(data, _RESULT_CODE) is None and A.find(data, _EXPERIMENTAL_RESULT) is None:
        code = int.from_bytes(out[5:8], "big")
        log.warning("answer (command %d) to %s has no Result-Code or Experimental-Result "
                    "(build it with node.answer(request, result_code))", code, peer)
