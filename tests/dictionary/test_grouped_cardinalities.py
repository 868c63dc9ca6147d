"""Grouped-AVP member cardinalities follow the specifications.

Wireshark's dictionary has no cardinalities, so an imported grouped AVP read
`*[ X ]` for every member and the typed classes made every member a list.
These tests pin the corrected grammars and the scalar/list shapes they give,
and show a Huawei CCR built with the typed classes surviving a round trip.
"""
from __future__ import annotations

import datetime

import pytest

from diameter.dictionary.source import Rule, load_all
from diameter.message import Message, dump
from diameter.message.avp.grouped import (AccountChangeInfo, Accountinfo, BalanceInfo,
                                          CcMoney, ChargeMoney, InInformation,
                                          NoticeInformation, P2psmsInformation,
                                          RechargeInformation, ServiceInformation,
                                          UnitValue)
from diameter.message.commands import CreditControlRequest

HUAWEI = 2011
TGPP = 10415


@pytest.fixture(scope="module")
def dictionary():
    return load_all()


def _rules(d, vendor: int, code: int) -> dict[str, Rule]:
    avp = d.avps[(vendor, code)]
    return {r.name: r for r in avp.grammar if not r.is_any}


def _shape(rule: Rule) -> str:
    bracket = "{}" if rule.kind in ("fixed", "required") else "[]"
    qual = "" if rule.max == 1 else "*"
    return f"{qual}{bracket[0]}{bracket[1]}"


@pytest.mark.parametrize(("vendor", "code", "expected"), [
    # RFC 6733 / RFC 4006 groups whose members are required
    (0, 284, {"Proxy-Host": "{}", "Proxy-State": "{}"}),
    (0, 443, {"Subscription-Id-Type": "{}", "Subscription-Id-Data": "{}"}),
    (0, 458, {"User-Equipment-Info-Type": "{}", "User-Equipment-Info-Value": "{}"}),
    (0, 413, {"Unit-Value": "{}", "Currency-Code": "[]"}),
    (0, 434, {"Redirect-Address-Type": "{}", "Redirect-Server-Address": "{}"}),
    (0, 430, {"Final-Unit-Action": "{}", "Restriction-Filter-Rule": "*[]",
              "Filter-Id": "*[]", "Redirect-Server": "[]"}),
    (0, 445, {"Value-Digits": "{}", "Exponent": "[]"}),
    (0, 437, {"CC-Time": "[]", "CC-Total-Octets": "[]", "CC-Money": "[]"}),
    # TS 32.299
    (TGPP, 873, {"Subscription-Id": "*[]", "PS-Information": "[]", "IMS-Information": "[]"}),
    (TGPP, 874, {"3GPP-Charging-Id": "[]", "Traffic-Data-Volumes": "*[]",
                 "Service-Data-Container": "*[]", "Offline-Charging": "[]"}),
    (TGPP, 1270, {"Time-Quota-Type": "{}", "Base-Time-Interval": "{}"}),
    (TGPP, 1266, {"Envelope-Start-Time": "{}", "Envelope-End-Time": "[]"}),
    (TGPP, 2030, {"Supplementary-Service": "*[]", "Subscriber-Role": "[]"}),
    # TS 29.272
    (TGPP, 1414, {"RAND": "{}", "XRES": "{}", "AUTN": "{}", "KASME": "{}", "Item-Number": "[]"}),
    # Huawei DCC: scalar members 0..1, repeating groups *
    (HUAWEI, 20300, {"Account-Query-Method": "[]", "Balance-Info": "*[]",
                     "AccountInfo": "*[]", "Account-Change-Info": "*[]",
                     "Recharge-Information": "[]", "Notice-Information": "[]"}),
    (HUAWEI, 60001, {"Balance-Type": "[]", "Current-Balance": "[]", "Balance-Date": "[]"}),
    (HUAWEI, 20349, {"AccountID": "[]", "Account-Balance-Change": "[]"}),
    (HUAWEI, 20341, {"Card-Number": "[]", "Charge-Money": "[]"}),
])
def test_member_cardinalities(dictionary, vendor, code, expected):
    rules = _rules(dictionary, vendor, code)
    assert {name: _shape(rules[name]) for name in expected} == expected


def test_subscription_id_order_and_limits(dictionary):
    rules = [r for r in dictionary.avps[(0, 443)].grammar if not r.is_any]
    assert [(r.name, r.min, r.max) for r in rules] == [
        ("Subscription-Id-Type", 1, 1), ("Subscription-Id-Data", 1, 1)]


# Grouped AVPs of the fixed specifications whose members may all genuinely
# repeat (the specification prints `*[ X ]` for each one).
ALL_REPEATING = {
    (TGPP, 603),    # Server-Capabilities, TS 29.229
    (TGPP, 631),    # Supported-Applications, TS 29.229
    (0, 368),       # SIP-Accounting-Information, RFC 4740
    (0, 372),       # SIP-Server-Capabilities, RFC 4740
    (TGPP, 1002),   # Charging-Rule-Remove, TS 29.212
    (TGPP, 1093),   # ADC-Rule-Remove, TS 29.212
    (TGPP, 1413),   # Authentication-Info, TS 29.272
    (TGPP, 1624),   # Area-Scope, TS 29.272
    (0, 549),       # ETH-Proto-Type, RFC 5777
    (TGPP, 2534),   # Area-Definition, TS 29.172 (1*10 Area, *240 Additional-Area)
    (0, 557),       # User-Priority-Range, RFC 5777
}


