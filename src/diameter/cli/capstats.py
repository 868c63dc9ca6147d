"""``diameter decode --stats``: counts, latency percentiles, unanswered requests.

Requests and answers are matched per connection on (Hop-by-Hop, End-to-End)
identifiers; latency is from the first copy of a request to its answer, so a
retransmitted request counts once, plus a retransmission.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .capture import CaptureCounters, CapturedMessage
from .summary import CC_REQUEST_TYPES, Summary

__all__ = ["CaptureStats", "percentiles"]

_QUANTILES = (50, 90, 95, 99)


def percentiles(values: list[float]) -> dict[str, float]:
    """count, min, avg, p50/p90/p95/p99 (nearest rank) and max of ``values``."""
    if not values:
        return {"count": 0}
    v = sorted(values)
    out: dict[str, float] = {"count": len(v), "min": v[0], "avg": sum(v) / len(v)}
    for q in _QUANTILES:
        out[f"p{q}"] = v[max(0, math.ceil(q / 100 * len(v)) - 1)]
    out["max"] = v[-1]
    return out


@dataclass
class _Pending:
    time: float
    frame: int
    summary: Summary
    counted: bool = True
    copies: int = 1


@dataclass
class CaptureStats:
    """Accumulates what ``--stats`` reports; feed messages in capture order."""
    requests: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    result_codes: Counter[int] = field(default_factory=Counter)
    result_by_command: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    retransmissions: Counter[str] = field(default_factory=Counter)
    orphan_answers: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    pending: dict[tuple[Any, ...], _Pending] = field(default_factory=dict)
    first_time: float | None = None
    last_time: float | None = None

    def add(self, m: CapturedMessage, s: Summary, count: bool = True) -> float | None:
        """Pair and (with ``count``) count one message; returns the latency (s) when it
        answers a seen request. Messages a filter hides are added with ``count=False``
        so their answers still find them."""
        name = s.command_name
        if count:
            self.first_time = m.time if self.first_time is None else self.first_time
            self.last_time = m.time
        if s.request:
            key = (*m.flow, s.hop_by_hop, s.end_to_end)
            duplicate = key in self.pending
            if count:
                self.requests[name] += 1
                if duplicate or s.retransmit:
                    self.retransmissions[name] += 1
            if duplicate:
                self.pending[key].copies += 1
            else:
                self.pending[key] = _Pending(m.time, m.frame, s, counted=count)
            return None
        if count:
            self.answers[name] += 1
            if s.result_code is not None:
                self.result_codes[s.result_code] += 1
                self.result_by_command[name][s.result_code] += 1
        req = self.pending.pop((m.dst, m.dport, m.src, m.sport, s.hop_by_hop, s.end_to_end), None)
        if req is None:
            if count:
                self.orphan_answers[name] += 1
            return None
        latency = m.time - req.time
        if count:
            self.latency[name].append(latency)
            if req.summary.cc_request_type in CC_REQUEST_TYPES:
                self.latency[req.summary.label].append(latency)
            if s.result_code is not None:
                self.latency[f"{name} {s.result_code}"].append(latency)
        return latency

    def as_dict(self, counters: CaptureCounters | None = None) -> dict[str, Any]:
        left = [p for p in self.pending.values() if p.counted]
        unanswered = Counter(p.summary.command_name for p in left)
        out: dict[str, Any] = {
            "messages": sum(self.requests.values()) + sum(self.answers.values()),
            "duration_s": (self.last_time or 0) - (self.first_time or 0),
            "requests": dict(self.requests), "answers": dict(self.answers),
            "result_codes": {str(k): v for k, v in sorted(self.result_codes.items())},
            "result_codes_by_command": {c: {str(k): v for k, v in sorted(r.items())}
                                        for c, r in self.result_by_command.items()},
            "latency_ms": {k: {n: (x * 1000 if n != "count" else x)
                               for n, x in percentiles(v).items()}
                           for k, v in sorted(self.latency.items())},
            "unanswered": dict(unanswered),
            "unanswered_requests": [{"frame": p.frame, "command": p.summary.label,
                                     "session_id": p.summary.session_id,
                                     "hop_by_hop": p.summary.hop_by_hop}
                                    for p in left[:100]],
            "retransmissions": dict(self.retransmissions),
            "answers_without_request": dict(self.orphan_answers),
            "undecodable": self.undecodable,
        }
        if counters is not None:
            out["capture"] = {k: v for k, v in vars(counters).items() if k != "notes"}
            out["capture"]["notes"] = list(counters.notes)
        return out

    def render(self, counters: CaptureCounters | None = None) -> str:
        d = self.as_dict(counters)
        lines = [f"Messages: {d['messages']} over {d['duration_s']:.3f} s"]
        lines.append("")
        lines.append(f"{'Command':<34}{'requests':>9}{'answers':>9}{'unanswered':>11}"
                     f"{'retrans':>9}")
        for c in sorted(set(d["requests"]) | set(d["answers"])):
            lines.append(f"{c:<34}{d['requests'].get(c, 0):>9}{d['answers'].get(c, 0):>9}"
                         f"{d['unanswered'].get(c, 0):>11}{d['retransmissions'].get(c, 0):>9}")
        lines.append("")
        lines.append("Result-Code")
        for c, r in d["result_codes_by_command"].items():
            for code, n in r.items():
                lines.append(f"  {c:<32}{code:>8}{n:>9}")
        lines.append("")
        lines.append(f"{'Latency (ms)':<34}{'count':>7}" + "".join(
            f"{h:>9}" for h in ("min", "avg", "p50", "p90", "p95", "p99", "max")))
        for k, p in d["latency_ms"].items():
            lines.append(f"{k:<34}{p['count']:>7}" + "".join(
                f"{p[h]:>9.3f}" for h in ("min", "avg", "p50", "p90", "p95", "p99", "max")))
        if d["unanswered_requests"]:
            lines.append("")
            lines.append("Unanswered requests")
            for u in d["unanswered_requests"]:
                lines.append(f"  frame {u['frame']:<7} {u['command']:<8} hbh=0x{u['hop_by_hop']:08x}"
                             f" {u['session_id'] or ''}")
        if counters is not None:
            c = d["capture"]
            lines.append("")
            lines.append(f"Capture: {c['frames']} frames, {c['tcp_retransmissions']} TCP "
                         f"retransmissions, {c['tcp_out_of_order']} out-of-order segments, "
                         f"{c['tcp_gaps']} gaps, {c['sctp_duplicates']} duplicate SCTP chunks, "
                         f"{c['skipped_bytes']} bytes not Diameter")
            lines += [f"  note: {n}" for n in c["notes"]]
        if d["undecodable"]:
            lines.append(f"Undecodable messages: {d['undecodable']}")
        return "\n".join(lines)
