"""The first read of a decoded answer decodes that attribute alone (``typed.read_one``).

A client reads Result-Code of each answer and nothing else: on the compiled build that
read decodes one AVP instead of the whole answer. Every read must give what a full
decode gives: the value, a later occurrence winning, None when absent, the same error
for a value that does not decode, the same bytes when the answer is encoded again.
"""
from __future__ import annotations

from typing import Any

import pytest

from diameter.codec.errors import DecodeError
from diameter.message import Message
from diameter.message.commands.credit_control import (CreditControlAnswer, CreditControlRequest,
                                                      GrantedServiceUnit)

SCENARIO = """
import json
from diameter.message import Message
from diameter.message.commands.credit_control import CreditControlAnswer, GrantedServiceUnit
a = CreditControlAnswer()
a.session_id = "c;1;2"; a.origin_host = b"s"; a.origin_realm = b"r"; a.auth_application_id = 4
a.result_code = 2001; a.cc_request_type = 2; a.cc_request_number = 7
a.add_multiple_services_credit_control(granted_service_unit=GrantedServiceUnit(cc_total_octets=9),
                                       rating_group=100, result_code=2001)
data = a.as_bytes()
out = {}
for first in ("result_code", "session_id", "origin_host", "cc_request_number", "error_message"):
    m = Message.from_bytes(data)
    v = getattr(m, first)
    out[first] = [v.decode() if isinstance(v, bytes) else v, m.result_code, m.session_id,
                  m.multiple_services_credit_control[0].rating_group, m.as_bytes() == data]
print(json.dumps(out))
"""


def _cca(**kw: Any) -> CreditControlAnswer:
    a = CreditControlAnswer()
    a.session_id = "c;1;2"
    a.origin_host = b"server"
    a.origin_realm = b"realm"
    a.auth_application_id = 4
    a.cc_request_type = 2
    a.cc_request_number = 7
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def _replace_avp(data: bytes, code: int, new_avp: bytes) -> bytes:
    """``data`` with its AVP ``code`` replaced by ``new_avp`` (header length fixed)."""
    pos = 20
    out = bytearray(data[:20])
    while pos < len(data):
        c = int.from_bytes(data[pos:pos + 4], "big")
        n = int.from_bytes(data[pos + 5:pos + 8], "big")
        end = pos + ((n + 3) & ~3)
        out += new_avp if c == code else data[pos:end]
        pos = end
    out[1:4] = len(out).to_bytes(3, "big")
    return bytes(out)


def test_first_read_of_an_answer_matches_a_full_decode() -> None:
    a = _cca(result_code=2001)
    a.add_multiple_services_credit_control(granted_service_unit=GrantedServiceUnit(cc_total_octets=9),
                                           rating_group=100, result_code=2001)
    data = a.as_bytes()
    full = Message.from_bytes(data)
    assert full.multiple_services_credit_control   # a grouped read: the whole answer decoded
    for name in ("result_code", "session_id", "origin_host", "cc_request_number", "error_message",
                 "auth_application_id"):
        m = Message.from_bytes(data)
        assert getattr(m, name) == getattr(full, name), name
        assert getattr(m, name) == getattr(full, name), name      # read again: the same
        assert m.session_id == "c;1;2" and m.result_code == 2001  # then the rest
        assert m.multiple_services_credit_control[0].rating_group == 100
        assert m.as_bytes() == data


def test_answer_read_after_peek_reencodes_changes() -> None:
    data = _cca(result_code=2001).as_bytes()
    m = Message.from_bytes(data)
    assert m.result_code == 2001
    m.result_code = 5030
    again = Message.from_bytes(m.as_bytes())
    assert again.result_code == 5030 and again.session_id == "c;1;2" and again.cc_request_number == 7


def test_a_later_occurrence_wins_as_in_a_full_decode() -> None:
    data = _cca(result_code=2001).as_bytes()
    second = (268).to_bytes(4, "big") + bytes([0x40]) + (12).to_bytes(3, "big") + (5031).to_bytes(4, "big")
    twice = data + second
    twice = twice[:1] + len(twice).to_bytes(3, "big") + twice[4:]
    peeked = Message.from_bytes(twice)
    full = Message.from_bytes(twice)
    assert full.multiple_services_credit_control == []
    assert peeked.result_code == full.result_code == 5031


def test_a_value_that_does_not_decode_raises_as_in_a_full_decode() -> None:
    data = _cca(result_code=2001).as_bytes()
    bad_rc = (268).to_bytes(4, "big") + bytes([0x40]) + (16).to_bytes(3, "big") + bytes(8)   # 8 bytes: not a U32
    bad = _replace_avp(data, 268, bad_rc)
    with pytest.raises(DecodeError) as peeked:
        print(Message.from_bytes(bad).result_code)
    full = Message.from_bytes(bad)
    assert full.session_id == "c;1;2"     # the first read decodes the whole answer
    with pytest.raises(DecodeError) as after_full:
        print(full.result_code)
    assert type(peeked.value) is type(after_full.value)
    assert str(peeked.value) == str(after_full.value)


def test_requests_and_answers_give_the_same_values() -> None:
    r = CreditControlRequest()
    r.session_id = "c;1;3"
    r.origin_host = b"client"
    r.origin_realm = b"realm"
    r.destination_realm = b"realm"
    r.auth_application_id = 4
    r.cc_request_type = 1
    r.cc_request_number = 0
    req = Message.from_bytes(r.as_bytes())
    assert req.cc_request_number == 0 and req.session_id == "c;1;3"


@pytest.mark.parametrize("pure", [False, True])
def test_compiled_and_source_builds_read_the_same(run_scenario: Any, pure: bool) -> None:
    out = run_scenario(SCENARIO, pure)
    for first, got in out.items():
        assert got[1:] == [2001, "c;1;2", 100, True], first
    assert out["result_code"][0] == 2001 and out["session_id"][0] == "c;1;2"
    assert out["origin_host"][0] == "s" and out["cc_request_number"][0] == 7
    assert out["error_message"][0] is None
