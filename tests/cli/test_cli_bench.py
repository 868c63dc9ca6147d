"""bench/cli_bench.py runs as documented: rounds in alternating order, both clients on
the same server with the same connections, in-flight window and duration (figures are
the benchmark's business; this checks the harness, not the speed)."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.interop


def test_rounds_alternate_with_the_same_load_for_both_clients():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "cli_bench.py"), "--duration", "1",
                          "--rounds", "2", "--warmup", "0", "--inflight", "20",
                          "--workers", "2", "--connections", "1", "--json"],
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    data = json.loads(lines[-1])
    rounds = data["rounds"]
    assert len(rounds) == 2
    # round 1: test_app first, round 2: ours first (dicts keep the order they ran in)
    assert list(rounds[0]) == ["test_app client", "diameter bench"]
    assert list(rounds[1]) == ["diameter bench", "test_app client"]
    for r in rounds:
        for who, x in r.items():
            # 2 workers x 1 connection; test_app: 2 daemons of one connection each
            assert x["connections"] == 2 and x["inflight"] == 20, (who, x)
            assert x["rate"] > 0 and x["errors"] == 0 and x["client_cpu_us"] > 0, (who, x)
            assert 0.9 <= x["seconds"] <= 1.6, (who, x)
    # every round printed, then the medians and their ratio
    printed = [ln for ln in lines if ln.lstrip()[:1] in ("1", "2")]
    assert len(printed) == 4
    med = {who: statistics.median(r[who]["rate"] for r in rounds) for who in rounds[0]}
    ratio = med["diameter bench"] / med["test_app client"]
    assert data["ratio_of_medians"] == pytest.approx(ratio)
    assert f"{ratio:.2f}x (ratio of the medians)" in out.stdout
