"""The CCA and CCR encoders (:mod:`diameter.cc.encode`, compiled with the credit-control group):
the compiled module gives every CCA and CCR byte for byte as its Python source does."""
from __future__ import annotations

SCENARIO = r"""
import json, random
from diameter.cc import Money, Units, encode
from diameter.cc.encode import CcaEncoder, CcrTemplate, units_group
from diameter.cc.types import CCResult, FinalUnit, FinalUnitAction, Grant
from diameter.cc.wire import Usage, build_ccr, parse_ccr
from diameter.message import Message

rng = random.Random(23)
out = [encode.__file__.endswith(".py")]
shared = Units(total_octets=10 << 20)

def units():
    if rng.random() < 0.3:
        return shared  # the encoder's cache by identity
    return Units(rng.choice([None, 0, 60, 2**32 - 1]), rng.choice([None, 0, 1 << 20, 2**40]),
                 rng.choice([None, 5]), rng.choice([None, 7]), rng.choice([None, 1]),
                 rng.choice([None, Money(1234, -2, 978), Money(5)]))

def fui():
    return rng.choice([None, FinalUnit(FinalUnitAction.TERMINATE),
                       FinalUnit(FinalUnitAction.REDIRECT, 2, "http://x/"),
                       FinalUnit(FinalUnitAction.RESTRICT_ACCESS, restriction_filter_rules=(b"permit out ip",),
                                 filter_ids=("f1",))])

enc = CcaEncoder(b"ocs.example.net", b"example.net")
for i in range(300):
    usages = [Usage(rng.choice([None, 1, 2, 2**32 - 1]), rng.sample([1, 2, 3], rng.randrange(3)),
                    units() if rng.random() < 0.7 else None, units() if rng.random() < 0.7 else None,
                    rng.choice([None, 0, 2, 4]))
              for _ in range(rng.randrange(3))]
    msg = build_ccr(session_id=f"s;{i}", request_type=rng.choice([1, 2, 3, 4]), request_number=rng.randrange(9),
                    origin_host="h.example.net", origin_realm="example.net", destination_realm="example.net",
                    destination_host=None, service_context_id="32251@3gpp.org",
                    subscription_ids=[(0, f"49{i}")], usages=usages, top_level=rng.random() < 0.3,
                    retransmit=rng.random() < 0.2)
    raw = msg.as_bytes()
    req = parse_ccr(Message.from_bytes(raw), raw=raw)
    grants = [Grant(u.rating_group, list(u.service_identifiers)[:rng.randrange(2)],
                    units() if rng.random() < 0.8 else None, rng.choice([None, 2001, 4012]),
                    rng.choice([None, 600]), rng.choice([None, 30]), rng.choice([None, 100]),
                    rng.choice([None, 5]), fui(), [1, 2][:rng.randrange(3)])
              for u in usages]
    res = CCResult(rng.choice([2001, 4012, 5030]), grants, rng.choice([None, 300]),
                   cc_session_failover=rng.choice([None, 0, 1]), final_unit=fui(),
                   credit_control_failure_handling=rng.choice([None, 0, 1]),
                   direct_debiting_failure_handling=rng.choice([None, 1]),
                   error_message=rng.choice([None, "", "no credit"]))
    out.append(enc.encode(msg, raw, req, res).hex())
    t = CcrTemplate(session_id=f"s;{i}", origin_host="h.example.net", origin_realm="example.net",
                    destination_realm="example.net", service_context_id="32251@3gpp.org",
                    subscription_ids=[(0, f"49{i}")], user_name=rng.choice([None, "u@x"]),
                    top_level=rng.random() < 0.3)
    ccr = t.encode(rng.choice([1, 2, 3]), i, usages, destination_host=rng.choice([None, "ocs.example.net"]),
                   requested_action=rng.choice([None, 0]), termination_cause=rng.choice([None, 1]),
                   retransmit=rng.random() < 0.2)
    ts = ccr.index(b"\x00\x00\x00\x37\x40\x00\x00\x0c", 20)  # Event-Timestamp: the time masked
    out.append((ccr[:ts + 8] + bytes(4) + ccr[ts + 12:]).hex())
    out.append(units_group(437, units(), rng.choice([None, 2])).hex())
print(json.dumps(out))
"""


def test_the_running_encoders_encode_as_their_source(run_scenario):
    source, running = run_scenario(SCENARIO, True), run_scenario(SCENARIO, False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py file
    assert len(source) == 1 + 300 * 3
    assert len(set(source[1::3])) > 250  # the CCAs differ: the scenario covers the encoder's branches
    assert running[1:] == source[1:]
