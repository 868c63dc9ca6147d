"""The fast path's known key sequence: a message with the keys of the last one that passed is
not counted again, and every verdict stays that of a rule set without history."""
from __future__ import annotations

import itertools

from diameter.codec import grammar
from diameter.validation import validate
from diameter.validation.rules import RuleSet

from .messages import avp, ccr_avps, ccr_bytes, u32

GOOD = ccr_bytes()
VARIANTS = {
    "good": GOOD,
    "good, other values": ccr_bytes(avps=[avp(263, b"other.example.net;9;9")] + ccr_avps()[1:6]
                                    + [avp(416, u32(2)), avp(415, u32(7))]),
    "good, an Error-Message": ccr_bytes(avp(281, b"note", flags=0)),
    "same keys, M bit on Error-Message (its definition forbids it)": ccr_bytes(
        avp(281, b"note", flags=0x40)),
    "same keys, a short Unsigned32": ccr_bytes(avps=ccr_avps()[:6] + [avp(416, b"\x00\x01")]
                                               + ccr_avps()[7:]),
    "same keys, V bit with Vendor-Id 0": ccr_bytes(avps=ccr_avps()[:7] + [
        avp(415, u32(0), flags=0xC0)]),
    "same keys, Session-Id not UTF-8": ccr_bytes(avps=[avp(263, b"\xff\xfe;1;2")] + ccr_avps()[1:]),
    "one AVP twice": ccr_bytes(avp(415, u32(1))),
    "a required AVP missing at the end": ccr_bytes(avps=ccr_avps()[:-1]),
    "a required AVP missing, the same count": ccr_bytes(avps=ccr_avps()[:-1]
                                                        + [avp(264, b"again.example.net")]),
    "Session-Id not first": ccr_bytes(avps=ccr_avps()[1:2] + ccr_avps()[:1] + ccr_avps()[2:]),
    "good, an AVP more": ccr_bytes(avp(55, u32(1))),
}


def _fresh(data: bytes) -> bool:
    rules = RuleSet()
    return grammar.message_ok(data, rules, rules.fast_cache())


def _plan(rules: RuleSet) -> grammar.Plan:
    cmds = rules.fast_cache()[grammar._COMMANDS]
    return next(p for p, _prox in cmds.values() if p is not None)


def test_the_known_sequence_is_recorded_and_reused():
    rules = RuleSet()
    assert grammar.message_ok(GOOD, rules, rules.fast_cache())
    plan = _plan(rules)
    assert plan.ok_gen == plan.seq_gen and plan.ok_n == len(ccr_avps())
    gen = plan.seq_gen
    for _ in range(3):
        assert grammar.message_ok(VARIANTS["good, other values"], rules, rules.fast_cache())
    assert plan.seq_gen == gen     # same keys: seq untouched
    # other keys: counted, and the new sequence becomes the known one
    assert not grammar.message_ok(VARIANTS["one AVP twice"], rules, rules.fast_cache())
    assert plan.ok_gen != plan.seq_gen
    assert grammar.message_ok(GOOD, rules, rules.fast_cache())
    assert plan.ok_gen == plan.seq_gen


def test_verdicts_match_a_rule_set_without_history_in_any_order():
    expected = {name: _fresh(data) for name, data in VARIANTS.items()}
    assert expected["good"] and expected["good, other values"]
    assert not any(v for k, v in expected.items() if not k.startswith("good"))
    names = list(VARIANTS)
    for first, second in itertools.permutations(names, 2):
        rules = RuleSet()
        for name in (first, second, first, "good", second, second):
            got = grammar.message_ok(VARIANTS[name], rules, rules.fast_cache())
            assert got == expected[name], (first, second, name)


def test_findings_are_those_of_a_fresh_rule_set_after_the_known_sequence():
    rules = RuleSet()
    assert validate(GOOD, rules) == []
    for name, data in VARIANTS.items():
        assert validate(GOOD, rules) == []
        got = [repr(f) for f in validate(data, rules)]
        assert got == [repr(f) for f in validate(data, RuleSet())], name
        assert bool(got) != name.startswith("good"), name
