"""Diameter URIs (RFC 6733 §4.3.1): ``aaa[s]://fqdn[:port][;k=v...]``."""
from __future__ import annotations

from typing import NamedTuple


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
