"""Property tests: round trips are exact; random and mutated bytes only raise typed errors."""
import datetime

from hypothesis import HealthCheck, given, settings, strategies as st

from diameter.codec.errors import DiameterError
from diameter.message import Message, dump
from diameter.message.avp import Avp
from diameter.message.commands import CreditControlRequest
from diameter.message.commands.credit_control import (RequestedServiceUnit, UsedServiceUnit)

u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=40)


@st.composite
def ccrs(draw):
    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = draw(u32)
    ccr.header.end_to_end_identifier = draw(u32)
    ccr.session_id = draw(text)
    ccr.origin_host = draw(st.binary(max_size=30))
    ccr.origin_realm = draw(st.binary(max_size=30))
    ccr.destination_realm = draw(st.binary(max_size=30))
    ccr.cc_request_type = draw(st.integers(1, 4))
    ccr.cc_request_number = draw(u32)
    if draw(st.booleans()):
        ccr.event_timestamp = datetime.datetime(2000, 1, 1) + datetime.timedelta(
            seconds=draw(st.integers(0, 10**9)))
    for _ in range(draw(st.integers(0, 3))):
        ccr.add_subscription_id(draw(st.integers(0, 4)), draw(text))
    for _ in range(draw(st.integers(0, 2))):
        ccr.add_multiple_services_credit_control(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=draw(st.integers(0, 2**64 - 1))),
            used_service_unit=UsedServiceUnit(cc_time=draw(u32)), rating_group=draw(u32))
    for _ in range(draw(st.integers(0, 2))):
        # unknown vendor AVPs with odd flag bits must survive untouched
        a = Avp(draw(st.integers(1, 2**32 - 1)), draw(st.integers(1, 2**32 - 1)),
                draw(st.binary(max_size=20)), draw(st.sampled_from([0x80, 0xA0, 0xE0, 0x8F])))
        ccr.append_avp(a)
    return ccr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ccrs())
def test_decode_encode_roundtrip(ccr):
    wire = ccr.as_bytes()
    msg = Message.from_bytes(wire)
    assert type(msg) is CreditControlRequest
    assert msg.as_bytes() == wire
    assert msg.session_id == ccr.session_id
    assert msg.subscription_id == ccr.subscription_id
    assert msg.multiple_services_credit_control == ccr.multiple_services_credit_control
    # reading every attribute does not change the bytes either
    dump(msg)
    assert msg.as_bytes() == wire
    plain = Message.from_bytes(wire, plain_msg=True)
    assert [a.as_bytes() for a in plain.avps] == [a.as_bytes() for a in msg.avps]
    assert plain.as_bytes() == wire


def _exercise(data: bytes) -> None:
    try:
        msg = Message.from_bytes(data)
        dump(msg)
        msg.as_bytes()
        for name in ("session_id", "subscription_id", "multiple_services_credit_control",
                     "service_information", "user_equipment_info"):
            getattr(msg, name, None)
    except DiameterError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_typed_errors(data):
    _exercise(data)
    _exercise(b"\x01" + (len(data) + 4).to_bytes(3, "big") + data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ccrs(), st.data())
def test_mutated_messages_only_raise_typed_errors(ccr, data):
    wire = bytearray(ccr.as_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    _exercise(bytes(wire))
