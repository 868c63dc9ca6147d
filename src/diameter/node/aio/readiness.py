"""Waiting for peers after ``start()``, and why a peer did not open.

``start()`` only begins connecting: the capabilities exchange (CER/CEA) needs a
round trip or more. :func:`wait_ready` waits until some open peer took an
application in its CER/CEA. When it gives up, :class:`PeerNotReady` names every
configured peer with its state and the last reason it failed, Result-Codes with
their names (5010 DIAMETER_NO_COMMON_APPLICATION, 3010 DIAMETER_UNKNOWN_PEER,
connection refused, TLS failures...).
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .base import NodeError

if TYPE_CHECKING:
    from .node import DiameterNode
    from .peer import PeerInfo

__all__ = ["PeerNotReady", "describe_failure", "not_open_hint", "result_name", "wait_ready"]


class PeerNotReady(NodeError, TimeoutError):
    """No peer opened in time; ``reasons`` maps each peer identity to why."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons


def result_name(code: int) -> str:
    """"5010 DIAMETER_NO_COMMON_APPLICATION" (the number alone when unknown)."""
    from ...message.avp.dictionary import ENUMS
    name = ENUMS.get((0, 268), {}).get(code)
    return f"{code} {name}" if name else str(code)


def describe_failure(reason: str, result_code: int | None = None) -> str:
    """A closed connection's reason with its Result-Code named."""
    return f"{reason} (Result-Code {result_name(result_code)})" if result_code else reason


def peer_status(peer: PeerInfo) -> str:
    """"state Closed; last failure: CEA from x with result 5010 (Result-Code 5010 ...)"."""
    text = f"state {peer.state}"
    if peer.last_failure:
        text += f"; last failure: {peer.last_failure}"
    elif not peer.addresses and not peer.is_open:
        text += "; no address configured (waits for the peer to connect)"
    return text


def not_open_hint(node: DiameterNode, application_id: int) -> str:
    """For NotRoutable: the peers not open, and how to wait for them after start()."""
    closed = [p for p in node.peers.values() if not p.is_open and (p.addresses or p.last_failure)]
    if not closed:
        return ""
    detail = "; ".join(f"{p.identity}: {peer_status(p)}" for p in closed[:5])
    return (f" (not open: {detail}; after start(), await node.wait_ready({application_id}) "
            f"waits for a peer)")


async def wait_ready(node: DiameterNode, application_id: int, timeout: float = 10.0,
                     poll: float = 0.01) -> PeerInfo:
    """The first open peer that took ``application_id``; :class:`PeerNotReady` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for peer in node.peers.values():
            if peer.is_open and peer.supports(application_id):
                return peer
        if loop.time() >= deadline:
            break
        await asyncio.sleep(poll)
    reasons = {p.identity: peer_status(p) for p in node.peers.values()}
    detail = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "no peers configured"
    raise PeerNotReady(f"no open peer for application {application_id} after {timeout}s "
                       f"({detail})", reasons)
