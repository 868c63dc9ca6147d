"""A partial fill state (scalar attributes read alone) shares its empty ``snapl``, ``redo``
and ``defer`` (``codec.typed``): whatever is read or set next, they stay empty."""
import datetime

import pytest
from hypothesis import given, settings, strategies as st

from diameter.codec import frame, typed, typed_slot
from diameter.codec.errors import DecodeError
from diameter.message import Message
from diameter.message.commands import CreditControlRequest


def _wire() -> bytes:
    ccr = CreditControlRequest()
    ccr.session_id = "s;1;2"
    ccr.origin_host = b"host"
    ccr.origin_realm = b"realm"
    ccr.destination_realm = b"dest"
    ccr.cc_request_type = 2
    ccr.cc_request_number = 7
    ccr.event_timestamp = datetime.datetime(2024, 5, 1, 12, 0, 0)
    ccr.add_subscription_id(0, "41780000001")
    return ccr.as_bytes()


def _shared_are_empty() -> bool:
    return not typed_slot._NO_SNAPL and not typed_slot._NO_REDO and not typed_slot._NO_DEFER


def test_partial_reads_then_whole_decoding_leave_the_shared_empties_empty():
    wire = _wire()
    for follow in ("list", "deferred", "set", "many"):
        msg = Message.from_bytes(wire)
        b = typed.BINDINGS.get(type(msg))
        if b is not None:
            b.partial_score = 0     # first reads of the class read alone again
        assert msg.session_id == "s;1;2"
        assert msg.cc_request_number == 7
        st = msg.__dict__.get("_st")
        if typed.COMPILED:      # the compiled build reads scalars alone
            assert st is not None and st.partial and st.snapl is typed_slot._NO_SNAPL
        if follow == "list":
            assert [s.subscription_id_data for s in msg.subscription_id] == ["41780000001"]
        elif follow == "deferred":
            assert msg.event_timestamp == datetime.datetime(2024, 5, 1, 12, 0, 0)
        elif follow == "set":
            msg.user_name = "added"
            msg.subscription_id.clear()
        else:
            for name in ("origin_host", "origin_realm", "destination_realm", "cc_request_type",
                         "service_context_id", "user_name", "destination_host", "auth_application_id",
                         "termination_cause", "requested_action"):
                getattr(msg, name)
        assert Message.from_bytes(msg.as_bytes()).cc_request_number == 7
        assert _shared_are_empty(), follow
        st = msg.__dict__.get("_st")
        assert st is None or st.partial or st.snapl is not typed_slot._NO_SNAPL


def _avp(code: int, vendor: int, payload: bytes) -> bytes:
    flags = 0x80 if vendor else 0x40
    n = len(payload) + (12 if vendor else 8)
    head = code.to_bytes(4, "big") + bytes([flags]) + n.to_bytes(3, "big")
    return head + (vendor.to_bytes(4, "big") if vendor else b"") + payload + bytes(-n & 3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 263, 268, 0xFFFFFFFF]), st.sampled_from([0, 10415]),
                          st.binary(max_size=9)), max_size=8),
       st.sampled_from([1, 263, 268, 0xFFFFFFFF]), st.sampled_from([0, 10415]), st.integers(0, 3))
def test_last_at_on_framing_known_sound_agrees(avps: list, code: int, vendor: int, lead: int) -> None:
    buf = bytes(lead * 4) + b"".join(_avp(c, v, p) for c, v, p in avps)
    start = lead * 4
    checked = typed.last_at(buf, code, vendor, start, len(buf))
    assert checked >= -1     # sound framing
    assert typed.last_at(buf, code, vendor, start, len(buf), True) == checked


def test_reads_after_the_decoder_checked_the_framing():
    first, second = _wire(), _wire()
    assert first == second and first is not second
    m1 = Message.from_bytes(first)
    assert frame.FRAMED[0] is first or not typed.COMPILED
    m2 = Message.from_bytes(second)     # first is no longer the one known sound
    bad = bytearray(first)
    bad[20 + 5:20 + 8] = (0xFFFFFF).to_bytes(3, "big")
    with pytest.raises(DecodeError):
        Message.from_bytes(bytes(bad))
    assert frame.FRAMED[0] is second or not typed.COMPILED
    for m in (m1, m2):
        b = typed.BINDINGS.get(type(m))
        if b is not None:
            b.partial_score = 0
        assert (m.session_id, m.cc_request_type, m.cc_request_number) == ("s;1;2", 2, 7)
        assert m.user_name is None
