"""The validation fast path's compiled plans: bounded caches, and what they let the decoder skip."""
from __future__ import annotations

import pytest

from diameter.codec import frame, grammar
from diameter.codec.errors import DecodeError
from diameter.message import Message
from diameter.message.commands._helpers import register
from diameter.node.protocol import avps as A
from diameter.validation import check, validate
from diameter.validation.rules import RuleSet

from .messages import ccr


def test_command_table_stays_bounded_whatever_the_application_ids():
    rules = RuleSet()
    base = ccr().as_bytes()
    for app in range(grammar.MAX_PLAN_KEYS + 50):
        data = bytearray(base)
        data[8:12] = (app + 1000).to_bytes(4, "big")
        check._certainly_valid(bytes(data), rules)
    cmds = rules.fast_cache()[grammar._COMMANDS]
    assert 0 < len(cmds) <= grammar.MAX_PLAN_KEYS


def test_plans_follow_cache_clears():
    rules = RuleSet()
    data = ccr().as_bytes()
    assert check._certainly_valid(data, rules)      # the fast path, in either build
    assert any(isinstance(v, grammar.Plan) for v in rules.fast_cache().values())
    rules.clear_cache()
    assert not any(isinstance(v, grammar.Plan) for v in rules.fast_cache().values())
    assert check._certainly_valid(data, rules)
    assert validate(data, rules) == []


def test_an_unknown_command_and_a_bad_p_bit_are_reported():
    unknown = A.message(0x80, 999999, 4, 1, 1, [A.text(263, "s;1")])
    assert [type(f).__name__ for f in validate(unknown)] == ["CommandUnsupported"]
    # CER (257) is not proxiable: the P bit is an error the fast path never accepts
    cer = A.message(0xC0, 257, 0, 1, 1, [A.text(264, "h"), A.text(296, "r")])
    assert not check._certainly_valid(cer, check.default_rules())
    assert any(type(f).__name__ == "InvalidHdrBits" for f in validate(cer))


def test_decoder_checks_framing_of_bytes_the_fast_path_did_not_see():
    good = ccr().as_bytes()
    assert validate(good) == []
    assert frame.FRAMED[0] is good or not frame.COMPILED
    assert Message.from_bytes(good).session_id is not None
    bad = bytearray(good)
    bad[20 + 5:20 + 8] = (0xFFFFFF).to_bytes(3, "big")    # first AVP's length overruns
    with pytest.raises(DecodeError):
        Message.from_bytes(bytes(bad))
    # an equal but distinct object is checked again
    with pytest.raises(DecodeError):
        Message.from_bytes(bytes(bad) + b"")


def test_registering_a_class_reaches_the_decoder_cache():
    from diameter.message import DefinedMessage
    from diameter.message import _base

    class ThingOne(DefinedMessage):
        code = 999998

    class ThingTwo(DefinedMessage):
        code = 999998

    data = A.message(0x80, 999998, 0, 1, 1, [A.text(263, "s;1")])
    register(ThingOne)
    try:
        assert type(Message.from_bytes(data)) is ThingOne
        assert type(Message.from_bytes(data)) is ThingOne     # from the decoder's cache
        register(ThingTwo)
        assert type(Message.from_bytes(data)) is ThingTwo
    finally:
        del _base.all_commands[999998]
    assert type(Message.from_bytes(data)).__name__ == "UndefinedMessage"
