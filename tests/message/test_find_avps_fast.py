"""find_avps on a decoded typed message: the bytes fast path gives what the AVP list gives.

A message unchanged since decoding answers ``find_avps`` from its bytes, building
Avp objects only for the matches; these tests compare it, on messages modified or
not, with the general path (the AVP list of the encoded body) and check that the
quick cleanliness test never calls a changed message clean.
"""
from hypothesis import HealthCheck, given, settings, strategies as st

from diameter.codec.errors import DecodeError
from diameter.codec.wire import scan_avps
from diameter.message import Message
from diameter.message._base import _traverse
from diameter.message._binding import _changes, binding_of, encode_body, is_clean
from diameter.message.avp import Avp
from diameter.message.avp.avp import AvpGrouped, make_avps
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (RequestedServiceUnit, SubscriptionId,
                                                      UsedServiceUnit)

u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=20)
#: vendor AVPs with odd flags; codes and vendors from a small set so that duplicates happen
custom_avps = st.builds(
    lambda code, vendor, payload, flags: Avp(code, vendor, payload, flags),
    st.sampled_from([1, 443, 16777215, 2**32 - 1]), st.sampled_from([0, 10415, 999999]),
    st.binary(max_size=12), st.sampled_from([0x80, 0xA0, 0x40, 0x00]))

#: paths asked for: present and absent keys, into groups, vendor keys, bad key types
PATHS = [((263, 0),), ((264, 0),), ((443, 0),), ((443, 0), (450, 0)), ((443, 0), (444, 0)),
         ((456, 0),), ((456, 0), (432, 0)), ((456, 0), (437, 0), (421, 0)),
         ((456, 0), (446, 0), (420, 0)), ((432, 0), (456, 0)), ((16777215, 999999),),
         ((16777215, 999999), (1, 0)), ((1, 0),), ((1, 10415),), ((443, 10415),),
         ((2**32 - 1, 0),), ((7, 7),), (("a", 0),), ((1, -1),), ((True, 0),)]


@st.composite
def decoded_ccrs(draw):
    ccr = CreditControlRequest()
    ccr.session_id = draw(text)
    ccr.origin_host = draw(st.binary(max_size=10))
    ccr.origin_realm = b"realm"
    ccr.destination_realm = b"dest"
    ccr.cc_request_type = draw(st.integers(1, 4))
    ccr.cc_request_number = draw(u32)
    for _ in range(draw(st.integers(0, 3))):
        ccr.add_subscription_id(draw(st.integers(0, 4)), draw(text))
    for _ in range(draw(st.integers(0, 2))):
        ccr.add_multiple_services_credit_control(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=draw(u32)),
            used_service_unit=UsedServiceUnit(cc_time=draw(u32)), rating_group=draw(u32))
    for a in draw(st.lists(custom_avps, max_size=4)):
        ccr.append_avp(a)
    return Message.from_bytes(ccr.as_bytes())


def _modify(msg, how, data):
    """One of the ways a handler touches a decoded request."""
    if how == "read":
        return (msg.session_id, msg.subscription_id, msg.multiple_services_credit_control,
                msg.origin_host, msg.cc_request_number)
    elif how == "read_only_sid":
        return msg.session_id
    elif how == "set_scalar":
        msg.origin_host = data.draw(st.binary(max_size=10))
    elif how == "set_equal_copy":       # an equal value, another object
        msg.session_id = "".join(list(msg.session_id or "x"))
    elif how == "append_list":
        msg.subscription_id.append(SubscriptionId(subscription_id_type=1, subscription_id_data="1"))
    elif how == "replace_item":
        if msg.subscription_id:
            msg.subscription_id[0] = SubscriptionId(subscription_id_type=2, subscription_id_data="2")
    elif how == "pop_item":
        if msg.subscription_id:
            msg.subscription_id.pop()
    elif how == "grouped_member":
        if msg.multiple_services_credit_control:
            msg.multiple_services_credit_control[0].rating_group = data.draw(u32)
    elif how == "append_avp":
        msg.append_avp(data.draw(custom_avps))
    elif how == "avp_attr":            # a grouped attribute holding a plain Avp of another code
        msg.user_equipment_info = Avp(16777215, 999999, b"abcd", 0x80)
    elif how == "set_none":
        msg.session_id = None


def _canon(avp):
    """Everything a program can read from an Avp (members of groups too)."""
    out = [type(avp), avp.code, avp.vendor_id, avp.flags, avp.name, avp.payload]
    if isinstance(avp, AvpGrouped):
        try:
            out.append([_canon(a) for a in avp.value])
        except DecodeError as e:
            out.append(type(e))
    else:
        try:
            out.append(avp.value)
        except DecodeError as e:
            out.append(type(e))
    return out


def _outcome(find, *args):
    """The canonical found AVPs, or the type of the error raised."""
    try:
        return [_canon(a) for a in find(*args)]
    except DecodeError as e:
        return type(e)


def _general(msg, path):
    """find_avps as the general path answers it: over the AVPs of the encoded body."""
    body = encode_body(msg)
    return _traverse(make_avps(body, scan_avps(body, 0, len(body)), 0), list(path))


