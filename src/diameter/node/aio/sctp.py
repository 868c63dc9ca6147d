"""SCTP transport (RFC 6733 §2.1) through the kernel's one-to-one socket API.

The standard library opens ``SOCK_STREAM``/``IPPROTO_SCTP`` sockets that
asyncio drives like TCP; pysctp (the ``sctp`` extra) is only needed by code
that wants SCTP-specific calls, not by the node.
"""
from __future__ import annotations

import socket


def sctp_status() -> tuple[bool, str]:
    """``(available, reason)`` for SCTP on this machine."""
    proto = getattr(socket, "IPPROTO_SCTP", 132)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        s.close()
    except OSError as exc:
        return False, f"the kernel has no SCTP support ({exc})"
    return True, "ok"


def sctp_available() -> bool:
    return sctp_status()[0]


def sctp_socket(family: int = socket.AF_INET) -> socket.socket:
    """A one-to-one SCTP socket usable by asyncio's stream transports."""
    ok, why = sctp_status()
    if not ok:
        raise OSError(why)
    return socket.socket(family, socket.SOCK_STREAM, getattr(socket, "IPPROTO_SCTP", 132))
