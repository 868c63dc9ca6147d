"""Realm-based routing (RFC 6733 §2.7, §6.1) and peer load balancing."""
from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .constants import (APP_COMMON, DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_REALM_NOT_SERVED,
                        DIAMETER_UNABLE_TO_DELIVER, REDIRECT_ALL_APPLICATION, REDIRECT_ALL_HOST,
                        REDIRECT_ALL_REALM, REDIRECT_ALL_SESSION, REDIRECT_DONT_CACHE,
                        REDIRECT_REALM_AND_APPLICATION)


class RouteAction(enum.Enum):
    LOCAL = "LOCAL"
    RELAY = "RELAY"
    PROXY = "PROXY"
    REDIRECT = "REDIRECT"


@dataclass
class Route:
    """One routing table entry: realm + application -> action and servers.

    ``application_id`` None matches any application; ``realm`` "*" is the
    default route. ``weights`` (server -> weight) is used by weighted balancing.
    """

    realm: str
    action: RouteAction = RouteAction.RELAY
    servers: list[str] = field(default_factory=list)
    application_id: int | None = None
    weights: dict[str, int] = field(default_factory=dict)
    redirect_usage: int = REDIRECT_DONT_CACHE
    redirect_max_cache_time: int = 3600


class Balancing(enum.Enum):
    ROUND_ROBIN = "round-robin"
    LEAST_PENDING = "least-pending"
    WEIGHTED = "weighted"


class RoutingTable:
    """Lookup is exact (realm, app), then (realm, any app), then the default."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, int | None], Route] = {}
        self.default: Route | None = None

    def add(self, route: Route) -> Route:
        if route.realm == "*":
            self.default = route
        else:
            self._routes[(route.realm.lower(), route.application_id)] = route
        return route

    def remove(self, realm: str, application_id: int | None = None) -> None:
        if realm == "*":
            self.default = None
        self._routes.pop((realm.lower(), application_id), None)

    def lookup(self, realm: str, application_id: int) -> Route | None:
        realm = realm.lower()
        r = self._routes.get((realm, application_id))
        if r is None:
            r = self._routes.get((realm, None))
        return r if r is not None else self.default

    def knows_realm(self, realm: str) -> bool:
        realm = realm.lower()
        return any(k[0] == realm for k in self._routes)

    def __iter__(self):
        yield from self._routes.values()
        if self.default:
            yield self.default


class Balancer:
    """Choose one peer among candidates by the configured strategy."""

    def __init__(self, strategy: Balancing = Balancing.LEAST_PENDING) -> None:
        self.strategy = strategy
        self._rr = itertools.count()
        self._wrr: dict[tuple[str, ...], int] = {}

    def choose(self, candidates: Sequence[str], pending: Callable[[str], int],
               weights: dict[str, int] | None = None) -> str:
        if len(candidates) == 1:
            return candidates[0]
        s = self.strategy
        if s is Balancing.ROUND_ROBIN:
            return candidates[next(self._rr) % len(candidates)]
        if s is Balancing.WEIGHTED and weights:
            # smooth weighted round-robin over a stable key
            key = tuple(candidates)
            total = sum(max(weights.get(c, 1), 0) for c in candidates) or 1
            n = self._wrr.get(key, 0)
            self._wrr[key] = n + 1
            slot = n % total
            for c in candidates:
                slot -= max(weights.get(c, 1), 0)
                if slot < 0:
                    return c
            return candidates[-1]
        return min(candidates, key=pending)


@dataclass
class RedirectEntry:
    hosts: list[str]
    usage: int
    expires: float


class RedirectCache:
    """Redirect-Host-Usage caching (RFC 6733 §6.13)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, RedirectEntry] = {}

    @staticmethod
    def _key(usage: int, realm: str, app: int, host: str | None, session: str | None) -> tuple | None:
        if usage == REDIRECT_ALL_REALM:
            return ("realm", realm.lower())
        if usage == REDIRECT_REALM_AND_APPLICATION:
            return ("realm-app", realm.lower(), app)
        if usage == REDIRECT_ALL_APPLICATION:
            return ("app", app)
        if usage == REDIRECT_ALL_HOST and host:
            return ("host", host.lower())
        if usage == REDIRECT_ALL_SESSION and session:
            return ("session", session)
        return None

    def store(self, hosts: list[str], usage: int, max_age: float, now: float, *,
              realm: str, app: int, host: str | None = None, session: str | None = None) -> None:
        key = self._key(usage, realm, app, host, session)
        if key is not None and hosts:
            self._entries[key] = RedirectEntry(hosts, usage, now + max_age)

    def lookup(self, now: float, *, realm: str, app: int, host: str | None = None,
               session: str | None = None) -> list[str] | None:
        if not self._entries:
            return None
        for usage in (REDIRECT_ALL_SESSION, REDIRECT_ALL_HOST, REDIRECT_REALM_AND_APPLICATION,
                      REDIRECT_ALL_REALM, REDIRECT_ALL_APPLICATION):
            key = self._key(usage, realm, app, host, session)
            if key is None:
                continue
            e = self._entries.get(key)
            if e is not None:
                if e.expires > now:
                    return e.hosts
                del self._entries[key]
        return None


