"""The front's short path for session answers (`ocs.mapping.answer_tail` and the CC server's
`CcaEncoder.assemble`) gives the CCA that `result_of` and `CcaEncoder.encode` give, byte for
byte, Result-Code included; it declines (None) only what it does not encode, and fails where
the long path fails. Run compiled and from source (the scenario runs in both builds)."""
from __future__ import annotations

SCENARIO = r"""
import json, random, struct
from diameter.cc.encode import CcaEncoder
from diameter.cc.types import CCRequest, RequestType
from diameter.ocs import mapping
from diameter.ocs.mapping import answer_tail, result_of
from diameter.ocs.model import Grant, Outcome

rng = random.Random(11)
enc = CcaEncoder(b"ocs.example.net", b"example.net")
counts = {"same": 0, "declined": 0, "both_fail": 0}
for i in range(4000):
    grants = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        unit = rng.choice(["octets", "octets", "time", "events", "money", None, "bogus"])
        grants.append(Grant(rng.choice([None, 1, 2, 2**32 - 1]), rng.choice([2001, 2001, 4012, 4010, 5031]),
                            rng.choice([None, None, 8]), unit,
                            rng.choice([None, 0, 1000, 10 << 20, 2**40, 2**64] if unit else [None]),
                            final_action=rng.choice([None] * 8 + [0, 1, 2]),
                            redirect_address=rng.choice([None, "http://top.up/"]),
                            validity_time=rng.choice([None, 600, 2**33]),
                            quota_holding_time=rng.choice([None, 30]),
                            volume_threshold=rng.choice([None, 1 << 20]), time_threshold=rng.choice([None, 6]),
                            cost=rng.choice([None, 0, 5])))
    out = Outcome(rng.choice([2001, 2001, 4010, 4012, 5030, 5031]), grants, account_id=rng.choice([None, 4]),
                  balance=rng.choice([None, 100]), check_balance=rng.choice([None] * 9 + [0]),
                  error_message=rng.choice([None, None, "", "account suspended", "é" * 600, "\udc80"]))
    req = CCRequest(rng.choice(["s;1", "pgw.example;5;42", "é;x"]),
                    rng.choice([RequestType.INITIAL, RequestType.UPDATE, RequestType.TERMINATION]),
                    rng.choice([0, 7, 2**32 - 1]), top_level_units=rng.random() < 0.3, message=object())
    raw = (struct.pack("!I", 0x01000000 | 20) + bytes([rng.choice([0x80, 0xC0, 0xD0])]) + (272).to_bytes(3, "big")
           + struct.pack("!III", 4, rng.randrange(1 << 32), rng.randrange(1 << 32)))
    try:
        res = result_of(out, req)
        want = (res.result_code, enc.encode(None, raw, req, res))
    except Exception as exc:
        want = type(exc).__name__
    try:
        tail = answer_tail(out, req.top_level_units)
        got = None if tail is None else (tail[0], enc.assemble(raw, req, tail[0], tail[1]))
    except Exception as exc:
        got = type(exc).__name__
    if got is None:
        counts["declined"] += 1
        assert (out.check_balance is not None or any(g.final_action is not None for g in grants)
                or any(g.unit == "bogus" for g in grants)), (i, want)
    elif isinstance(want, str):
        assert isinstance(got, str), (i, want, got)  # fails too (which error: the long path's)
        counts["both_fail"] += 1
    else:
        assert got == want, (i, out, req.top_level_units)
        counts["same"] += 1
# the last grant is remembered: a grant differing from it in one value only is encoded anew
base = dict(rating_group=1, result_code=2001, service_identifier=None, unit="octets", units=10 << 20,
            validity_time=600, quota_holding_time=None, volume_threshold=2 << 20, time_threshold=None)
variants = dict(rating_group=[2, None, 2**32 - 1], result_code=[4012], service_identifier=[8, 0],
                unit=["time", "events"], units=[(10 << 20) + 1, None, 2**40], validity_time=[None, 601],
                quota_holding_time=[30], volume_threshold=[None, 7], time_threshold=[6])
req = CCRequest("s;1", RequestType.UPDATE, 3, message=object())
raw = bytes.fromhex("01000014c000011000000004") + bytes(8)
for top in (False, True):
    req.top_level_units = top
    for name, values in variants.items():
        for v in values:
            for g in (Grant(**base), Grant(**dict(base, **{name: v})), Grant(**base)):
                out = Outcome(2001, [g])
                res = result_of(out, req)
                code, tail = answer_tail(out, top)
                assert (code, enc.assemble(raw, req, code, tail)) == (res.result_code, enc.encode(None, raw, req, res)), (name, v, top)
                counts["pairs"] = counts.get("pairs", 0) + 1
print(json.dumps({"counts": counts, "cached": len(mapping._GRANT_AVPS) > 0,
                  "compiled": not mapping.__file__.endswith(".py")}))
"""


def test_answer_tail_equals_result_of_then_encode(run_scenario):
    compiled = run_scenario(SCENARIO, False)
    pure = run_scenario(SCENARIO, True)
    assert pure["compiled"] is False
    assert compiled["counts"] == pure["counts"]
    counts = compiled["counts"]
    assert counts["same"] > 1000 and counts["declined"] > 300 and counts["both_fail"] > 100, counts
    assert compiled["cached"] and counts["pairs"] == 2 * 3 * 17
