"""The codec's fast encoder (``typed_encode.encode_message``, per-slot memo) agrees with the general path.

The general path is the message layer's per-attribute ``Spec.encode_one``; the fast one
builds AVP headers with ``int.to_bytes`` and remembers each scalar AVP with its value.
Both builds (compiled and ``DIAMETER_PURE_PYTHON=1``) run this file.
"""
from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import typed_encode
from diameter.codec.errors import AvpEncodeError, MessageDecodeError
from diameter.message import Message
from diameter.message._binding import _encode_attr, binding_of
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (
    GrantedServiceUnit, RequestedServiceUnit, UsedServiceUnit)

u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=40)


def _general(msg: CreditControlRequest) -> bytes:
    """The AVPs as the general path encodes them, attribute by attribute in encoding order."""
    b = binding_of(type(msg))
    d = msg.__dict__
    return b"".join(_encode_attr(spec, d.get(spec.name)) for spec in b.ordered)


@st.composite
def ccrs(draw):
    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = draw(u32)
    ccr.header.end_to_end_identifier = draw(u32)
    ccr.session_id = draw(text)
    ccr.origin_host = draw(st.binary(max_size=30))
    ccr.origin_realm = draw(st.binary(max_size=300))   # past the memo's size too
    ccr.destination_realm = draw(st.binary(max_size=30))
    ccr.auth_application_id = draw(u32)
    ccr.cc_request_type = draw(st.integers(-2**31, 2**31 - 1))
    ccr.cc_request_number = draw(u32)
    if draw(st.booleans()):
        ccr.service_context_id = draw(text)
    for _ in range(draw(st.integers(0, 3))):
        ccr.add_subscription_id(draw(st.integers(0, 4)), draw(text))
    for _ in range(draw(st.integers(0, 2))):
        ccr.add_multiple_services_credit_control(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=draw(st.integers(0, 2**64 - 1))),
            used_service_unit=UsedServiceUnit(cc_time=draw(u32)), rating_group=draw(u32))
    return ccr


@settings(max_examples=200, deadline=None)
@given(st.lists(ccrs(), min_size=1, max_size=4))
def test_fast_encoder_agrees_with_the_general_path(msgs):
    # several messages in a row: the per-slot memo holds the previous one's values
    for msg in msgs:
        wire = msg.as_bytes()
        assert wire[20:] == _general(msg)
        assert len(wire) == msg.header.length
        assert Message.from_bytes(wire).as_bytes() == wire


def test_memo_tells_values_and_types_apart():
    slot = binding_of(CreditControlRequest).enc_slots["cc_request_number"]
    slot.misses = 0     # (earlier tests' misses in a row: the memo is replaced on each miss here)
    seen = []
    for v in (1, 2, 1, True, 1, 0xFFFFFFFF, 0):
        r = CreditControlRequest()
        r.cc_request_number = v
        body = r.as_bytes()[20:]
        assert body == _general(r)
        seen.append(body)
    assert seen[0] == seen[2] == seen[4] and seen[0] != seen[1]
    assert slot.memo is not None and slot.memo[0] == 0
    # a str and bytes of the same text are different values for a UTF8String slot's memo
    r = CreditControlRequest()
    r.session_id = "abc"
    first = r.as_bytes()
    r.session_id = b"abc"
    with pytest.raises(AvpEncodeError, match="not a str"):
        r.as_bytes()
    r.session_id = "abc"
    assert r.as_bytes() == first



