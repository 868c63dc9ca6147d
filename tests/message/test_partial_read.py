"""Reads of scalar attributes decode each AVP alone (``codec.typed.read_one``); the rest
is filled on the first read of a list or group (or past ``typed.PARTIAL_READS`` reads). What a program sees, and the bytes an answer or a
re-encoded request gets, are those of the whole-group decoding; the answers of a handler
echoing AVPs (``encode_with_avps``) are byte for byte those of the general encoder."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from diameter.codec import typed, typed_encode
from diameter.message import Message
from diameter.message._binding import binding_of, encode_body, is_clean
from diameter.message.avp import Avp
from diameter.message.avp.avp import AvpGrouped, AvpUnsigned32
from diameter.message.commands import CreditControlRequest

u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=20)
NAMES = ["session_id", "origin_host", "origin_realm", "cc_request_number", "cc_request_type",
         "destination_host", "subscription_id", "user_name", "multiple_services_credit_control"]


@st.composite
def wires(draw):
    ccr = CreditControlRequest()
    ccr.session_id = draw(text)
    ccr.origin_host = draw(st.binary(max_size=10))
    ccr.origin_realm = b"realm"
    ccr.destination_realm = b"dest"
    ccr.cc_request_type = draw(st.integers(1, 4))
    ccr.cc_request_number = draw(u32)
    for _ in range(draw(st.integers(0, 2))):
        ccr.add_subscription_id(draw(st.integers(0, 4)), draw(text))
    wire = ccr.as_bytes()
    if draw(st.booleans()):   # a second Session-Id and CC-Request-Number: the last one wins
        extra = Avp(263, 0, draw(text).encode(), 0x40).as_bytes() + \
            Avp(415, 0, draw(u32).to_bytes(4, "big"), 0x40).as_bytes()
        n = len(wire) + len(extra)
        wire = wire[:1] + n.to_bytes(3, "big") + wire[4:] + extra
    return wire


def _view(msg):
    return [repr(getattr(msg, n)) for n in NAMES]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wires(), st.sampled_from(NAMES), st.lists(st.sampled_from(
    ["read_all", "set_sid", "set_host", "del_first", "read_other", "append"]), max_size=3), st.data())
def test_first_read_then_anything_matches_whole_decoding(wire, first, then, data):
    a, b = Message.from_bytes(wire), Message.from_bytes(wire)
    _ = b.subscription_id   # b: decoded as a whole (a list is never read alone)
    assert getattr(a, first) == getattr(b, first)
    for how in then:
        for m in (a, b):
            if how == "read_all":
                _view(m)
            elif how == "set_sid":
                m.session_id = "changed"
            elif how == "set_host":
                m.origin_host = b"other.host"
            elif how == "del_first":
                m.__dict__.pop(first, None)
            elif how == "read_other":
                _ = m.origin_realm
            elif how == "append":
                m.append_avp(Avp(16777215, 999999, b"abcd", 0x80))
    assert _view(a) == _view(b)
    assert is_clean(a) == is_clean(b)
    assert a.as_bytes() == b.as_bytes()
    if not then:
        assert a.as_bytes() == wire and is_clean(a)


def _ccr():
    ccr = CreditControlRequest()
    ccr.session_id = "s;1"
    ccr.origin_host = b"h"
    ccr.origin_realm = b"r"
    ccr.destination_realm = b"d"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 7
    return ccr


def test_first_read_decodes_only_that_avp():
    ccr = _ccr()
    msg = Message.from_bytes(ccr.as_bytes())
    binding_of(type(msg)).partial_score = 0   # other tests' reads of the class: see below
    sid = msg.session_id
    assert sid == "s;1"
    if typed.COMPILED:   # the source build decodes attribute by attribute anyway
        st_ = msg.__dict__["_st"]
        assert st_.partial and set(st_.snap) == {"session_id"}
        assert "origin_host" not in msg.__dict__
    assert msg.cc_request_number == 7 and msg.origin_host == b"h"   # more scalars: alone too
    assert msg.session_id is sid
    if typed.COMPILED:
        st_ = msg.__dict__["_st"]
        assert st_.partial and set(st_.snap) == {"session_id", "cc_request_number", "origin_host"}
        assert "origin_realm" not in msg.__dict__
    assert is_clean(msg) and msg.as_bytes() == ccr.as_bytes()
    assert msg.subscription_id == []   # a list: the whole group decoded
    assert msg.session_id is sid and msg.origin_realm == b"r"
    if typed.COMPILED:
        st_ = msg.__dict__["_st"]
        assert not st_.partial and st_.snap["session_id"] is sid   # still the very object
    assert is_clean(msg) and msg.as_bytes() == ccr.as_bytes()


def test_absent_and_bad_values_answer_as_before():
    ccr = _ccr()
    msg = Message.from_bytes(ccr.as_bytes())
    binding_of(type(msg)).partial_score = 0   # first reads alone (other tests' reads of the class)
    assert msg.user_name is None
    assert "_st" not in msg.__dict__   # nothing decoded for an absent AVP
    bad = Avp(415, 0, b"\x00\x01", 0x40).as_bytes()   # CC-Request-Number of 2 bytes
    wire = ccr.as_bytes()
    n = len(wire) + len(bad)
    msg = Message.from_bytes(wire[:1] + n.to_bytes(3, "big") + wire[4:] + bad)
    with pytest.raises(Exception) as e1:
        _ = msg.cc_request_number
    fresh = Message.from_bytes(wire[:1] + n.to_bytes(3, "big") + wire[4:] + bad)
    _ = fresh.session_id
    with pytest.raises(Exception) as e2:
        _ = fresh.cc_request_number
    assert type(e1.value) is type(e2.value)


class _OwnEncoding(Avp):
    __slots__ = ()

    def as_bytes(self):
        return Avp(self.code, self._vendor_id, self.payload + b"!", self.flags).as_bytes()


echoed = st.one_of(
    st.builds(lambda c, v, p, f: Avp(c, v, p, f), st.sampled_from([1, 443, 16777215]),
              st.sampled_from([0, 10415, 999999]), st.binary(max_size=9),
              st.sampled_from([0, 0x40, 0x80, 0xA0])),
    st.builds(lambda n: AvpUnsigned32(432, 0, n.to_bytes(4, "big"), 0x40), u32),
    st.builds(lambda p: _OwnEncoding(16777215, 999999, p, 0x80), st.binary(max_size=5)),
    st.builds(lambda p: AvpGrouped(873, 10415, p, 0xC0), st.just(b"")))


def _general(ans):
    """The answer as the general path encodes it."""
    body = encode_body(ans)
    h = ans.header
    return bytes([h.version]) + (20 + len(body)).to_bytes(3, "big") + bytes([h.command_flags]) + \
        h.command_code.to_bytes(3, "big") + h.application_id.to_bytes(4, "big") + \
        h.hop_by_hop_identifier.to_bytes(4, "big") + h.end_to_end_identifier.to_bytes(4, "big") + body


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wires(), st.lists(echoed, max_size=4), st.booleans())
def test_answer_with_appended_avps_is_the_general_encoding(wire, avps, from_request):
    req = Message.from_bytes(wire)
    ans = req.to_answer()
    ans.session_id = req.session_id
    ans.result_code = 2001
    ans.origin_host = b"srv"
    ans.origin_realm = "realm"
    if from_request:   # AVPs found in the request (decoded objects)
        avps = req.find_avps((263, 0)) + req.find_avps((415, 0)) + avps
    for a in avps:
        ans.append_avp(a)
    out = ans.as_bytes()
    assert out == _general(ans)
    assert ans.header.length == len(out)
    assert Message.from_bytes(out).avps[-len(avps):] if avps else True


def test_encode_with_avps_declines_what_it_does_not_handle():
    ans = Message.from_bytes(_ccr().as_bytes()).to_answer()
    ans.session_id = "s"
    b = binding_of(type(ans))
    known = frozenset(ans.__dict__) | {"session_id"}
    ans.append_avp(Avp(1, 0, b"x", 0))
    assert typed_encode.encode_with_avps(ans.__dict__, b, known) is not None
    ans.append_avp(_OwnEncoding(1, 0, b"x", 0))
    assert typed_encode.encode_with_avps(ans.__dict__, b, known) is None
    ans.avps = [Avp(1, 0, bytearray(b"x"), 0)]
    assert typed_encode.encode_with_avps(ans.__dict__, b, known) is None
    ans.avps = ["not an avp"]
    assert typed_encode.encode_with_avps(ans.__dict__, b, known) is None


@pytest.mark.parametrize("code, flags, vendor", [(1, 0x1C0, 0), (-1, 0, 0), (2**32, 0, 0), (1, 0, 2**32),
                                                 (1, -1, 0), (2**32 - 1, 0xFF, 0), (1, 0x80, 0)])
def test_appended_avp_out_of_range_fails_as_as_bytes_does(code, flags, vendor):
    avp = Avp(1, 0, b"x", 0)
    avp.code, avp.flags, avp._vendor_id = code, flags, vendor
    try:
        expected = avp.as_bytes()
    except Exception as e:  # noqa: BLE001 - the same error either way
        expected = type(e)
    ans = Message.from_bytes(_ccr().as_bytes()).to_answer()
    ans.session_id = "s"
    ans.append_avp(avp)
    try:
        got = ans.as_bytes()[-len(expected):] if isinstance(expected, bytes) else ans.as_bytes()
    except Exception as e:  # noqa: BLE001
        got = type(e)
    assert got == expected


def test_classes_whose_readers_read_more_decode_whole_after_a_probe():
    """Partial reads followed by a read of a list or group are extra work: the class's next
    PARTIAL_PROBE first reads decode the whole group, then one is tried alone again.
    Reads of more scalars stay partial and cost the class nothing."""
    wire = _ccr().as_bytes()
    cls = type(Message.from_bytes(wire))
    b = binding_of(cls)
    b.partial_score = 0

    def partial_after_sid(read_more):
        m = Message.from_bytes(wire)
        assert m.session_id == "s;1"
        alone = "origin_host" not in m.__dict__
        if read_more:
            assert m.subscription_id == []
        assert m.as_bytes() == wire
        return alone

    if not typed.COMPILED:   # the source build reads attribute by attribute: nothing to adapt
        assert partial_after_sid(True) and partial_after_sid(False)
        return
    m = Message.from_bytes(wire)
    assert m.session_id == "s;1" and m.cc_request_number == 7 and m.cc_request_type == 1
    assert "origin_host" not in m.__dict__ and b.partial_score == 1   # scalars: alone, no penalty
    b.partial_score = 0
    assert partial_after_sid(True)          # tried alone, then the whole group after all
    assert b.partial_score == -typed.PARTIAL_PROBE
    assert [partial_after_sid(True) for _ in range(typed.PARTIAL_PROBE)] == [False] * typed.PARTIAL_PROBE
    assert partial_after_sid(False)         # probed alone again: a reader of Session-Id alone
    assert all(partial_after_sid(False) for _ in range(40))
    assert b.partial_score == typed.PARTIAL_CAP