def _result(f, *args):
    try:
        return f(*args)
    except DecodeError:
        return DecodeError


def _avps_traverse(msg, path):
    return _traverse(msg.avps, list(path))


def _fully_clean(msg):
    changed, extras_changed = _changes(msg, binding_of(type(msg)), msg.__dict__)
    return not changed and not extras_changed and not msg.__dict__.get("_additional_avps")


MODS = ["none", "read", "read_only_sid", "set_scalar", "set_equal_copy", "append_list",
        "replace_item", "pop_item", "grouped_member", "append_avp", "avp_attr", "set_none"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decoded_ccrs(), st.lists(st.sampled_from(MODS), max_size=3), st.data())
def test_find_avps_matches_general_path(msg, mods, data):
    wire = msg.as_bytes()
    for how in mods:
        try:
            _modify(msg, how, data)
        except DecodeError:       # a custom AVP 443 that is no valid Subscription-Id
            pass
    clean = _result(is_clean, msg)
    assert clean == _result(_fully_clean, msg)
    if all(m in ("none", "read", "read_only_sid") for m in mods) and clean is not DecodeError:
        assert clean
    for path in PATHS:
        got = _outcome(msg.find_avps, *path)
        assert got == _outcome(_general, msg, path), path
        assert got == _outcome(_avps_traverse, msg, path)
    # fresh objects each call, as the general path builds them
    first, again = _result(msg.find_avps, (296, 0)), _result(msg.find_avps, (296, 0))
    if first is not DecodeError:
        assert first and all(a is not b for a, b in zip(first, again))
    if clean is True:
        assert msg.as_bytes() == wire


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decoded_ccrs())
def test_found_avps_are_independent_of_the_request(msg):
    """Changing a found Avp changes neither the request nor a later search."""
    wire = msg.as_bytes()
    before = [_outcome(msg.find_avps, *path) for path in PATHS]
    for path in PATHS:
        try:
            found = msg.find_avps(*path)
        except DecodeError:
            continue
        for a in found:
            a.payload = b"changed"
            if isinstance(a, AvpGrouped):
                a.value = []
    assert msg.as_bytes() == wire
    assert is_clean(msg)
    assert [_outcome(msg.find_avps, *path) for path in PATHS] == before


TEST_REQUEST = bytes.fromhex(   # freeDiameter 1.5 test_app's Test-Request
    "01000090c0fffffe00ffffff3f834a86a21e9475000001074000002e636c69656e742e66642e62656e63683b"
    "313739363534353035373b313b6170705f746573746200000000011b400000117372762e62656e6368000000"
    "0000010840000017636c69656e742e66642e62656e636800000001284000001066642e62656e636800ffffff"
    "80000010000f423f643c9869")


def test_test_app_request_echo():
    req = Message.from_bytes(TEST_REQUEST)
    key = (16777215, 999999)
    sid = req.session_id
    found = req.find_avps(key)
    assert [(a.code, a.vendor_id, a.flags, a.payload) for a in found] == [
        (16777215, 999999, 0x80, bytes.fromhex("643c9869"))]
    assert req.find_avps((263, 0))[0].value == sid
    ans = req.to_answer()
    ans.session_id = sid
    ans.result_code = 2001
    for avp in found:
        ans.append_avp(avp)
    wire = ans.as_bytes()
    assert wire.endswith(found[0].as_bytes())
    back = Message.from_bytes(wire)
    assert [a.payload for a in back.find_avps(key)] == [bytes.fromhex("643c9869")]


def test_plain_and_answer_messages_keep_their_lists():
    plain = Message.from_bytes(TEST_REQUEST, plain_msg=True)
    first = plain.find_avps((16777215, 999999))
    assert first and first[0] is plain.find_avps((16777215, 999999))[0]   # the message's own list
    cca = CreditControlAnswer()
    cca.session_id = "s"
    extra = Avp(16777215, 999999, b"x", 0x80)
    cca.append_avp(extra)
    assert [a.payload for a in cca.find_avps((16777215, 999999))] == [b"x"]
    assert cca.find_avps((263, 0), alt_list=[extra]) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(custom_avps, max_size=4), text, st.booleans())
def test_answer_with_echoed_avps_encodes_as_the_general_path(extra, sid, with_result):
    ans = Message.from_bytes(TEST_REQUEST).to_answer()
    ans.session_id = sid
    if with_result:
        ans.result_code = 2001
    ans.origin_host = b"h"
    for a in extra:
        ans.append_avp(a)
    wire = ans.as_bytes()
    body = encode_body(ans)               # the general path
    assert wire[20:] == body
    assert int.from_bytes(wire[1:4], "big") == len(wire) == ans.header.length
    assert Message.from_bytes(wire).as_bytes() == wire


def test_answer_with_a_non_avp_extra_raises():
    import pytest
    from diameter.codec.errors import AvpEncodeError
    ans = CreditControlAnswer()
    ans.session_id = "s"
    ans.append_avp("not an avp")
    with pytest.raises(AvpEncodeError):
        ans.as_bytes()
