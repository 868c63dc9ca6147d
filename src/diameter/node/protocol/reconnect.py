"""When to reconnect to a persistent peer after its connection ended (sans-IO).

A connection that worked for a while is re-made at once; one that keeps
dropping soon after opening backs off (doubling from ``reconnect_wait`` up to
``reconnect_max``); DPR with DO_NOT_WANT_TO_TALK_TO_YOU stops reconnecting and
DPR with BUSY waits at least ``reconnect_wait`` (RFC 6733 §5.4.3). A transport
or watchdog failure makes the next connection start in RFC 3539 REOPEN.
"""
from __future__ import annotations

from dataclasses import dataclass

from .connection import Closed, CloseCause
from .constants import DISCONNECT_BUSY, DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU

#: a connection open at least this long (or Tw, if shorter) counts as having worked
WORKED_FOR = 5.0
#: the first reconnect after a connection that worked
FIRST_WAIT = 0.05


@dataclass(frozen=True, slots=True)
class AfterClose:
    failed: bool        # the next connection starts in REOPEN
    no_reconnect: bool  # the peer asked not to be reconnected
    backoff: float      # the reconnect loop's backoff from now on


def after_close(ev: Closed, *, open_for: float | None, tw: float, backoff: float,
                reconnect_wait: float) -> AfterClose:
    """What a closed connection changes for its peer; ``open_for`` is None when it never opened."""
    if open_for is not None and open_for >= min(tw, WORKED_FOR):
        backoff = 0.0
    dpr = ev.cause is CloseCause.DPR_RECEIVED
    if dpr and ev.disconnect_cause == DISCONNECT_BUSY:
        backoff = max(backoff, reconnect_wait)
    return AfterClose(ev.failure, dpr and ev.disconnect_cause == DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU, backoff)


def reconnect_wait_after(backoff: float, reconnect_wait: float, reconnect_max: float) -> tuple[float, float]:
    """(seconds to wait before the next attempt, the backoff after it)."""
    wait = min(backoff if backoff else FIRST_WAIT, reconnect_max)
    return wait, min(max(reconnect_wait, backoff * 2), reconnect_max)
