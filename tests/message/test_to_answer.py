"""Message.to_answer(): header bits and ids, the answer class, classes defined later."""
from __future__ import annotations

from diameter.message import Message
from diameter.message.commands import CreditControlAnswer, CreditControlRequest


def test_answer_header_keeps_ids_app_and_p_bit_and_clears_the_rest() -> None:
    for flags in (0x80, 0xC0, 0xD0, 0xF0):
        req = CreditControlRequest()
        h = req.header
        h.command_flags = flags
        h.application_id = 16777238
        h.hop_by_hop_identifier = 0x1234
        h.end_to_end_identifier = 0xABCDEF
        ans = req.to_answer()
        assert type(ans) is CreditControlAnswer
        a = ans.header
        assert not a.is_request and not a.is_error and not a.is_retransmit
        assert a.is_proxyable is bool(flags & 0x40)
        assert (a.command_code, a.application_id) == (272, 16777238)
        assert (a.hop_by_hop_identifier, a.end_to_end_identifier) == (0x1234, 0xABCDEF)
        assert a.version == 1


def test_decoded_request_answer_round_trips() -> None:
    req = CreditControlRequest()
    req.session_id = "a;1"
    req.origin_host = b"a"
    req.origin_realm = b"r"
    req.destination_realm = b"r"
    req.auth_application_id = 4
    req.cc_request_type = 1
    req.cc_request_number = 0
    req.header.hop_by_hop_identifier = 7
    decoded = Message.from_bytes(req.as_bytes())
    ans = decoded.to_answer()
    ans.session_id = decoded.session_id
    ans.result_code = 2001
    back = Message.from_bytes(ans.as_bytes())
    assert type(back) is CreditControlAnswer and back.result_code == 2001
    assert back.header.hop_by_hop_identifier == 7 and back.header.is_proxyable


def test_an_answer_class_defined_after_the_first_answer_is_used() -> None:
    class FooRequest(Message):
        code = 999_001

    class Late(Message):
        pass

    class LateRequest(Late):
        pass

    first = LateRequest().to_answer()
    assert type(first) is Message

    class LateAnswer(Late):
        pass

    assert type(LateRequest().to_answer()) is LateAnswer
    assert type(FooRequest().to_answer()) is Message
