"""The fast encoder's shapes (``typed_encode.Shape``): one per tuple of instance-dict keys.

Encoding works out once per key tuple which keys are attributes and in which order they
go on the wire. These tests set attributes in random orders, to random values (None,
lists, groups, custom AVPs), change instances after a first encode, and compare every
message with a reference encoder written here (per attribute, in the binding's order,
groups framed with ``frame.encode_avp``), which shares no code with the shapes.
Both builds (compiled and ``DIAMETER_PURE_PYTHON=1``) run this file.
"""
from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import typed_encode
from diameter.message import Message, UnknownAttributeWarning
from diameter.message._binding import binding_of
from diameter.message.avp import Avp
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (
    MultipleServicesCreditControl, RequestedServiceUnit, SubscriptionId, UsedServiceUnit)

from .reference_encoder import ref, ref_body

u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=20)


def _mscc(draw) -> MultipleServicesCreditControl:
    setters = [
        ("rating_group", draw(st.one_of(st.none(), u32))),
        ("requested_service_unit", draw(st.one_of(
            st.none(), st.builds(RequestedServiceUnit, cc_total_octets=st.integers(0, 2**64 - 1)),
            st.builds(RequestedServiceUnit, cc_time=u32, cc_input_octets=st.integers(0, 2**64 - 1))))),
        ("used_service_unit", draw(st.one_of(st.none(), st.lists(
            st.builds(UsedServiceUnit, cc_time=st.one_of(st.none(), u32), cc_total_octets=st.integers(0, 99)),
            max_size=2)))),
        ("service_identifier", draw(st.one_of(st.none(), st.lists(u32, max_size=2)))),
        ("result_code", draw(st.one_of(st.none(), st.integers(0, 5999)))),
    ]
    order = draw(st.permutations(setters))
    m = MultipleServicesCreditControl()
    for name, value in order[:draw(st.integers(0, len(order)))]:
        setattr(m, name, value)
    if draw(st.integers(0, 4)) == 0:
        m.additional_avps = [Avp(99999, 0, draw(st.binary(max_size=5)), 0)]
    return m


@st.composite
def ccrs(draw):
    """A CCR whose attributes are set in a random order, some to None."""
    setters = [
        ("session_id", draw(text)),
        ("origin_host", draw(st.binary(max_size=20))),
        ("origin_realm", draw(st.binary(max_size=20))),
        ("destination_realm", draw(st.one_of(st.none(), st.binary(max_size=20)))),
        ("auth_application_id", draw(u32)),
        ("service_context_id", draw(st.one_of(st.none(), text))),
        ("cc_request_type", draw(st.integers(0, 4))),
        ("cc_request_number", draw(u32)),
        ("user_name", draw(st.one_of(st.none(), text))),
        ("subscription_id", draw(st.one_of(st.none(), st.lists(
            st.builds(SubscriptionId, subscription_id_type=st.integers(0, 4), subscription_id_data=text),
            max_size=2)))),
        ("multiple_services_credit_control", [_mscc(draw) for _ in range(draw(st.integers(0, 2)))]),
        ("route_record", draw(st.lists(st.binary(min_size=1, max_size=8), max_size=2))),
    ]
    order = draw(st.permutations(setters))
    ccr = CreditControlRequest()
    for name, value in order[:draw(st.integers(0, len(order)))]:
        setattr(ccr, name, value)
    if draw(st.integers(0, 5)) == 0:
        ccr.append_avp(Avp(88888, 0x40, draw(st.binary(max_size=6)), 0))
    return ccr


@settings(max_examples=300, deadline=None)
@given(st.lists(ccrs(), min_size=1, max_size=6))
def test_every_shape_encodes_as_the_reference(msgs):
    # several messages in a row: each one's shape is found or made, the last one tried first
    for msg in msgs:
        wire = msg.as_bytes()
        assert wire[20:] == ref(msg)
        assert len(wire) == msg.header.length
        assert Message.from_bytes(wire).as_bytes() == wire


@settings(max_examples=100, deadline=None)
@given(ccrs(), st.data())
def test_an_instance_changed_after_its_first_encode(msg, data):
    msg.as_bytes()
    change = data.draw(st.sampled_from(["set", "none", "delete", "list", "group"]))
    if change == "set":
        msg.cc_request_number = data.draw(u32)
        msg.user_name = data.draw(text)
    elif change == "none":
        msg.session_id = None
        msg.subscription_id = None
    elif change == "delete":
        for name in ("origin_host", "cc_request_type", "multiple_services_credit_control"):
            msg.__dict__.pop(name, None)
    elif change == "list":
        msg.route_record.append(b"again")
        msg.add_subscription_id(1, "x")
    else:
        msg.add_multiple_services_credit_control(rating_group=7, used_service_unit=UsedServiceUnit(cc_time=3))
        msg.multiple_services_credit_control[0].rating_group = data.draw(u32)
    assert msg.as_bytes()[20:] == ref(msg)


def test_one_class_in_many_shapes_past_the_table_bound():
    names = ["user_name", "service_context_id", "acct_multi_session_id", "sgsn_mcc_mnc",
             "called_station_id", "an_gw_address"]
    b = binding_of(CreditControlRequest)
    for n in range(2 * typed_encode.SHAPES_MAX + 5):
        r = CreditControlRequest()
        r.session_id = f"s;{n}"
        picked = [names[i] for i in range(len(names)) if n >> i & 1]
        for name in reversed(picked) if n & 64 else picked:
            value = f"v{n}"
            setattr(r, name, [value] if name == "an_gw_address" else value)
        assert r.as_bytes()[20:] == ref(r)
        assert len(b.shapes) <= typed_encode.SHAPES_MAX


def test_keys_equal_but_not_the_same_strings():
    first = CreditControlRequest()
    first.session_id = "a"
    first.cc_request_number = 1
    first.as_bytes()
    other = CreditControlRequest()
    other.__dict__["".join(["session", "_id"])] = "b"
    other.__dict__["".join(["cc_request", "_number"])] = 2
    assert other.as_bytes()[20:] == ref(other)
    m = Message.from_bytes(other.as_bytes())
    assert (m.session_id, m.cc_request_number) == ("b", 2)


def test_an_unknown_attribute_warns_in_every_message_of_its_shape():
    for _ in range(3):
        r = CreditControlRequest()
        r.session_id = "s"
        r.sesion_id = "typo"
        with pytest.warns(UnknownAttributeWarning, match="did you mean 'session_id'"):
            wire = r.as_bytes()
        assert wire[20:] == ref_body(r)
    r = CreditControlRequest()
    r.session_id = "s"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownAttributeWarning)
        r.as_bytes()


def test_the_names_set_is_checked_per_set_not_once_per_shape():
    r = CreditControlRequest()
    r.session_id = "x"
    b = binding_of(CreditControlRequest)
    known = frozenset(r.__dict__)
    assert typed_encode.encode_message(r.__dict__, b, known) is not None
    assert typed_encode.encode_message(r.__dict__, b, frozenset({"session_id"})) is None
    assert typed_encode.encode_message(r.__dict__, b, known) is not None


def test_answers_and_subclasses_with_their_own_shapes():
    class MyCCA(CreditControlAnswer):
        pass
    for cls in (CreditControlAnswer, MyCCA, CreditControlAnswer):
        a = cls()
        a.result_code = 2001
        a.session_id = "s"
        a.add_multiple_services_credit_control(rating_group=1, result_code=2001)
        a.append_avp(Avp(99999, 0, b"x", 0))
        assert a.as_bytes()[20:] == ref(a)