@dataclass
class Decision:
    """What to do with a request: process locally, forward, redirect or refuse."""

    action: RouteAction | None
    peer: str | None = None
    result_code: int | None = None
    redirect_hosts: list[str] = field(default_factory=list)
    route: Route | None = None


def decide(*, local_host: str, local_realm: str, dest_host: str | None, dest_realm: str | None,
           app_id: int, local_apps: set[int], table: RoutingTable,
           usable: Callable[[str, int], bool], balancer: Balancer,
           pending: Callable[[str], int], exclude: frozenset[str] = frozenset()) -> Decision:
    """Apply RFC 6733 §6.1 request routing for one received request.

    ``usable(peer, app)`` says whether a peer is open and supports the app.
    Result codes: 3007 app not supported locally, 3003 realm not served,
    3002 unable to deliver.
    """
    lh = local_host.lower()
    if dest_host is not None and dest_host.lower() == lh:
        if app_id in local_apps or app_id == APP_COMMON:
            return Decision(RouteAction.LOCAL)
        return Decision(None, result_code=DIAMETER_APPLICATION_UNSUPPORTED)
    if dest_host is not None and dest_host.lower() not in exclude and usable(dest_host.lower(), app_id):
        return Decision(RouteAction.RELAY, peer=dest_host.lower())
    realm = (dest_realm or local_realm).lower()
    if realm == local_realm.lower() and dest_host is None:
        route = table.lookup(realm, app_id)
        if route is None or route.action is RouteAction.LOCAL or route is table.default:
            if app_id in local_apps or app_id == APP_COMMON:
                return Decision(RouteAction.LOCAL)
            if route is None or route.action is RouteAction.LOCAL:
                return Decision(None, result_code=DIAMETER_APPLICATION_UNSUPPORTED)
    route = table.lookup(realm, app_id)
    if route is None:
        return Decision(None, result_code=DIAMETER_REALM_NOT_SERVED)
    if route.action is RouteAction.LOCAL:
        if app_id in local_apps or app_id == APP_COMMON:
            return Decision(RouteAction.LOCAL, route=route)
        return Decision(None, result_code=DIAMETER_APPLICATION_UNSUPPORTED, route=route)
    if route.action is RouteAction.REDIRECT:
        return Decision(RouteAction.REDIRECT, redirect_hosts=list(route.servers), route=route)
    servers = [s.lower() for s in route.servers]
    if dest_host is not None and dest_host.lower() in servers:
        servers = [dest_host.lower()]
    candidates = [s for s in servers if s not in exclude and usable(s, app_id)]
    if not candidates:
        return Decision(None, result_code=DIAMETER_UNABLE_TO_DELIVER, route=route)
    peer = balancer.choose(candidates, pending, route.weights)
    return Decision(route.action, peer=peer, route=route)
