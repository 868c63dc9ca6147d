"""A timeline per batch of PostgreSQL's group commit (`pg_batch`), for finding where a
request's time goes (off by default).

``DIAMETER_PG_TRACE=FILE`` in the environment of the process that opens the storage turns
it on: each batch gets one JSON line in FILE, written when the storage closes, with times in
seconds of ``time.time()`` (the clock of the units' ``now``, taken as each request began):

* ``n``: its units; ``take``: when the committer took them from the queue; ``wait``: how
  long they had been waiting then, on average (``take`` - their ``now``), ``oldest``: the
  longest; ``flying``: batches in the database then (this one not counted); ``left``: units
  left queued;
* ``decided``: the cache had what it needed (one LOAD if not) and the units were decided;
  ``returned``: WRITE's reply came back (the writer process's encoding, the statement, its
  commit and the reply's way back); ``answered``: the batch's units were answered;
  ``ages``: for each unit answered, ``answered`` - its ``now``.

``python bench/ocs.py --db postgres --pg-trace FILE`` sets it for the server and prints
`summary` of the file.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from . import trace_file

ENV = "DIAMETER_PG_TRACE"
now = time.time


def path() -> str | None:
    """The trace file named by the environment, or None (tracing off)."""
    return trace_file.path(ENV)


class Trace:
    """The committer's records, one dict per batch."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.batches: list[dict[str, Any]] = []

    def taken(self, batch: list[Any], flying: int, left: int) -> dict[str, Any]:
        t = now()
        ages = [t - u.now for u in batch]
        rec = {"n": len(batch), "take": t, "wait": sum(ages) / len(ages) if ages else 0.0,
               "oldest": max(ages, default=0.0), "flying": flying, "left": left}
        self.batches.append(rec)
        return rec

    @staticmethod
    def answered(rec: dict[str, Any], batch: list[Any]) -> None:
        t = rec["answered"] = now()
        rec["ages"] = [t - u.now for u in batch if u.fut.done()]

    def write(self) -> None:
        trace_file.append(self.file, self.batches)
        self.batches = []


def summary(lines: list[dict[str, Any]]) -> str:
    """What a file's timelines say: batch sizes, overlap, where a unit's time goes."""
    recs = [r for r in lines if "returned" in r and "answered" in r]
    if not recs:
        return "no batch traced"

    def ms(name: str, vals: list[float]) -> str:
        return trace_file.ms(name, vals, 38, p99=True)

    sizes = [r["n"] for r in recs]
    span = recs[-1]["answered"] - recs[0]["take"]
    flying = ", ".join(f"{k}: {sum(1 for r in recs if r['flying'] == k)}" for k in range(3))
    ages = [a for r in recs for a in r["ages"]]
    # time with 0, 1, 2 batches in the database (take -> returned)
    events = sorted([(r["take"], 1) for r in recs] + [(r["returned"], -1) for r in recs])
    shares = [0.0, 0.0, 0.0]
    depth, last = 0, events[0][0]
    for t, d in events:
        shares[min(depth, 2)] += t - last
        depth, last = depth + d, t
    total = sum(shares) or 1.0
    return "\n".join([
        f"{len(recs)} batches over {span:.3f} s, units per batch mean {sum(sizes) / len(sizes):.1f}"
        f" p50 {trace_file.pct(sizes, 0.5)} max {max(sizes)}; batches in the database when one was taken: {flying};"
        f" time with 0 / 1 / 2 batches out: {shares[0] / total * 100:.0f} / {shares[1] / total * 100:.0f}"
        f" / {shares[2] / total * 100:.0f} %",
        ms("unit began -> its batch taken (mean)", [r["wait"] for r in recs]),
        ms("  the batch's oldest unit", [r["oldest"] for r in recs]),
        ms("taken -> decided (LOAD, deciding)", [r["decided"] - r["take"] for r in recs]),
        ms("decided -> WRITE returned", [r["returned"] - r["decided"] for r in recs]),
        ms("returned -> answered", [r["answered"] - r["returned"] for r in recs]),
        ms("unit began -> answered (per unit)", ages),
    ])


def main(argv: list[str]) -> None:
    print(summary(trace_file.read(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
