"""Codec benchmark: this package against python-diameter 0.9.0, same bytes, same code.

Runs ``codec_workload.py`` alternately under both packages (several rounds)
and prints the median time of each workload and the speed-up ratio:

  (a) decode a Gy CCR-Update and read 5 attributes, some nested
  (b) build that CCR from attributes and encode it
  (c) decode it and read every AVP value
  (d) decode a CEA

Usage: python bench/codec.py [--rounds N] [--scale X]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from _ref import BENCH, our_env, ref_env, ref_python

WORKLOADS = [
    ("a_decode_read5_us", "(a) decode CCR + read 5 attributes", 15.0),
    ("b_build_encode_us", "(b) build CCR from attributes + encode", 10.0),
    ("c_decode_all_values_us", "(c) decode CCR + read every AVP value", 15.0),
    ("d_decode_cea_us", "(d) decode CEA", None),
]


def run(python: str, env: dict[str, str], scale: float) -> dict:
    out = subprocess.run([python, str(BENCH / "codec_workload.py"), str(scale)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="iterations multiplier")
    args = ap.parse_args()
    ref = ref_python()
    ours_runs, ref_runs = [], []
    for _ in range(args.rounds):
        ref_runs.append(run(ref, ref_env(), args.scale))
        ours_runs.append(run(sys.executable, our_env(), args.scale))
    if ours_runs[0]["check"] != ref_runs[0]["check"]:
        print("values differ:", ours_runs[0]["check"], ref_runs[0]["check"])
        return 1
    print(f"Gy CCR-Update: {ours_runs[0]['ccr_bytes']} bytes, {ours_runs[0]['ccr_avps']} AVP values "
          f"(python-diameter: {ref_runs[0]['ccr_bytes']} bytes); {args.rounds} alternating rounds, "
          f"median of best-of-5 per round; this package: {ours_runs[0].get('build')}; "
          "CPU time per operation")
    print(f"{'workload':44} {'python-diameter':>16} {'diameter':>10} {'ratio':>8} {'target':>7}")
    ok = True
    for key, label, target in WORKLOADS:
        r = statistics.median(x[key] for x in ref_runs)
        o = statistics.median(x[key] for x in ours_runs)
        ratio = r / o
        met = "" if target is None else ("met" if ratio >= target else "MISSED")
        ok = ok and (target is None or ratio >= target)
        tgt = "" if target is None else f">={target:g}x"
        print(f"{label:44} {r:13.1f} us {o:7.1f} us {ratio:7.1f}x {tgt:>7} {met}")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
