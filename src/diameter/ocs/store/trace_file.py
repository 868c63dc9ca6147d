"""What the batch traces (`sqlite_trace`, `pg_trace`) share: the file an environment
variable names, its JSON lines (one per batch), and the summaries' statistics."""

from __future__ import annotations

import json
import os
from typing import Any


def path(env: str) -> str | None:
    """The trace file named by the environment variable `env`, or None (tracing off)."""
    return os.environ.get(env) or None


def append(file: str, records: list[dict[str, Any]]) -> None:
    """Add one JSON line per record to `file`."""
    with open(file, "a") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")


def read(file: str) -> list[dict[str, Any]]:
    """The records of a trace file."""
    with open(file) as f:
        return [json.loads(x) for x in f if x.strip()]


def pct(vals: list[Any], q: float) -> Any:
    """The `q` quantile of `vals` (the value at that rank, not interpolated)."""
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(len(vals) * q))]


def ms(name: str, vals: list[float], width: int, p99: bool = False) -> str:
    """One summary line: mean, p50, p90 (and p99), max of `vals` seconds, in ms."""
    return (f"  {name:{width}s} mean {sum(vals) / len(vals) * 1e3:6.3f}  p50 {pct(vals, 0.5) * 1e3:6.3f}"
            f"  p90 {pct(vals, 0.9) * 1e3:6.3f}" + (f"  p99 {pct(vals, 0.99) * 1e3:6.3f}" if p99 else "")
            + f"  max {max(vals) * 1e3:6.3f} ms")
