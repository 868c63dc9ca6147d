"""Import time: this checkout against python-diameter 0.9.0, in the same run.

    python bench/import_time.py [--runs N]

Each case is timed in fresh interpreters (median of N), with byte-code caches
warm for both packages (pip compiles the reference's at install; ours are written
by a first, untimed run).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _ref import our_env, ref_env, ref_python

CASES = [
    ("import diameter.message.commands", "import diameter.message.commands"),
    ("a Gy program's imports",
     "from diameter.message import Message, constants\n"
     "from diameter.message.commands import CreditControlRequest, CreditControlAnswer"),
    ("import diameter.node", "import diameter.node"),
]
TIMER = ("import time\nt0 = time.perf_counter()\n{code}\n"
         "print(time.perf_counter() - t0)\n")


def _time(python: str, env: dict[str, str], code: str, runs: int) -> float:
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    prog = TIMER.format(code=code)
    subprocess.run([python, "-c", prog], env=env, check=True, capture_output=True)  # warm caches
    samples = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", prog], env=env, check=True, capture_output=True,
                             text=True)
        samples.append(float(out.stdout))
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    ref = ref_python()
    print(f"{'case':36} {'ours ms':>8} {'python-diameter ms':>19} {'ratio':>6}")
    for label, code in CASES:
        ours = _time(sys.executable, our_env(), code, args.runs)
        theirs = _time(ref, ref_env(), code, args.runs)
        print(f"{label:36} {ours * 1000:8.1f} {theirs * 1000:19.1f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
