"""What the node does with a received request: a pure decision of its header,
its routing AVPs, the local applications and the routing table (RFC 6733 §6.1)."""
from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass

from .constants import (APP_COMMON, DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_COMMAND_UNSUPPORTED,
                        DIAMETER_INVALID_HDR_BITS, DIAMETER_REDIRECT_INDICATION,
                        DIAMETER_UNABLE_TO_COMPLY, DIAMETER_UNABLE_TO_DELIVER, FLAG_ERROR,
                        FLAG_PROXYABLE)
from .routing import Balancer, Decision, RouteAction, RoutingTable, decide


class Step(enum.Enum):
    ERROR = "error"        # answer result_code (message) at once
    REDIRECT = "redirect"  # answer 3006 with decision's hosts
    RELAY = "relay"        # forward to decision.peer
    LOCAL = "local"        # an application of this node handles it


@dataclass(slots=True)
class Dispatch:
    step: Step
    result_code: int = 0
    message: str | None = None
    decision: Decision | None = None


LOCAL = Dispatch(Step.LOCAL)


def dispatch_request(*, flags: int, app_id: int, local_app: bool, local_only: bool, peer_supports: bool,
                     dest_host: str | None, dest_realm: str | None, local_host: str, local_realm: str,
                     local_apps: Collection[int], table: RoutingTable, usable: Callable[[str, int], bool],
                     balancer: Balancer, pending: Callable[[str], int], came_from: str) -> Dispatch:
    """Route one received request.

    ``local_only``: this node serves the application and has no routes and is
    no relay, so routing AVPs need not be read. ``peer_supports``: the
    application was negotiated with the sending peer.
    """
    if flags & FLAG_ERROR:  # RFC 6733 §3: a request never has the E bit
        return Dispatch(Step.ERROR, DIAMETER_INVALID_HDR_BITS, "E bit set in a request")
    if local_only:
        return LOCAL
    if not peer_supports and app_id != APP_COMMON:
        return Dispatch(Step.ERROR, DIAMETER_APPLICATION_UNSUPPORTED)
    d = decide(local_host=local_host, local_realm=local_realm, dest_host=dest_host, dest_realm=dest_realm,
               app_id=app_id, local_apps=set(local_apps), table=table, usable=usable, balancer=balancer,
               pending=pending, exclude=frozenset({came_from}))
    if d.action is None:
        return Dispatch(Step.ERROR, d.result_code or DIAMETER_UNABLE_TO_DELIVER)
    if d.action is RouteAction.REDIRECT:
        return Dispatch(Step.REDIRECT, DIAMETER_REDIRECT_INDICATION, decision=d)
    if d.action is not RouteAction.LOCAL:
        if not flags & FLAG_PROXYABLE:  # only proxiable requests may leave this node
            return Dispatch(Step.ERROR, DIAMETER_UNABLE_TO_DELIVER, "request is not proxiable")
        return Dispatch(Step.RELAY, decision=d)
    if not local_app:
        return Dispatch(Step.ERROR, DIAMETER_APPLICATION_UNSUPPORTED)
    return LOCAL


def local_refusal(command: int, commands: Collection[int] | None, has_handler: bool) -> Dispatch | None:
    """Why a local application cannot take a request (3001 or 5012), None when it can."""
    if commands is not None and command not in commands:
        return Dispatch(Step.ERROR, DIAMETER_COMMAND_UNSUPPORTED)
    if not has_handler:
        return Dispatch(Step.ERROR, DIAMETER_UNABLE_TO_COMPLY, "no handler")
    return None
