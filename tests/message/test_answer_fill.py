"""Message.answer(): the answer repeats what its request says; to_answer() stays empty."""
from __future__ import annotations

from diameter.message import Message
from diameter.message.avp import Avp
from diameter.message.avp.grouped import ProxyInfo
from diameter.message.commands import CreditControlAnswer, CreditControlRequest


def _ccr() -> CreditControlRequest:
    r = CreditControlRequest()
    r.header.hop_by_hop_identifier, r.header.end_to_end_identifier = 7, 8
    r.session_id = "pgw.example;1;2"
    r.origin_host, r.origin_realm, r.destination_realm = b"pgw.example", b"example", b"ocs"
    r.auth_application_id = 4
    r.service_context_id = "32251@3gpp.org"
    r.cc_request_type, r.cc_request_number = 2, 3
    r.proxy_info = [ProxyInfo(proxy_host=b"p1", proxy_state=b"a"),
                    ProxyInfo(proxy_host=b"p2", proxy_state=b"b")]
    return r


def test_to_answer_keeps_python_diameters_behaviour():
    ans = _ccr().to_answer()
    assert isinstance(ans, CreditControlAnswer)
    assert ans.session_id is None and ans.result_code is None and ans.origin_host is None


def test_answer_copies_and_sets_result():
    req = Message.from_bytes(_ccr().as_bytes())
    ans = req.answer(2001, origin_host="ocs.example", origin_realm=b"example")
    back = Message.from_bytes(ans.as_bytes())
    assert isinstance(back, CreditControlAnswer)
    assert back.header.hop_by_hop_identifier == 7 and back.header.end_to_end_identifier == 8
    assert back.session_id == "pgw.example;1;2" and back.result_code == 2001
    assert (back.auth_application_id, back.cc_request_type, back.cc_request_number) == (4, 2, 3)
    assert [p.proxy_host for p in back.proxy_info] == [b"p1", b"p2"]
    assert back.origin_host == b"ocs.example" and back.origin_realm == b"example"
    assert not back.header.is_error


def test_answer_keeps_values_already_set_and_flags_protocol_errors():
    req = _ccr()
    ans = req.to_answer()
    ans.cc_request_number = 99
    from diameter.message.answers import fill_answer
    fill_answer(req, ans, 3004)
    assert ans.cc_request_number == 99 and ans.result_code == 3004 and ans.header.is_error


def test_experimental_result_for_a_vendor_code():
    ans = _ccr().answer(5030, vendor_id=10415)
    back = Message.from_bytes(ans.as_bytes())
    assert back.result_code is None
    assert back.experimental_result.experimental_result_code == 5030
    assert back.experimental_result.vendor_id == 10415


def test_untyped_request_copies_avps():
    plain = Message()
    plain.header.command_code = 999
    plain.header.is_request = True
    plain.header.application_id = 16777251
    plain.avps = [Avp.new(263, value="s;1;2"),
                  Avp.new(260, value=[Avp.new(266, value=10415), Avp.new(258, value=16777251)])]
    ans = Message.from_bytes(plain.as_bytes()).answer(2001, origin_host="h", origin_realm="r")
    codes = [a.code for a in Message.from_bytes(ans.as_bytes()).avps]
    assert codes[:2] == [263, 260] and 268 in codes and 264 in codes and 296 in codes
