"""The node's errors, shared by the asyncio node and the threaded python-diameter API."""
from __future__ import annotations

__all__ = ["NodeError", "NotRoutable", "PeerFailed", "RequestTimeout", "ApplicationError",
           "EmptyAnswer"]


class NodeError(Exception):
    """Base error raised by the node."""


class NotRoutable(NodeError):
    """No open peer can take the request."""


class PeerFailed(NodeError):
    """The peer failed and no alternate peer could take the request."""


class ApplicationError(Exception):
    """Base error raised by applications."""


class EmptyAnswer(ApplicationError):
    """The request got no answer (the application was stopped while waiting)."""


class RequestTimeout(NodeError, ApplicationError, TimeoutError):
    """No answer arrived within the request's timeout.

    Raised by ``DiameterNode.request`` (asyncio) and ``Application.send_request``
    (threaded); a :class:`TimeoutError`, as python-diameter raises, and an
    :class:`ApplicationError`, as the threaded API documents.
    """
