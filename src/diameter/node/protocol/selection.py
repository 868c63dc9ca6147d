"""Which peer takes a request this node sends (or re-sends after a failover): a pure decision.

Order: the Destination-Host when it is a usable peer; a cached redirect
(RFC 6733 §6.13); the node's client routes; a routing-table route; else an
open peer of the destination realm (or any open peer when no route exists).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from .routing import Balancer, RedirectCache, RouteAction, RoutingTable


def select_peer(*, app_id: int, dest_realm: str | None, dest_host: str | None, local_realm: str,
                exclude: Collection[str], usable: Callable[[str, int], bool], open_peers: Sequence[Any],
                redirects: RedirectCache, client_routes: Mapping[tuple[str, int | None], list[str]],
                routes: RoutingTable, balancer: Balancer, pending: Callable[[str], int],
                weight: Callable[[str], int], now: float, session: str | None = None) -> str | None:
    """The key of the peer to send to, None when no usable peer is left.

    ``open_peers`` are the open peers (objects with ``key`` and ``realm``),
    ``usable(key, app)`` tells whether a peer is open, supports the application
    and is not congested, ``exclude`` the peers already tried.
    """
    if dest_host is not None:
        key = dest_host.lower()
        if key not in exclude and usable(key, app_id):
            return key
    realm = dest_realm or local_realm
    if redirects._entries:
        hosts = redirects.lookup(now, realm=realm, app=app_id, host=dest_host, session=session)
        if hosts:
            for h in hosts:
                if h.lower() not in exclude and usable(h.lower(), app_id):
                    return h.lower()
    if client_routes:
        rl = realm.lower()
        ids = client_routes.get((rl, app_id)) or client_routes.get((rl, None))
        if ids:
            cands = [s for s in ids if s not in exclude and usable(s, app_id)]
            if cands:
                return balancer.choose(cands, pending, {k: weight(k) for k in cands})
    route = routes.lookup(realm, app_id)
    if route is not None and route.action is not RouteAction.LOCAL:
        cands = [s for s in route.servers if s not in exclude and usable(s, app_id)]
        weights = route.weights
    else:
        rl = realm.lower()
        cands = [p.key for p in open_peers if p.realm.lower() == rl and p.key not in exclude and usable(p.key, app_id)]
        if not cands and route is None:
            cands = [p.key for p in open_peers if p.key not in exclude and usable(p.key, app_id)]
        if len(cands) == 1:
            return cands[0]
        weights = {k: weight(k) for k in cands}
    if not cands:
        return None
    return balancer.choose(cands, pending, weights)


def may_fail_over(tried: Collection[str], max_failover: int) -> bool:
    """Whether a request whose peer failed may go to another peer (RFC 6733 §5.5.4)."""
    return len(tried) <= max_failover