@pytest.mark.parametrize("source", ["RFC 6733", "RFC 4006", "3GPP TS 32.299", "huawei",
                                    "3GPP TS 29.212", "3GPP TS 29.214", "3GPP TS 29.229", "3GPP TS 29.272",
                                    "3GPP TS 29.329", "RFC 4740", "RFC 5777"])
def test_no_wireshark_all_star_groups_left(dictionary, source):
    left = []
    for key, avp in dictionary.avps.items():
        if avp.source != source or avp.type != "Grouped" or key in ALL_REPEATING:
            continue
        members = [r for r in avp.grammar if not r.is_any]
        if len(members) >= 2 and all(r.max is None and r.min == 0 for r in members):
            left.append(avp.name)
    assert left == []


def test_no_wireshark_all_star_groups_left_in_any_3gpp_ts(dictionary):
    left = []
    for key, avp in dictionary.avps.items():
        if not avp.source.startswith("3GPP TS") or avp.type != "Grouped" or key in ALL_REPEATING:
            continue
        members = [r for r in avp.grammar if not r.is_any]
        if len(members) >= 2 and all(r.max is None and r.min == 0 for r in members):
            left.append(f"{avp.name} ({avp.source})")
    assert left == []


def _huawei_ccr() -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = "ocg.example;20300;1"
    ccr.origin_host = b"ocg.example"
    ccr.origin_realm = b"example"
    ccr.destination_realm = b"cbp.example"
    ccr.service_context_id = "balance@huawei.com"
    ccr.cc_request_type = 4
    ccr.cc_request_number = 0
    ccr.requested_action = 2
    ccr.event_timestamp = datetime.datetime(2024, 6, 1, 8, 30, 0)
    ccr.add_subscription_id(0, "8613800000001")
    ccr.service_information = ServiceInformation(
        in_information=InInformation(
            account_query_method=1,
            access_method=2,
            calling_party_address="8613800000001",
            balance_info=[
                BalanceInfo(balance_type=2000, current_balance=12_345, measure_type=1,
                            balance_date=datetime.datetime(2024, 12, 31, 0, 0, 0)),
                BalanceInfo(balance_type=2001, current_balance=-50, measure_type=1),
            ],
            accountinfo=[Accountinfo(accountid=b"ACC-1", account_type=2000,
                                     cc_money=CcMoney(unit_value=UnitValue(value_digits=500,
                                                                           exponent=-2),
                                                      currency_code=156))],
            account_change_info=[AccountChangeInfo(accountid=b"ACC-1", account_type=2000,
                                                   account_balance_change=-100)],
            recharge_information=RechargeInformation(
                card_number=b"1234567890", charge_money=ChargeMoney(money_value=1000,
                                                                    active_day=30)),
            notice_information=NoticeInformation(message_count=1,
                                                 message_content_1="balance low"),
        ),
        p2psms_information=P2psmsInformation(sms_type=1, source_addr="8613800000001",
                                             dest_addr="8613800000002"),
    )
    return ccr


def test_huawei_ccr_members_decode_as_scalars_and_lists():
    data = _huawei_ccr().as_bytes()
    back = Message.from_bytes(data)
    assert isinstance(back, CreditControlRequest)
    assert back.as_bytes() == data
    info = back.service_information.in_information
    assert isinstance(info, InInformation)
    # scalar members read a value, not a list
    assert info.account_query_method == 1
    assert type(info.account_query_method) is int
    assert info.access_method == 2
    assert info.calling_party_address == "8613800000001"
    assert info.recharge_information.card_number == b"1234567890"
    assert info.recharge_information.charge_money.money_value == 1000
    assert info.recharge_information.charge_money.active_day == 30
    assert info.notice_information.message_content_1 == "balance low"
    # repeating groups read lists of typed groups whose members are scalars
    assert [b.balance_type for b in info.balance_info] == [2000, 2001]
    assert [b.current_balance for b in info.balance_info] == [12_345, -50]
    assert info.balance_info[0].balance_date == datetime.datetime(2024, 12, 31, 0, 0, 0)
    assert info.balance_info[1].balance_date is None
    assert info.accountinfo[0].cc_money.unit_value.value_digits == 500
    assert info.accountinfo[0].cc_money.unit_value.exponent == -2
    assert info.account_change_info[0].account_balance_change == -100
    sms = back.service_information.p2psms_information
    assert (sms.sms_type, sms.source_addr, sms.dest_addr) == (1, "8613800000001",
                                                              "8613800000002")


def test_huawei_ccr_dump_shows_vendor_members():
    text = dump(Message.from_bytes(_huawei_ccr().as_bytes()))
    assert "IN-Information" in text
    assert "Account-Query-Method" in text
    assert "Balance-Info" in text


def test_grammars_agree_with_python_diameter_shapes(dictionary):
    """Where python-diameter 0.9.0 has a grouped class, a member it makes a list
    repeats in our grammar and a scalar member does not (the class keeps its
    shape either way; see docs/compatibility.md for the exceptions)."""
    import tomllib

    from diameter.dictionary.gen_classes import API_FILE
    with open(API_FILE, "rb") as f:
        api = tomllib.load(f)
    disagree = []
    for cls in api["grouped"].values():
        for vendor, code in cls.get("avps", []):
            avp = dictionary.avps.get((vendor, code))
            if avp is None:
                continue
            rules = {}
            for r in avp.grammar:
                m = None if r.is_any else dictionary.resolve(r, avp.vendor)
                if m is not None:
                    rules[m.key] = r
            for m in cls["members"]:
                r = rules.get((m.get("vendor"), m.get("code")))
                if r is not None and (r.max != 1) != m["list"]:
                    disagree.append(f"{avp.name}.{m['name']}")
    assert disagree == []
