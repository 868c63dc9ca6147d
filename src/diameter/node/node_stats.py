"""python-diameter's ``NodeStats``: the threaded ``Node``'s statistics summed over its peers."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .aio.peer import PeerInfo
from .aio.stats import command_name

__all__ = ["NodeStats", "summed_stats"]


@dataclasses.dataclass
class NodeStats:
    """A snapshot of statistics summed over all peers."""

    avg_response_time: dict[str, float]
    avg_response_time_overall: float
    processed_req_per_second: dict[str, float]
    processed_req_per_second_overall: float
    received_req_counters: list[int]
    sent_result_code_range_counters: dict[str, list[int]]


def summed_stats(peers: Iterable[PeerInfo]) -> NodeStats:
    """Averages and counts summed over ``peers`` (their connections' statistics)."""
    proc: dict[str, list[float]] = {}
    received = [0, 0, 0]
    results: dict[str, list[int]] = {}
    for info in peers:
        for code, cs in info.stats.commands.items():
            if cs.processing:
                proc.setdefault(command_name(code), []).extend(cs.processing)
        received = [a + b for a, b in zip(received, info.stats.received_per_minute.windows())]
        for cls, counter in info.stats.sent_results_per_minute.items():
            results[cls] = [a + b for a, b in zip(results.get(cls, [0, 0, 0]), counter.windows())]
    every = [t for ts in proc.values() for t in ts]
    return NodeStats(
        avg_response_time={k: sum(v) / len(v) for k, v in proc.items()},
        avg_response_time_overall=sum(every) / len(every) if every else 0.0,
        processed_req_per_second={k: len(v) / max(sum(v), 1e-9) for k, v in proc.items()},
        processed_req_per_second_overall=len(every) / max(sum(every), 1e-9) if every else 0.0,
        received_req_counters=received,
        sent_result_code_range_counters=results)
