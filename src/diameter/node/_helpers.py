"""Identifier generators, Diameter URIs and AVP validation (python-diameter API)."""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, NamedTuple


class DiameterUri(NamedTuple):
    """A parsed DiameterURI (RFC 6733 §4.3.1)."""

    scheme: str
    fqdn: str
    port: int
    params: dict
    is_secure: bool


def parse_diameter_uri(uri: str) -> DiameterUri:
    """Parse ``aaa[s]://fqdn[:port][;k=v...]``; port defaults to 3868 (5658 for aaas)."""
    if "://" not in uri:
        raise ValueError(f"URI {uri!r} lacks the aaa:// or aaas:// scheme")
    scheme, rest = uri.split("://", 1)
    host_part, _, param_part = rest.partition(";")
    if host_part.startswith("["):  # [IPv6]:port
        host, _, tail = host_part[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else None
    elif host_part.count(":") == 1:
        host, p = host_part.split(":")
        port = int(p)
    else:
        host, port = host_part, None
    if port is None:
        port = 5658 if scheme == "aaas" else 3868
    params = {}
    for item in param_part.split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            params[k] = v
    return DiameterUri(scheme, host, port, params, scheme == "aaas")


def validate_message_avps(msg: Any) -> list:
    """Return an ``Avp`` (code/vendor set) for each mandatory AVP the message lacks.

    Works for message classes that describe their AVPs in ``avp_def``; any other
    message yields an empty list.
    """
    defs = getattr(msg, "avp_def", None)
    if not defs:
        return []
    from ..message import Avp
    missing = []
    for d in defs:
        if d.is_required and getattr(msg, d.attr_name, None) is None:
            logging.getLogger("diameter.node").debug(
                "mandatory AVP %s (vendor %s) missing", d.avp_code, d.vendor_id)
            missing.append(Avp.new(d.avp_code, d.vendor_id))
    return missing


class SequenceGenerator:
    """Wrapping 32-bit sequence for hop-by-hop and end-to-end identifiers.

    With ``include_now`` the high 12 bits start from the time, as RFC 6733
    §3 suggests for End-to-End identifiers.
    """

    MIN_SEQUENCE = 0x00000001
    MAX_SEQUENCE = 0xFFFFFFFF

    def __init__(self, include_now: int | None = None) -> None:
        self._lock = threading.Lock()
        if include_now:
            self._sequence = ((include_now << 20) | random.randint(1, 0xFFFFF)) & self.MAX_SEQUENCE
        else:
            self._sequence = random.randint(self.MIN_SEQUENCE, self.MAX_SEQUENCE)

    @property
    def sequence(self) -> int:
        return self._sequence

    def next_sequence(self) -> int:
        with self._lock:
            self._sequence = self._sequence + 1 if self._sequence < self.MAX_SEQUENCE else self.MIN_SEQUENCE
            return self._sequence


class SessionGenerator:
    """Unique Session-Id values: ``<identity>;<start time hex>;<hi32>;<lo32>[;opt...]``."""

    MIN_SEQUENCE = 1
    MAX_SEQUENCE = 0xFFFFFFFFFFFFFFFF

    def __init__(self, node_name: str) -> None:
        self.diameter_identity = node_name
        self._base_value = f"{int(time.time()) & 0xFFFFFFFF:08x}"
        self._sequence = random.getrandbits(64)
        self._lock = threading.Lock()

    def next_id(self, *optional: str) -> str:
        with self._lock:
            self._sequence = self._sequence + 1 if self._sequence < self.MAX_SEQUENCE else self.MIN_SEQUENCE
            seq = self._sequence
        return ";".join([self.diameter_identity, self._base_value, f"{seq >> 32:08x}",
                         f"{seq & 0xFFFFFFFF:08x}", *optional])
