"""AVP flag rules follow the specifications' tables where Wireshark differs."""
from __future__ import annotations

import pytest

from diameter.dictionary.source import load_all
from diameter.message import constants as c
from diameter.message.avp import Avp

TGPP = 10415


@pytest.fixture(scope="module")
def dictionary():
    return load_all()


def _rules(d, vendor: int, code: int) -> tuple[str, str, str]:
    a = d.avps[(vendor, code)]
    return (a.must, a.may, a.must_not)


def test_rfc4740_table_3_every_avp_m_must(dictionary):
    sip = [a for a in dictionary.avps.values() if a.source == "RFC 4740"]
    assert len(sip) >= 26
    assert {(a.must, a.may, a.must_not) for a in sip} == {("M", "P", "V")}


@pytest.mark.parametrize(("code", "expected"), [
    (411, ("", "MP", "V")),    # CC-Correlation-Id: RFC 4006 lets M be set or not
    (440, ("", "MP", "V")),    # Service-Parameter-Info
    (458, ("", "MP", "V")),    # User-Equipment-Info
    (443, ("M", "P", "V")),    # Subscription-Id
    (456, ("M", "P", "V")),    # Multiple-Services-Credit-Control
])
def test_rfc4006_flag_rules(dictionary, code, expected):
    assert _rules(dictionary, 0, code) == expected


@pytest.mark.parametrize("code", [267, 269, 281, 294])
def test_rfc6733_avps_that_must_not_carry_m(dictionary, code):
    must, _may, must_not = _rules(dictionary, 0, code)
    assert "M" not in must and "M" in must_not


@pytest.mark.parametrize("code", [1200, 1266, 1270, 2000, 2040, 2046, 2054])
def test_ts32299_charging_avps_m_must(dictionary, code):
    must, _may, must_not = _rules(dictionary, TGPP, code)
    assert must == "VM" and "M" not in must_not
    assert "TS 32.299" in dictionary.avps[(TGPP, code)].note


def test_new_avps_get_m_from_the_rules():
    assert Avp.new(c.AVP_TGPP_SMS_INFORMATION, c.VENDOR_TGPP).is_mandatory
    assert Avp.new(c.AVP_SIP_ITEM_NUMBER).is_mandatory
    assert not Avp.new(c.AVP_ERROR_MESSAGE).is_mandatory
