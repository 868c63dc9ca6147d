"""The message layer alone: one Gy CCR and its CCA built, encoded, validated and decoded, without nodes.

The per-request message work of ``bench/node_pair.py`` (client: build and encode the
CCR, decode the CCA and read Result-Code; server: validate and decode the CCR, read
its attributes, build and encode the CCA) in a plain loop, so that it can be timed
or counted (``valgrind --tool=callgrind``) apart from the nodes and the event loop.

    python bench/msg_layer.py                # µs per CCR/CCA pair (best of rounds)
    python bench/msg_layer.py --count 200    # a fixed number of pairs, for callgrind
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(bn, validate, rules, n: int) -> None:
    from diameter.message import Message
    data = bn.build_ccr("client.bench.realm", n).as_bytes()          # client
    if validate(data, rules):                                         # server
        raise RuntimeError("CCR does not validate")
    req = Message.from_bytes(data)
    out = bn.build_cca(req, "server.bench.realm").as_bytes()
    ans = Message.from_bytes(out)                                     # client
    if ans.result_code != 2001:
        raise RuntimeError("unexpected Result-Code")


def phases(bn, validate, rules):
    """Each stage of :func:`one` alone: name -> a function of the request number."""
    from diameter.message import Message
    ccr = bn.build_ccr("client.bench.realm", 1)
    data = ccr.as_bytes()
    req = Message.from_bytes(data)
    cca = bn.build_cca(req, "server.bench.realm")
    out = cca.as_bytes()

    def read_req(n):
        r = Message.from_bytes(data)
        return r.session_id, r.cc_request_type, r.cc_request_number
    return {
        "build_ccr": lambda n: bn.build_ccr("client.bench.realm", n),
        "encode_ccr": lambda n: bn.build_ccr("client.bench.realm", n).as_bytes(),
        "validate_ccr": lambda n: validate(data, rules),
        "decode_ccr": lambda n: Message.from_bytes(data),
        "decode_read_ccr": read_req,
        "build_cca": lambda n: bn.build_cca(req, "server.bench.realm"),
        "encode_cca": lambda n: bn.build_cca(req, "server.bench.realm").as_bytes(),
        "decode_read_cca": lambda n: Message.from_bytes(out).result_code,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=0, help="run this many pairs and exit")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--phase", default="", help="one stage alone (see phases(); 'list' prints them)")
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the diameter source tree to measure")
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    sys.path.insert(0, str(HERE))
    import node as bn
    from diameter.validation import validate
    from diameter.validation.dialects import dialect
    rules = dialect().rules
    run = lambda n: one(bn, validate, rules, n)  # noqa: E731
    if args.phase:
        table = phases(bn, validate, rules)
        if args.phase == "list":
            print(" ".join(table))
            return
        run = table[args.phase]
    for i in range(50):
        run(i + 1)
    if args.count:
        for i in range(args.count):
            run(i + 1)
        return
    best = float("inf")
    for _ in range(args.rounds):
        c0 = time.process_time()
        for i in range(args.n):
            run(i + 1)
        best = min(best, (time.process_time() - c0) / args.n)
    print(f"message layer, {args.phase or 'one CCR and its CCA'} ({args.src}): {best * 1e6:.1f} us CPU per "
          f"{'call' if args.phase else 'pair'}")


if __name__ == "__main__":
    main()