def test_memo_of_a_value_changing_every_message():
    """A slot whose value misses the memo MEMO_MISSES times in a row (CC-Request-Number,
    Session-Id) keeps its memo but for one encoding in MEMO_RETRY; a hit starts over;
    every encoding stays the general path's."""
    slot = binding_of(CreditControlRequest).enc_slots["cc_request_number"]
    slot.misses = 0
    slot.memo = None
    n_miss = typed_encode.MEMO_MISSES
    retry = typed_encode.MEMO_RETRY

    def enc(v: int) -> None:
        r = CreditControlRequest()
        r.cc_request_number = v
        assert r.as_bytes()[20:] == _general(r)

    for v in range(1, n_miss + 1):
        enc(v)
        assert slot.memo is not None and slot.memo[0] == v      # replaced on each miss so far
    enc(1000)
    assert slot.memo[0] == n_miss and slot.misses == n_miss + 1    # kept: too many misses
    for v in range(2000, 2000 + retry - n_miss - 2):
        enc(v)
    assert slot.memo[0] == n_miss
    enc(5000)                                                       # misses == retry: replaced
    assert slot.misses == retry and slot.memo[0] == 5000
    enc(5000)                                                       # a hit
    assert slot.misses == 0 and slot.memo[0] == 5000
    enc(6000)
    assert slot.memo[0] == 6000                                     # replaced again

def test_out_of_range_values_take_the_general_path_and_its_error():
    r = CreditControlRequest()
    r.cc_request_number = 2**32
    with pytest.raises(AvpEncodeError, match="cc_request_number"):
        r.as_bytes()


def test_header_out_of_range_raises_as_before():
    r = CreditControlRequest()
    r.header.hop_by_hop_identifier = 2**32
    with pytest.raises(MessageDecodeError):
        r.as_bytes()


def test_custom_avps_and_answers_still_encode():
    a = CreditControlAnswer()
    a.result_code = 2001
    a.add_multiple_services_credit_control(
        granted_service_unit=GrantedServiceUnit(cc_total_octets=10), rating_group=1)
    plain = a.as_bytes()
    from diameter.message.avp import Avp
    a.append_avp(Avp(99999, 0, b"x", 0))
    wire = a.as_bytes()
    assert wire[20:len(plain)] == plain[20:] and len(wire) == len(plain) + 12


def test_threads_encoding_one_class_get_their_own_values():
    errors = []

    def run(base: int) -> None:
        for i in range(300):
            r = CreditControlRequest()
            r.session_id = f"s;{base};{i}"
            r.cc_request_number = base + i
            m = Message.from_bytes(r.as_bytes())
            if m.cc_request_number != base + i or m.session_id != f"s;{base};{i}":
                errors.append((base, i))
    threads = [threading.Thread(target=run, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_encode_message_declines_what_it_does_not_handle():
    r = CreditControlRequest()
    r.session_id = "x"
    b = binding_of(CreditControlRequest)
    known = frozenset(r.__dict__) | {"session_id"}
    assert typed_encode.encode_message(r.__dict__, b, known) is not None
    assert typed_encode.encode_message(r.__dict__, b, frozenset({"session_id"})) is None  # "header" unknown
    r.__dict__["_raw"] = (b"", 0, 0)
    assert typed_encode.encode_message(r.__dict__, b, known) is None


def test_avp_and_message_headers_follow_each_length() -> None:
    """The encoder keeps each slot's last AVP header and the last first header word: a
    value of another length (plain and vendor-specific slots, the message length) gets its
    own header, one of the same length the kept one, message after message."""
    for sid, mcc in (("a", "1"), ("a;1;22", "262"), ("b;1;33", "26201"), ("abc", "262"),
                     ("", "9"), ("a;1;22", "262"), ("x" * 300, "1" * 70)):
        ccr = CreditControlRequest()
        ccr.session_id = sid
        ccr.sgsn_mcc_mnc = mcc      # UTF8String, 3GPP (V bit, 12-byte header)
        ccr.origin_host = b"h"
        wire = ccr.as_bytes()
        assert wire[20:] == _general(ccr)
        assert int.from_bytes(wire[1:4], "big") == len(wire) == ccr.header.length
        back = Message.from_bytes(wire)
        assert (back.session_id, back.sgsn_mcc_mnc) == (sid, mcc)
