"""Per-peer and per-command counters, result-code classes and latency percentiles.

Compiled with the node core (setup.py's ``NODE_COMPILED_MODULES``): the classes are native
then, and the per-request counting (:func:`request_sent`, :func:`answer_received`,
:func:`request_received`, :func:`local_answer`) reads and writes their fields directly, one
call per request and side instead of a dozen interpreted attribute reads and dict look-ups.
``diameter.node.aio.stats`` is their public home.
"""
from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Final

from ...codec.typed_encode import message_bytes
from .dedup import DuplicateCache
from .inbound import CLASSES, complete, received_class, result_class, result_code

_monotonic: Final = time.monotonic
_perf_counter: Final = time.perf_counter
#: ``time.perf_counter`` is ``time.monotonic``'s clock (Linux): a request's processing time
#: and its per-minute counters read one clock call, not one of each
ONE_CLOCK: Final = time.get_clock_info("perf_counter").implementation == \
    time.get_clock_info("monotonic").implementation


def command_name(code: int) -> str:
    """python-diameter's name for a command code (e.g. 272 -> "Credit-Control")."""
    try:
        from ...message.commands import all_commands
        registry: Any = all_commands   # its own get (classes loaded on demand), not dict.get
        cls = registry.get(code)
        if cls is not None:
            return str(cls.name)
    except ImportError:
        pass
    return str(code)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def _classes() -> dict[str, int]:
    return defaultdict(int)


def _latencies() -> deque[float]:
    return deque(maxlen=8192)


def _processing() -> deque[float]:
    return deque(maxlen=1024)


@dataclass
class CommandStats:
    requests_sent: int = 0
    requests_received: int = 0
    answers_sent: int = 0
    answers_received: int = 0
    timeouts: int = 0
    #: answers received, by result class ("2xxx", ...)
    result_classes: dict[str, int] = field(default_factory=_classes)
    #: answers sent, by result class
    sent_result_classes: dict[str, int] = field(default_factory=_classes)
    latencies: deque[float] = field(default_factory=_latencies)
    #: seconds from receiving a request to sending its answer (this node as server)
    processing: deque[float] = field(default_factory=_processing)

    def latency_percentiles(self, *qs: float) -> list[float]:
        s = sorted(self.latencies)
        return [percentile(s, q) for q in (qs or (50, 90, 99))]


class MinuteCounter:
    """Counts per minute for the last 15 minutes (python-diameter's 1/5/15-minute counters)."""

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._minute = 0  # the minute _n counts
        self._until = 0.0  # when that minute ends
        self._n = 0

    def add(self, n: int = 1) -> None:
        if _monotonic() < self._until:
            self._n += n
            return
        self._roll()
        self._n += n

    def _roll(self) -> None:
        """Store the finished minute's count and start counting the current one."""
        t = _monotonic()
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
        m = int(_monotonic() // 60)
        cur = self._n if self._minute > m - minutes else 0
        return cur + sum(v for k, v in self._buckets.items() if k > m - minutes)

    def windows(self) -> list[int]:
        return [self.last(1), self.last(5), self.last(15)]


def _commands() -> dict[int, CommandStats]:
    return defaultdict(CommandStats)


def _minute_counters() -> dict[str, MinuteCounter]:
    return defaultdict(MinuteCounter)


class PeerStats:
    """Counters for one peer, split by command code."""

    def __init__(self) -> None:
        self.commands: dict[int, CommandStats] = _commands()
        self.connects = 0
        self.disconnects = 0
        self.failovers = 0
        self.bytes_in = 0
        self.bytes_out = 0
        #: requests received, per minute
        self.received_per_minute = MinuteCounter()
        #: answers sent per minute, by result class
        self.sent_results_per_minute: dict[str, MinuteCounter] = _minute_counters()

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


# ---- the per-request counting (``command``: Any, so that a compiled call does not re-box it)

def request_sent(stats: PeerStats, command: Any) -> None:
    """A request written to the peer."""
    stats.commands[command].requests_sent += 1


def answer_received(stats: PeerStats, command: Any, latency: float, data: bytes) -> None:
    """An answer from the peer to one of this node's requests: counted, its latency and its
    Result-Code's class (none: not counted in a class) recorded."""
    cs = stats.commands[command]
    cs.answers_received += 1
    cs.latencies.append(latency)
    cls = received_class(data)
    if cls is not None:
        cs.result_classes[cls] += 1


def request_received(stats: PeerStats, command: Any) -> float:
    """A request from the peer, counted in its command and the per-minute counter; returns the
    start of its processing time (``time.perf_counter()``: ``time.monotonic()``, read once for
    both, when that is the same clock, :data:`ONE_CLOCK`)."""
    stats.commands[command].requests_received += 1
    mono: float = _monotonic()
    rpm = stats.received_per_minute
    if mono < rpm._until:
        rpm._n += 1
    else:
        rpm.add()
    return mono if ONE_CLOCK else _perf_counter()


def local_answer(dedup: DuplicateCache, host: bytes, data: bytes, ans: Any, now: float,
                 send_copy: Callable[[Any, bytearray], object], stats: PeerStats, command: Any, t_in: float,
                 check: Callable[[bytes, str], object], peer: Any) -> bytes | None:
    """The handler's answer ``ans`` (bytes, a bytearray, or a message: encoded here with its
    ``as_bytes()``) to the local request ``data`` from ``host``; None, with nothing done, when it
    is not a message (it does not encode, or is shorter than a header: the caller's general
    path answers it). Completed and cached as :func:`~.inbound.answered` does, and counted: its
    command's answers, processing time from ``t_in`` (:func:`request_received`'s),
    Result-Code class and per-minute counter; an answer without a Result-Code is counted
    without a class and given to ``check(out, peer.identity)``. Returns the answer to send."""
    raw: Any
    if type(ans) is bytes:
        raw = ans
    else:
        try:
            raw = message_bytes(ans) if not isinstance(ans, bytearray) else ans   # (as_bytes())
            if type(raw) is not bytes:
                raw = bytes(raw)
        except Exception:  # noqa: BLE001 - the caller's general path logs it and answers 5012
            return None
    if len(raw) < 20:
        return None
    out = complete(dedup, host, data, raw, now, send_copy)
    cs = stats.commands[command]
    cs.answers_sent += 1
    t_out: float = _monotonic()
    cs.processing.append((t_out if ONE_CLOCK else _perf_counter()) - t_in)
    rc = result_code(out)
    if rc < 0:
        check(out, peer.identity)
        return out
    cls = CLASSES[rc // 1000] if rc < 10000 else result_class(rc)
    cs.sent_result_classes[cls] += 1
    mc = stats.sent_results_per_minute[cls]
    if t_out < mc._until:
        mc._n += 1
    else:
        mc.add()
    return out


def result_counted(stats: PeerStats, cs: CommandStats, rc: int) -> None:
    """Count a sent answer's Result-Code ``rc`` in its class and in the per-minute counter."""
    cls = CLASSES[rc // 1000] if 0 <= rc < 10000 else result_class(rc)
    cs.sent_result_classes[cls] += 1
    stats.sent_results_per_minute[cls].add()
