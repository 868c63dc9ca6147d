"""RFC 3539 §3.4 transport-failure watchdog, driven by ``now`` timestamps."""
from __future__ import annotations

import enum
import random


class WatchdogState(enum.Enum):
    INITIAL = "INITIAL"
    OKAY = "OKAY"
    SUSPECT = "SUSPECT"
    DOWN = "DOWN"
    REOPEN = "REOPEN"


class WatchdogAction(enum.Enum):
    SEND_DWR = "send-dwr"
    FAILOVER = "failover"
    FAILBACK = "failback"
    CLOSE = "close"
    #: the peer sent a DWR as soon as the connection opened: it is in REOPEN
    #: (RFC 3539) and throws away other messages until it has three DWAs
    PEER_REOPEN = "peer-reopen"
    #: the peer has had three DWAs from us since: it is out of REOPEN
    PEER_OKAY = "peer-okay"


class Watchdog:
    """The watchdog of one connection.

    ``tw`` is Tw_init (>= 6 s per RFC 3539); each interval gets +-2 s of jitter.
    A connection that was down before starts in REOPEN and needs three DWAs in a
    row before it is OKAY again (failback).
    """

    def __init__(self, now: float, tw: float = 30.0, reopen: bool = False,
                 rng: random.Random | None = None, jitter: float = 2.0) -> None:
        self.tw = tw
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.state = WatchdogState.REOPEN if reopen else WatchdogState.OKAY
        self.pending = False
        self.num_dwa = 0
        self.deadline = 0.0
        self._set(now)

    def _set(self, now: float) -> None:
        j = self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        self.deadline = now + max(self.tw + j, 0.1)

    def on_traffic(self, now: float) -> bool:
        """An application message arrived: True when the watchdog is OKAY and only its
        timer restarts (the hot path); False when :meth:`on_receive` must run."""
        if self.state is WatchdogState.OKAY:
            self.deadline = now + self.tw
            return True
        return False

    def dwr_sent(self) -> None:
        """A DWR went out outside :meth:`on_timer` (the first one of a REOPEN connection)."""
        self.pending = True

    def on_receive(self, now: float, is_dwa: bool) -> list[WatchdogAction]:
        """Any message arrived from the peer (``is_dwa`` for a DWA)."""
        st = self.state
        if st is WatchdogState.OKAY:
            if is_dwa:
                self.pending = False
            self.deadline = now + self.tw  # cheap reset on the hot path
            return []
        if st is WatchdogState.SUSPECT:
            self.pending = False
            self.state = WatchdogState.OKAY
            self._set(now)
            return [WatchdogAction.FAILBACK]
        if st is WatchdogState.REOPEN and is_dwa:
            self.pending = False
            self.num_dwa += 1
            if self.num_dwa >= 3:
                self.state = WatchdogState.OKAY
                self._set(now)
                return [WatchdogAction.FAILBACK]
        return []

    def on_timer(self, now: float) -> list[WatchdogAction]:
        if now < self.deadline:
            return []
        st = self.state
        if st is WatchdogState.OKAY:
            if self.pending:
                self.state = WatchdogState.SUSPECT
                self._set(now)
                return [WatchdogAction.FAILOVER]
            self.pending = True
            self._set(now)
            return [WatchdogAction.SEND_DWR]
        if st is WatchdogState.SUSPECT:
            self.state = WatchdogState.DOWN
            return [WatchdogAction.CLOSE]
        if st is WatchdogState.REOPEN:
            if self.pending:
                if self.num_dwa < 0:
                    self.state = WatchdogState.DOWN
                    return [WatchdogAction.CLOSE]
                self.num_dwa = -1
                self._set(now)
                return []
            self.pending = True
            self._set(now)
            return [WatchdogAction.SEND_DWR]
        return []

    @property
    def is_okay(self) -> bool:
        return self.state is WatchdogState.OKAY
