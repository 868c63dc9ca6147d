"""Per-peer and per-command counters, result-code classes and latency percentiles."""
from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field


def command_name(code: int) -> str:
    """python-diameter's name for a command code (e.g. 272 -> "Credit-Control")."""
    try:
        from ...message.commands import all_commands
        cls = all_commands.get(code)
        if cls is not None:
            return cls.name
    except ImportError:
        pass
    return str(code)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


@dataclass
class CommandStats:
    requests_sent: int = 0
    requests_received: int = 0
    answers_sent: int = 0
    answers_received: int = 0
    timeouts: int = 0
    #: answers received, by result class ("2xxx", ...)
    result_classes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: answers sent, by result class
    sent_result_classes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies: deque = field(default_factory=lambda: deque(maxlen=8192))
    #: seconds from receiving a request to sending its answer (this node as server)
    processing: deque = field(default_factory=lambda: deque(maxlen=1024))

    def latency_percentiles(self, *qs: float) -> list[float]:
        s = sorted(self.latencies)
        return [percentile(s, q) for q in (qs or (50, 90, 99))]


_CLASSES = tuple(f"{i}xxx" for i in range(10))


def result_class(result: int) -> str:
    """"2xxx" for 2001 and so on."""
    i = result // 1000
    return _CLASSES[i] if 0 <= i < 10 else f"{i}xxx"


class MinuteCounter:
    """Counts per minute for the last 15 minutes (python-diameter's 1/5/15-minute counters)."""

    __slots__ = ("_buckets", "_minute", "_until", "_n")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._minute = 0  # the minute _n counts
        self._until = 0.0  # when that minute ends
        self._n = 0

    def add(self, n: int = 1) -> None:
        if time.monotonic() < self._until:
            self._n += n
            return
        self._roll()
        self._n += n

    def _roll(self) -> None:
        """Store the finished minute's count and start counting the current one."""
        t = time.monotonic()
        b = self._buckets
        if self._n:
            b[self._minute] = b.get(self._minute, 0) + self._n
        self._n = 0
        m = self._minute = int(t // 60)
        self._until = (m + 1) * 60.0
        if len(b) > 16:
            for k in [k for k in b if k <= m - 15]:
                del b[k]

    def last(self, minutes: int) -> int:
        m = int(time.monotonic() // 60)
        cur = self._n if self._minute > m - minutes else 0
        return cur + sum(v for k, v in self._buckets.items() if k > m - minutes)

    def windows(self) -> list[int]:
        return [self.last(1), self.last(5), self.last(15)]


class PeerStats:
    """Counters for one peer, split by command code."""

    def __init__(self) -> None:
        self.commands: dict[int, CommandStats] = defaultdict(CommandStats)
        self.connects = 0
        self.disconnects = 0
        self.failovers = 0
        self.bytes_in = 0
        self.bytes_out = 0
        #: requests received, per minute
        self.received_per_minute = MinuteCounter()
        #: answers sent per minute, by result class
        self.sent_results_per_minute: dict[str, MinuteCounter] = defaultdict(MinuteCounter)

    def cmd(self, code: int) -> CommandStats:
        return self.commands[code]

    def add_sent_result(self, code: int, result: int | None) -> None:
        if result is not None:
            self.commands[code].sent_result_classes[result_class(result)] += 1

    def totals(self) -> CommandStats:
        t = CommandStats()
        for c in self.commands.values():
            t.requests_sent += c.requests_sent
            t.requests_received += c.requests_received
            t.answers_sent += c.answers_sent
            t.answers_received += c.answers_received
            t.timeouts += c.timeouts
            for k, v in c.result_classes.items():
                t.result_classes[k] += v
            t.latencies.extend(c.latencies)
        return t

    # ---- python-diameter PeerStats view -------------------------------------
    @property
    def avg_response_time(self) -> dict[str, float]:
        """Average time to answer each received request type, by command name."""
        return {command_name(c): sum(cs.processing) / len(cs.processing)
                for c, cs in self.commands.items() if cs.processing}

    @property
    def avg_response_time_overall(self) -> float:
        times = [t for cs in self.commands.values() for t in cs.processing]
        return sum(times) / len(times) if times else 0.0

    @property
    def processed_req_per_second(self) -> dict[str, float]:
        """Requests answered per second of processing time, by command name."""
        return {command_name(c): len(cs.processing) / max(sum(cs.processing), 1e-9)
                for c, cs in self.commands.items() if cs.processing}

    @property
    def processed_req_per_second_overall(self) -> float:
        times = [t for cs in self.commands.values() for t in cs.processing]
        return len(times) / max(sum(times), 1e-9) if times else 0.0
