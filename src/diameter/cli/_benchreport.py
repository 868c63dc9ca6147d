"""What ``diameter bench`` prints: summary, latency histogram, Result-Codes, JSON, PNG plot."""
from __future__ import annotations

import math
from typing import Any

from ._load import Recorder

__all__ = ["summary", "render", "histogram", "plot"]

_QUANTILES = (50, 90, 95, 99, 99.9)
_RESULT_NAMES = {2001: "DIAMETER_SUCCESS", 3002: "DIAMETER_UNABLE_TO_DELIVER",
                 3004: "DIAMETER_TOO_BUSY", 4012: "DIAMETER_CREDIT_LIMIT_REACHED",
                 5012: "DIAMETER_UNABLE_TO_COMPLY", 5030: "DIAMETER_USER_UNKNOWN",
                 -1: "(no Result-Code)"}


def _pct(v: list[float], q: float) -> float:
    return v[max(0, math.ceil(q / 100 * len(v)) - 1)] if v else 0.0


def histogram(latencies: list[float], buckets: int = 12) -> list[dict[str, Any]]:
    """Counts per logarithmic latency bucket (ms upper bounds)."""
    if not latencies:
        return []
    lo = max(min(latencies) * 1000, 0.01)
    hi = max(max(latencies) * 1000, lo * 1.01)
    ratio = (hi / lo) ** (1 / buckets)
    edges = [lo * ratio ** (i + 1) for i in range(buckets)]
    counts = [0] * buckets
    for x in latencies:
        ms = x * 1000
        i = min(buckets - 1, max(0, int(math.log(ms / lo, ratio)) if ms > lo else 0))
        counts[i] += 1
    return [{"le_ms": round(e, 3), "count": c} for e, c in zip(edges, counts)]


def summary(rec: Recorder, spec: Any, scenario: str, connections: int) -> dict[str, Any]:
    v = sorted(rec.latencies)
    seconds = rec.send_seconds or (rec.end - rec.start)
    return {
        "scenario": scenario, "model": "open" if spec.rate else "closed",
        "target_rate": spec.rate, "concurrency": None if spec.rate else spec.concurrency,
        "connections": connections, "seconds": round(seconds, 3),
        "sent": rec.sent, "answered": rec.answered, "errors": rec.errors,
        "timeouts": rec.timeouts, "failed": rec.failed,
        "rate": round(rec.answered_while_sending / seconds, 1) if seconds else 0.0,
        "latency_ms": {"min": round(v[0] * 1000, 3) if v else 0.0,
                       "avg": round(sum(v) / len(v) * 1000, 3) if v else 0.0,
                       **{f"p{q:g}": round(_pct(v, q) * 1000, 3) for q in _QUANTILES},
                       "max": round(v[-1] * 1000, 3) if v else 0.0},
        "histogram": histogram(v),
        "result_codes": {str(k): n for k, n in sorted(rec.result_counts().items())},
        "cpu_us_per_answer": round(rec.cpu_seconds / rec.answered * 1e6, 2) if rec.answered
        else None,
        "series": rec.series,
    }


def render(s: dict[str, Any]) -> str:
    lat = s["latency_ms"]
    model = (f"open model, target {s['target_rate']:g}/s" if s["model"] == "open"
             else f"closed model, {s['concurrency']} in flight")
    lines = [f"{s['scenario']}: {model}, {s['connections']} connection(s), {s['seconds']:.2f} s",
             f"  sent {s['sent']}, answered {s['answered']}, errors {s['errors']}, "
             f"timeouts {s['timeouts']}, failed {s['failed']}",
             f"  rate {s['rate']:.1f} answers/s, {s['cpu_us_per_answer']} us CPU per answer",
             "  latency ms  " + "  ".join(f"{k} {v:.3f}" for k, v in lat.items()), "",
             "  latency histogram (ms)"]
    peak = max((b["count"] for b in s["histogram"]), default=0) or 1
    for b in s["histogram"]:
        bar = "#" * max(1 if b["count"] else 0, round(40 * b["count"] / peak))
        lines.append(f"    <= {b['le_ms']:>10.3f} {b['count']:>9} {bar}")
    lines += ["", "  Result-Code"]
    for code, n in s["result_codes"].items():
        lines.append(f"    {code:>6} {_RESULT_NAMES.get(int(code), ''):<32}{n:>9}")
    return "\n".join(lines)


def plot(s: dict[str, Any], path: str) -> None:
    """Rate and p99 latency over time, to a PNG (matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    series = s["series"]
    t = [x[0] for x in series]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    ax1.plot(t, [x[1] for x in series], label="answers/s")
    ax1.plot(t, [x[2] for x in series], label="errors/s", color="red")
    ax1.set_ylabel("per second")
    ax1.legend(loc="upper left")
    ax2.plot(t, [x[3] for x in series], color="purple")
    ax2.set_ylabel("p99 latency (ms)")
    ax2.set_xlabel("seconds")
    fig.suptitle(f"diameter bench: {s['scenario']}, {s['rate']:.0f} answers/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
