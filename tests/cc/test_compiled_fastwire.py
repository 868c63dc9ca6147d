"""The credit-control AVP readers may be compiled (mypyc, setup.py's CC_COMPILED_MODULES): the
compiled module reads every CCR and CCA exactly as its Python source does, errors included."""
from __future__ import annotations

import importlib

from diameter import cc


SCENARIO = r"""
import json, random
from diameter.cc import Units, Money, fastwire
from diameter.cc.encode import CcaEncoder, CcrTemplate
from diameter.cc.types import CCResult, FinalUnit, FinalUnitAction, Grant
from diameter.cc.wire import Usage, build_ccr, parse_ccr, parse_cca
from diameter.message import Message

rng = random.Random(11)
out = [fastwire.__file__.endswith(".py")]

def units():
    return Units(rng.choice([None, 0, 60, 2**32 - 1]), rng.choice([None, 0, 1 << 20, 2**40]),
                 rng.choice([None, 5]), rng.choice([None, 7]), rng.choice([None, 1]),
                 rng.choice([None, Money(1234, -2, 978), Money(5)]))

def view(r):
    return [r.session_id, int(r.request_type), r.request_number, r.retransmitted, r.origin_host,
            r.origin_realm, r.peer, r.dialect, r.top_level_units, r.has_request_number,
            r.service_context_id, r.auth_application_id, r.user_name, r.requested_action,
            r.subscription_ids, repr(r.mscc)]

enc = CcaEncoder(b"ocs.example.net", b"example.net")
for i in range(300):
    usages = [Usage(rng.choice([None, 1, 2, 2**32 - 1]), rng.sample([1, 2, 3], rng.randrange(3)),
                    units() if rng.random() < 0.7 else None, units() if rng.random() < 0.7 else None,
                    rng.choice([None, 0, 2, 4]))
              for _ in range(rng.randrange(3))]
    msg = build_ccr(session_id=f"s;{i}", request_type=rng.choice([1, 2, 3, 4]), request_number=rng.randrange(9),
                    origin_host="h.example.net", origin_realm="example.net", destination_realm="example.net",
                    destination_host=None, service_context_id=rng.choice(["32251@3gpp.org", "x"]),
                    subscription_ids=[(rng.randrange(5), f"49{i}")] * rng.randrange(3), usages=usages,
                    requested_action=rng.choice([None, 0, 2]), user_name=rng.choice([None, "u@x"]),
                    top_level=rng.random() < 0.3, retransmit=rng.random() < 0.2)
    raw = msg.as_bytes()
    req = parse_ccr(Message.from_bytes(raw), raw=raw)
    out.append(view(req))
    res = CCResult(rng.choice([2001, 4012]), [Grant(u.rating_group, list(u.service_identifiers), units(), 2001,
                                                    600, 30, 100, None,
                                                    FinalUnit(FinalUnitAction.REDIRECT, 2, "http://x/")
                                                    if rng.random() < 0.2 else None, [1, 2][:rng.randrange(3)])
                                              for u in usages])
    out.append(repr(parse_cca(enc.encode(msg, raw, req, res)).grants))
for bad in (b"\x00\x00\x01\x08\x40\x00\x00\x07abc", b"\x00\x00\x01\x08\x40\x00\x00\x0cabcd", b"\x00\x00\x01\xa0\x40\x00\x00\x0c\x00\x00\x00\x09",
            b"\x00\x00\x01\xa0\x40\x00\x00\x0c\x00\x00\x00"):
    raw = bytes([1, 0, 0, 20 + len(bad), 0xC0, 0, 1, 0x10, 0, 0, 0, 4]) + bytes(8) + bad
    try:
        parse_ccr(None, raw=raw)
        out.append("parsed")
    except Exception as exc:
        out.append(type(exc).__name__)
print(json.dumps(out))
"""


def test_build_is_compiled_or_source(assert_one_build):
    mods = [importlib.import_module(f"diameter.cc.{name}") for name in cc._COMPILED_MODULES]
    assert_one_build(mods)


def test_the_running_readers_read_as_their_source(run_scenario):
    source, running = run_scenario(SCENARIO, True), run_scenario(SCENARIO, False)
    assert source[0] is True  # DIAMETER_PURE_PYTHON runs the .py file
    assert len(source) == 1 + 600 + 4
    # no padding, no CC-Request-Type, an unknown one, a truncated AVP
    assert source[-4:] == ["AvpDecodeError", "ValueError", "ValueError", "AvpDecodeError"]
    assert running[1:] == source[1:]
