"""The load engine of ``diameter bench``: open and closed models over callback-driven
connections (no task or future per request).

Closed model: ``concurrency`` sessions are active at any time, each sends its
next request when the previous answer arrives. Open model: sessions start at a
rate (Poisson or uniform arrivals) so that requests arrive at ``rate`` per
second whatever the latency. Every answer's latency and Result-Code go to a
:class:`Recorder`.
"""
from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._scenarios import Scenario, Session, result_code

__all__ = ["Recorder", "LoadSpec", "run_load"]


@dataclass
class Recorder:
    """Latencies (s), Result-Codes, errors and per-second series of one run."""
    start: float = field(default_factory=time.perf_counter)
    latencies: list[float] = field(default_factory=list)
    results: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    success: int = 0  # answers with 2001 (counted apart from ``results``: the common case)
    cpu_seconds: float = 0.0  # this process's CPU time during the run
    timeouts: int = 0
    failed: int = 0  # connection lost before the answer
    errors: int = 0  # answers outside 2xxx
    series: list[list[float]] = field(default_factory=list)  # [t, answers, errors, p99 ms]
    end: float = 0.0
    send_seconds: float = 0.0  # time spent sending (start to the end of the duration/count)
    answered_while_sending: int = 0
    _window_from: int = 0  # index in ``latencies`` where the current second starts
    _window_errors: int = 0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def answer(self, latency: float, rc: int | None) -> None:
        self.latencies.append(latency)
        if rc == 2001:
            self.success += 1
            return
        self.results[rc if rc is not None else -1] += 1
        if rc is None or not 2000 <= rc < 3000:
            self.errors += 1
            self._window_errors += 1

    def result_counts(self) -> Counter[int]:
        out = Counter(self.results)
        if self.success:
            out[2001] += self.success
        return out

    def tick(self, now: float) -> None:
        """Close a one-second bucket of the time series."""
        w = sorted(self.latencies[self._window_from:])
        p99 = w[max(0, int(len(w) * 0.99) - 1)] * 1000 if w else 0.0
        self.series.append([round(now - self.start, 3), len(w), self._window_errors, p99])
        self._window_from, self._window_errors = len(self.latencies), 0

    @property
    def window_open(self) -> bool:
        """Whether answers came since the last :meth:`tick`."""
        return len(self.latencies) > self._window_from


@dataclass
class LoadSpec:
    rate: float | None = None  # open model: requests/s
    concurrency: int = 100  # closed model: sessions in flight
    duration: float | None = 10.0
    count: int | None = None
    arrival: str = "poisson"
    timeout: float = 5.0
    think: float = 0.0  # seconds between a session's answer and its next request


async def run_load(conns: list[Any], scenario: Scenario, spec: LoadSpec,
                   progress: Any = None) -> Recorder:
    """Drive ``conns`` with ``scenario`` until the duration or count is reached.

    The garbage collector is paused meanwhile (the run allocates only short-lived
    objects; pausing it saves a few percent of CPU per request)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    cpu0 = time.process_time()
    try:
        rec = await _run_load(conns, scenario, spec, progress)
        rec.cpu_seconds = time.process_time() - cpu0
        return rec
    finally:
        if gc_was_enabled:
            gc.enable()


async def _run_load(conns: list[Any], scenario: Scenario, spec: LoadSpec,
                    progress: Any) -> Recorder:
    rec = Recorder()
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    state = {"active": 0, "stopping": False, "conn": 0}
    deadline = rec.start + spec.duration if spec.duration else float("inf")

    def stop_sending() -> None:
        if not state["stopping"]:
            state["stopping"] = True
            rec.send_seconds = time.perf_counter() - rec.start
            rec.answered_while_sending = rec.answered

    def can_send() -> bool:
        if state["stopping"]:
            return False
        if spec.count is not None and rec.sent >= spec.count:
            stop_sending()
            return False
        return True

    def end_session() -> None:
        state["active"] -= 1
        if spec.rate is None and can_send():
            start_session()
        elif state["stopping"] and state["active"] == 0 and not finished.done():
            finished.set_result(None)

    def send_next(s: Session) -> None:
        req = scenario.next_request(s) if can_send() else None
        if req is None:
            end_session()
            return
        rec.sent += 1

        def on_answer(msg: bytes | None, latency: float) -> None:
            if msg is None:
                if latency >= spec.timeout:
                    rec.timeouts += 1
                else:
                    rec.failed += 1
                end_session()
                return
            rc = result_code(msg)
            rec.answer(latency, rc)
            scenario.on_answer(s, msg, rc)
            if s.done:
                end_session()
            elif spec.think:
                # the next request after the think time, but before the grant's
                # Validity-Time runs out
                delay = min(spec.think, s.validity * 0.9) if s.validity else spec.think
                loop.call_later(delay, send_next, s)
            else:
                send_next(s)

        s.conn.send_cb(req, on_answer)

    def start_session() -> None:
        s = scenario.new_session()
        s.conn = conns[state["conn"] % len(conns)]
        state["conn"] += 1
        state["active"] += 1
        send_next(s)

    if spec.rate is None:
        for _ in range(spec.concurrency):
            start_session()
    rng = random.Random(7)
    session_rate = (spec.rate or 0) / max(scenario.per_session, 1e-9)
    next_arrival = rec.start
    next_second = rec.start + 1.0
    next_expire = rec.start + 0.1
    while True:
        now = time.perf_counter()
        if now >= deadline:
            stop_sending()
        if spec.rate is not None and not state["stopping"]:
            while next_arrival <= now and can_send():
                start_session()
                gap = (rng.expovariate(session_rate) if spec.arrival == "poisson"
                       else 1.0 / session_rate)
                next_arrival += gap
        if now >= next_second:
            rec.tick(now)
            next_second += 1.0
            if progress is not None:
                progress(rec, now)
        if now >= next_expire:
            for c in conns:
                c.expire(now - spec.timeout)
            next_expire = now + 0.1
        if state["stopping"] and state["active"] == 0:
            break
        if state["stopping"]:
            try:
                await asyncio.wait_for(asyncio.shield(finished), 0.1)
            except asyncio.TimeoutError:
                pass
            if time.perf_counter() > deadline + spec.timeout + 1:
                break
            continue
        await asyncio.sleep(0.001 if spec.rate is not None else 0.05)
    rec.end = time.perf_counter()
    if rec.window_open:
        rec.tick(rec.end)
    return rec
