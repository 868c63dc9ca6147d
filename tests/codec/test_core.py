"""The codec core's two strategies agree: struct vs byte-indexed scanning, lazy vs eager fill.

``diameter.codec.core`` runs interpreted or compiled (mypyc); both scanners and
both attribute strategies exist in either build, so this file tests all of
them whichever build is installed.
"""
from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import core
from diameter.codec.errors import AvpDecodeError
from diameter.message import Message, constants as c
from diameter.message.commands import CreditControlRequest
from diameter.message.commands.credit_control import (
    PsInformation, ServiceInformation, UsedServiceUnit)


def _ccr() -> bytes:
    ccr = CreditControlRequest()
    ccr.session_id = "gw;1;2"
    ccr.origin_host = b"gw.example"
    ccr.origin_realm = b"example"
    ccr.destination_realm = b"ocs.example"
    ccr.cc_request_type = c.E_CC_REQUEST_TYPE_UPDATE_REQUEST
    ccr.cc_request_number = 7
    ccr.event_timestamp = datetime.datetime(2026, 1, 2, 3, 4, 5)
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "41780000001")
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_IMSI, "228010000000001")
    ccr.add_multiple_services_credit_control(
        used_service_unit=UsedServiceUnit(cc_time=60, cc_total_octets=2 ** 40),
        rating_group=100)
    ccr.service_information = ServiceInformation(ps_information=PsInformation(
        called_station_id="internet", sgsn_address=["192.0.2.10"], tgpp_charging_id=b"\0\0\0\1"))
    return ccr.as_bytes()


@pytest.fixture(params=[True, False], ids=["eager", "lazy"])
def strategy(request):
    saved = core.EAGER[0]
    core.EAGER[0] = request.param
    yield request.param
    core.EAGER[0] = saved


def test_compiled_build_when_expected():
    """CI sets DIAMETER_EXPECT_COMPILED=1 after an install that should have compiled."""
    if os.environ.get("DIAMETER_PURE_PYTHON"):
        assert not core.COMPILED
    elif os.environ.get("DIAMETER_EXPECT_COMPILED"):
        assert core.COMPILED, core.__file__


def test_reads_and_unmodified_round_trip(strategy):
    data = _ccr()
    m = Message.from_bytes(data)
    assert m.session_id == "gw;1;2"
    assert m.cc_request_number == 7
    assert m.event_timestamp == datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert [s.subscription_id_data for s in m.subscription_id] == ["41780000001",
                                                                    "228010000000001"]
    usu = m.multiple_services_credit_control[0].used_service_unit[0]
    assert (usu.cc_time, usu.cc_total_octets) == (60, 2 ** 40)
    ps = m.service_information.ps_information
    assert ps.called_station_id == "internet"
    assert ps.sgsn_address == [(1, "192.0.2.10")]
    assert m.user_name is None and m.destination_host is None
    assert m.requested_action is None
    assert m.as_bytes() == data


def test_changes_are_encoded(strategy):
    data = _ccr()
    m = Message.from_bytes(data)
    m.multiple_services_credit_control[0].used_service_unit[0].cc_time = 61
    m.subscription_id.pop()
    m.user_name = "alice"
    out = Message.from_bytes(m.as_bytes())
    assert out.multiple_services_credit_control[0].used_service_unit[0].cc_time == 61
    assert out.multiple_services_credit_control[0].used_service_unit[0].cc_total_octets == 2 ** 40
    assert len(out.subscription_id) == 1
    assert out.user_name == "alice"
    assert out.service_information.ps_information.called_station_id == "internet"


def test_in_place_list_append_of_absent_attribute(strategy):
    m = Message.from_bytes(_ccr())
    m.service_information.ps_information.ggsn_address.append("192.0.2.99")
    out = Message.from_bytes(m.as_bytes())
    assert len(out.service_information.ps_information.ggsn_address) == 1


def test_set_before_first_read_wins(strategy):
    m = Message.from_bytes(_ccr())
    m.cc_request_number = 9
    assert m.session_id == "gw;1;2"
    assert m.cc_request_number == 9
    assert Message.from_bytes(m.as_bytes()).cc_request_number == 9


def test_bad_value_raises_on_read_only(strategy):
    # CC-Request-Number (415) with a 3-byte payload inside a well-framed message
    bad = Message.from_bytes(_ccr())
    bad.cc_request_number = 1
    raw = bad.as_bytes()
    i = raw.index(bytes.fromhex("0000019f4000000c00000001"))
    broken = raw[:i] + bytes.fromhex("0000019f4000000b00000100") + raw[i + 12:]
    m = Message.from_bytes(broken)
    assert m.session_id == "gw;1;2"
    with pytest.raises(AvpDecodeError):
        m.cc_request_number  # noqa: B018
    assert m.origin_host == b"gw.example"


def test_group_reads_in_both_strategies_agree():
    data = _ccr()
    results = []
    for eager in (True, False):
        saved = core.EAGER[0]
        core.EAGER[0] = eager
        try:
            m = Message.from_bytes(data)
            msc = m.multiple_services_credit_control[0]
            results.append((m.session_id, msc.rating_group, msc.used_service_unit[0].cc_time,
                            m.service_information.ps_information.tgpp_charging_id,
                            m.as_bytes()))
        finally:
            core.EAGER[0] = saved
    assert results[0] == results[1]


def _avp(code: int, payload: bytes, vendor: int = 0, flags: int = 0x40) -> bytes:
    if vendor:
        head = code.to_bytes(4, "big") + bytes([flags | 0x80]) + (12 + len(payload)).to_bytes(
            3, "big") + vendor.to_bytes(4, "big")
    else:
        head = code.to_bytes(4, "big") + bytes([flags & 0x7F]) + (8 + len(payload)).to_bytes(
            3, "big")
    return head + payload + b"\0" * (-len(payload) % 4)


avps = st.lists(st.tuples(st.integers(0, 2 ** 32 - 1), st.binary(max_size=20),
                          st.sampled_from([0, 10415, 2011])), max_size=8)


def _outcome(fn, buf: bytes):
    try:
        return fn(buf, 0, len(buf))
    except AvpDecodeError as e:
        return (type(e), e.offset, e.avp_code)


@settings(max_examples=300, deadline=None)
@given(avps, st.data())
def test_scanners_agree(items, data):
    buf = bytearray(b"".join(_avp(code, p, v) for code, p, v in items))
    if buf and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    for b in (bytes(buf), bytes(buf[:cut])):
        expected = _outcome(core._scan_struct, b)
        assert _outcome(core._scan_indexed, b) == expected
        checked = _outcome(core.check, b)
        assert checked == (None if isinstance(expected, list) else expected)
        objects = _outcome(lambda x, s, e: [(a.code, a.vendor_id, a.flags, a.payload) for a in
                                            core.scan_avp_objects(x, s, e, 0)], b)
        if isinstance(expected, list):
            assert objects == [(c_, v, f, b[ps:pe]) for c_, v, f, _s, ps, pe in expected]
        else:
            assert objects == expected
