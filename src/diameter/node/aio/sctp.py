"""Optional SCTP support through pysctp (``pip install diameter[sctp]``)."""
from __future__ import annotations

import socket


def sctp_available() -> tuple[bool, str] | bool:
    """True when pysctp imports and the kernel can open an SCTP socket."""
    return sctp_status()[0]


def sctp_status() -> tuple[bool, str]:
    """(available, reason) for SCTP on this machine."""
    try:
        import sctp  # noqa: F401
    except ImportError:
        return False, "pysctp is not installed"
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
        s.close()
    except OSError as exc:
        return False, f"kernel has no SCTP: {exc}"
    return True, "ok"


def sctp_socket(family: int = socket.AF_INET) -> socket.socket:
    """A connected-style (one-to-one) SCTP socket usable by asyncio's stream APIs."""
    ok, why = sctp_status()
    if not ok:
        raise OSError(why)
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
