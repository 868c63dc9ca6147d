"""A timeline per batch of the SQLite pipeline, for finding its bubbles (off by default).

``DIAMETER_SQLITE_TRACE=FILE`` in the environment of the process that opens the storage
(the writer process inherits it) turns it on: each batch with the writer process gets one
JSON line in FILE, written when the storage closes, with times in seconds of the
system's monotonic clock (``time.monotonic()``, the same in both processes):

* ``first``, ``mean_wait``: when its first unit was queued, and how long its units
  waited on average before the batch was shipped; ``n``: its units;
* ``decide``, ``ship``, ``sent``: when the event loop began deciding it, when it began
  sending it, and when the message was written to the socket;
  ``flights``: batches already with the writer then; ``left``: units left queued;
* ``w``: the writer's times (``read``: its socket read that brought the batch, ``begin``:
  it started on it, ``begun``: BEGIN IMMEDIATE and the version check done, ``written``:
  the rows written, ``committed``: COMMIT returned, ``sync`` and ``synced``: the WAL's
  sync that covers it began and returned, ``sending``: its sync thread began sending the
  reply, see :mod:`.sqlite_sync`);
* ``reply``: the reply read on the event loop; ``settle``, ``answered``: the committer
  began answering its units, and was done.

``python bench/ocs.py --db sqlite --sqlite-trace FILE`` sets it for the server and prints
`summary` of the file.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from . import trace_file

ENV = "DIAMETER_SQLITE_TRACE"
now = time.monotonic


def path() -> str | None:
    """The trace file named by the environment, or None (tracing off)."""
    return trace_file.path(ENV)


class Trace:
    """The event loop's records (one dict per batch shipped)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.queued: dict[Any, float] = {}  # when each unit not yet shipped was queued
        self.batches: list[dict[str, Any]] = []
        self.flying: collections.deque[dict[str, Any]] = collections.deque()  # shipped, not answered

    @classmethod
    def start(cls, store: Any, file: str) -> Trace:
        """Trace an open `SqliteStorage`: the units' queueing times are taken by an instance
        attribute in place of its `submit_unit` (its class's method runs as it is when off)."""
        from .sqlite_link import WriterProcess
        trace = cls(file)
        queued, plain = trace.queued, store.submit_unit

        def submit_unit(unit: Any) -> None:
            plain(unit)
            queued[unit] = now()
        store.submit_unit = submit_unit
        if isinstance(store._writer, WriterProcess):
            store._writer.reply_at = {}
        return trace

    def shipped(self, units: list[Any], decide: float, flights: int, left: int) -> None:
        """A batch of these units is sent now (decided from `decide` on)."""
        t = now()
        n = len(units)
        times = [self.queued.pop(u, t) for u in units]
        rec = {"n": n, "first": times[0] if times else t,
               "mean_wait": (t - sum(times) / n) if n else 0.0,
               "decide": decide, "ship": t, "flights": flights, "left": left}
        self.batches.append(rec)
        self.flying.append(rec)

    def sent(self) -> None:
        """The batch just shipped was handed to the socket (marshalled and sent)."""
        if self.flying:
            self.flying[-1]["sent"] = now()

    def answered(self, store: Any, fut: Any, batch: list[Any], values: list[Any], detail: Any) -> None:
        """Answer the first batch in flight (``store._done``), timed; `detail`: its reply's."""
        rec = self.flying.popleft() if self.flying else {}
        rec["settle"] = now()
        reply_at = getattr(store._writer, "reply_at", None)
        if reply_at is not None:
            rec["reply"] = reply_at.pop(fut, rec["settle"])
        store._done(batch, values)
        rec["answered"] = now()
        if isinstance(detail, dict):
            rec["w"] = detail

    def write(self) -> None:
        trace_file.append(self.file, self.batches)
        self.batches = []


def summary(lines: list[dict[str, Any]]) -> str:
    """What the timelines of a file say: sizes, where a CCR's time goes, idle shares."""
    recs = [r for r in lines if "w" in r and "settle" in r]
    if not recs:
        return "no batch traced"

    def ms(name: str, vals: list[float]) -> str:
        return trace_file.ms(name, vals, 36)

    sizes = [r["n"] for r in recs]
    depths = ", ".join(f"{k}: {sum(1 for r in recs if r['flights'] == k)}" for k in range(4))
    span = recs[-1]["answered"] - recs[0]["first"]
    w = [r["w"] for r in recs]
    commits = {x["committed"]: x for x in w}  # batches committed together share their times
    synced = [x for x in commits.values() if "synced" in x]  # FULL: the WAL synced by a thread
    busy = sum(x["committed"] - x["begin"] for x in commits.values())
    fsync = sum(x["committed"] - x["written"] for x in commits.values())
    out = [f"{len(recs)} batches over {span:.3f} s, units per batch mean {sum(sizes) / len(sizes):.1f}"
           f" p50 {trace_file.pct(sizes, 0.5)} max {max(sizes)}; batches already in flight when one was shipped:"
           f" {depths}",
           f"  {len(commits)} COMMITs, {sum(sizes) / len(commits):.1f} units each;"
           f" writer busy {busy / span * 100:.0f} % of the time (COMMIT alone {fsync / span * 100:.0f} %),"
           f" units answered per second {sum(sizes) / span:.0f}",
           ms("unit queued -> shipped (mean)", [r["mean_wait"] for r in recs]),
           ms("first unit queued -> shipped", [r["ship"] - r["first"] for r in recs]),
           ms("deciding (loop)", [r["ship"] - r["decide"] for r in recs]),
           ms("shipped -> writer read", [x["read"] - r["ship"] for r, x in zip(recs, w)]),
           ms("  of which marshal + send (loop)", [r.get("sent", r["ship"]) - r["ship"] for r in recs]),
           ms("writer read -> begins on it", [x["begin"] - x["read"] for x in w]),
           ms("BEGIN + version check", [x["begun"] - x["begin"] for x in w]),
           ms("rows written (CPU)", [x["written"] - x["begun"] for x in w]),
           ms("COMMIT (fsync unless synced)", [x["committed"] - x["written"] for x in w]),
           ms("COMMIT -> WAL synced (sync thread)", [x["synced"] - x["committed"] for x in synced] or [0.0]),
           ms("  COMMIT -> sync begun", [x["sync"] - x["committed"] for x in synced if "sync" in x] or [0.0]),
           ms("  fdatasync (+ the GIL back)", [x["synced"] - x["sync"] for x in synced if "sync" in x] or [0.0]),
           ms("committed -> reply read (loop)", [r["reply"] - x["committed"] for r, x in zip(recs, w)]),
           ms("  synced -> reply sent", [x["sending"] - x["synced"] for x in synced
                                                      if "sending" in x] or [0.0]),
           ms("  reply sent -> read (loop)", [r["reply"] - x["sending"] for r, x in zip(recs, w)
                                             if "sending" in x] or [0.0]),
           ms("reply read -> settling", [r["settle"] - r["reply"] for r in recs]),
           ms("answering", [r["answered"] - r["settle"] for r in recs]),
           ms("writer idle before a COMMIT's work", [b["begin"] - a["committed"] for a, b
                                                     in zip(list(commits.values()), list(commits.values())[1:])]
              or [0.0])]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    print(summary(trace_file.read(argv[0])))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
