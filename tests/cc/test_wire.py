"""The credit-control wire mapping: fast readers/encoders agree with the typed commands."""
from __future__ import annotations

import datetime

import pytest

from diameter.cc import CCResult, FinalUnit, FinalUnitAction, Grant, Money, Units
from diameter.cc.types import RequestType
from diameter.cc.encode import CcaEncoder, CcrTemplate
from diameter.cc.wire import Usage, build_cca, build_ccr, parse_cca, parse_ccr
from diameter.codec.errors import AvpDecodeError
from diameter.message import Message
from diameter.message.avp.grouped import InInformation, ServiceInformation

MONEY = Money(1234, -2, 978)
FU = FinalUnit(FinalUnitAction.REDIRECT, 2, "http://topup.example", (b"permit out ip from any to any",), ("f1",))
RESULT = CCResult(grants=[
    Grant(100, [7], Units(time=60, total_octets=10_000, input_octets=1, output_octets=2, service_specific=3,
                          money=MONEY), 2001, 30, 40, 500, 10, FU, [1, 2]),
    Grant(200, result_code=4012)],
    validity_time=600, credit_control_failure_handling=2, direct_debiting_failure_handling=1,
    cc_session_failover=1, error_message="partly")


def ccr_bytes(rt: int = 2, top: bool = False, retransmit: bool = False) -> bytes:
    usages = [Usage(100, [7], Units(total_octets=5), Units(time=3, money=MONEY), 6), Usage(200, requested=Units())]
    return build_ccr(session_id="pgw;1;9", request_type=rt, request_number=4, origin_host="pgw.example",
                     origin_realm="example", destination_realm="example", destination_host="ocs.example",
                     service_context_id="32251@3gpp.org", subscription_ids=[(0, "4178"), (1, "22801")],
                     usages=usages[:1] if top else usages, retransmit=retransmit, top_level=top).as_bytes()


def test_parse_ccr_mscc_and_lazy_fields():
    raw = ccr_bytes(retransmit=True)
    req = parse_ccr(Message.from_bytes(raw), raw=raw)
    assert (req.session_id, req.request_type, req.request_number, req.retransmitted) == \
        ("pgw;1;9", RequestType.UPDATE, 4, True)
    assert req.origin_host == req.peer == "pgw.example" and req.origin_realm == "example"
    m1, m2 = req.mscc
    assert (m1.rating_group, m1.service_identifiers, m1.requested) == (100, [7], Units(total_octets=5))
    assert m1.used == [Units(time=3, money=MONEY)] and m1.reporting_reasons == [6]
    assert m2.rating_group == 200 and m2.requested == Units() and m2.used == []
    assert req.subscription_ids == [(0, "4178"), (1, "22801")] and req.service_context_id == "32251@3gpp.org"
    assert isinstance(req.event_timestamp, datetime.datetime) and req.termination_cause is None


def test_parse_ccr_top_level_units_and_bad_type():
    raw = ccr_bytes(top=True)
    req = parse_ccr(Message.from_bytes(raw))
    assert req.top_level_units and req.mscc[0].rating_group is None
    assert req.mscc[0].requested == Units(total_octets=5) and req.mscc[0].reporting_reasons == [6]
    bad = bytearray(ccr_bytes())
    m = Message.from_bytes(bytes(bad))
    m.cc_request_type = 9
    with pytest.raises(ValueError):
        parse_ccr(m)


@pytest.mark.parametrize("top", [False, True])
def test_fast_cca_equals_typed_cca(top):
    raw = ccr_bytes(top=top)
    msg = Message.from_bytes(raw)
    req = parse_ccr(msg, raw=raw)
    fast = CcaEncoder(b"ocs.example", b"example").encode(msg, raw, req, RESULT)
    typed = build_cca(msg, req, RESULT, b"ocs.example", b"example").as_bytes()
    assert fast[:20] == typed[:20]
    a, b = parse_cca(fast), parse_cca(typed)
    for attr in ("session_id", "result_code", "request_type", "request_number", "origin_host", "grants", "ccfh",
                 "ddfh", "failover", "validity_time", "final_unit"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert sorted(x.code for x in Message.from_bytes(fast).avps) == sorted(x.code for x in Message.from_bytes(typed).avps)
    if not top:
        g = a.grants[0]
        assert g == RESULT.grants[0] and a.grants[1].result_code == 4012 and a.ccfh == 2 and a.failover == 1
    else:
        assert a.grants[0].granted == RESULT.grants[0].granted and a.final_unit == FU
    assert a.message.error_message == "partly"


def test_ccr_template_matches_typed_ccr():
    si = ServiceInformation(in_information=InInformation(account_query_method=7))
    tpl = CcrTemplate(session_id="pgw;1;9", origin_host="pgw.example", origin_realm="example",
                      destination_realm="example", service_context_id="32251@3gpp.org",
                      subscription_ids=[(0, "4178")], user_name="alice", fields={"service_information": si})
    usages = [Usage(100, [7], Units(total_octets=5), Units(time=3, money=MONEY), 6)]
    raw = tpl.encode(3, 4, usages, destination_host="ocs.example", termination_cause=1, retransmit=True)
    m = Message.from_bytes(raw)
    assert m.header.is_request and m.header.is_proxyable and m.header.is_retransmit
    assert (m.session_id, m.cc_request_type, m.cc_request_number, m.termination_cause) == ("pgw;1;9", 3, 4, 1)
    assert m.destination_host == b"ocs.example" and m.user_name == "alice"
    assert m.service_information.in_information.account_query_method == 7
    assert m.avps[0].code == 263  # Session-Id first
    req = parse_ccr(m)
    assert req.mscc[0].used == [Units(time=3, money=MONEY)] and req.mscc[0].reporting_reasons == [6]
    assert req.event_timestamp is not None and req.multiple_services_indicator == 1


def test_malformed_grouped_avp_is_an_error_not_a_crash():
    raw = bytearray(ccr_bytes())
    # cut the first MSCC's inner length: the outer frame stays valid, the group's content does not
    pos = raw.find((456).to_bytes(4, "big"))
    raw[pos + 8 + 7] = 0xFF
    with pytest.raises((AvpDecodeError, ValueError)):
        parse_ccr(None, raw=bytes(raw))
    with pytest.raises((AvpDecodeError, ValueError)):
        parse_cca(bytes(raw))


def test_typed_extras_take_the_typed_path():
    from diameter.message import Avp
    raw = ccr_bytes()
    msg = Message.from_bytes(raw)
    req = parse_ccr(msg, raw=raw)
    res = CCResult(grants=[Grant(100, granted=Units(time=5))],
                   extra_avps=[(44, 0, b"acct-1"), Avp.new(1, 0, value="alice")])
    a = Message.from_bytes(CcaEncoder(b"ocs.example", b"example").encode(msg, raw, req, res))
    assert a.result_code == 2001 and a.multiple_services_credit_control[0].granted_service_unit.cc_time == 5
    assert [x.value for x in a.find_avps((44, 0))] == [b"acct-1"] and a.find_avps((1, 0))[0].value == "alice"


def test_ccr_template_fast_static_part_equals_typed():
    kw = dict(session_id="pgw;1;9", origin_host="pgw.example", origin_realm="example", destination_realm="example",
              service_context_id="32251@3gpp.org", subscription_ids=[(0, "4178"), (1, "22801")])
    fast = CcrTemplate(user_name="alice", **kw)
    typed = CcrTemplate(fields={"user_name": "alice"}, **kw)  # fields: the typed encoder
    usages = [Usage(100, requested=Units(total_octets=5))]
    a, b = (Message.from_bytes(t.encode(1, 0, usages)) for t in (fast, typed))
    assert a.as_bytes() == b.as_bytes()
    assert a.user_name == "alice" and [(x.subscription_id_type, x.subscription_id_data) for x in a.subscription_id] \
        == [(0, "4178"), (1, "22801")]


def test_parse_ccr_reads_identity_fields_from_the_scan_as_the_typed_command_has_them():
    raw = build_ccr(session_id="ims;2", request_type=4, request_number=0, origin_host="scscf.example",
                    origin_realm="example", destination_realm="example", destination_host=None,
                    service_context_id="ext.01.001.8.32260@3gpp.org", subscription_ids=[(0, "4178"), (2, "sip:a@b")],
                    user_name="alice@example", requested_action=3).as_bytes()
    msg = Message.from_bytes(raw)
    req = parse_ccr(msg, raw=raw)
    typed = Message.from_bytes(raw)
    assert req.subscription_ids == [(s.subscription_id_type, s.subscription_id_data) for s in typed.subscription_id]
    assert req.service_context_id == typed.service_context_id == "ext.01.001.8.32260@3gpp.org"
    assert req.user_name == typed.user_name and req.requested_action == typed.requested_action == 3
    assert req.auth_application_id == typed.auth_application_id == 4 and req.has_request_number
    assert "subscription_id" not in msg.__dict__  # nothing decoded through the typed command


def test_parse_ccr_missing_request_number_and_auth_application_id_are_told_apart():
    m = Message.from_bytes(ccr_bytes())
    m.cc_request_number = None
    m.auth_application_id = None
    raw = m.as_bytes()
    req = parse_ccr(Message.from_bytes(raw), raw=raw)
    assert not req.has_request_number and req.request_number == 0 and req.auth_application_id is None
    assert req.subscription_ids == [(0, "4178"), (1, "22801")]


def test_parse_ccr_takes_subscription_id_from_service_information_when_not_at_the_top():
    r = build_ccr(session_id="s;1", request_type=1, request_number=0, origin_host="h", origin_realm="r",
                  destination_realm="r", destination_host=None, service_context_id="32260@3gpp.org")
    r.service_information = ServiceInformation(subscription_id=[_sub(0, "4179")])
    raw = r.as_bytes()
    req = parse_ccr(Message.from_bytes(raw), raw=raw)
    assert req.subscription_ids == [(0, "4179")]


def _sub(t: int, d: str):
    from diameter.cc.wire import SubscriptionId
    return SubscriptionId(t, d)


def test_corrupted_ccr_bytes_give_a_typed_error_or_a_request():
    """The identity fields read from the scan (Subscription-Id, Service-Context-Id, User-Name,
    Requested-Action...) on corrupted bytes: a CCRequest or a typed error, never anything else."""
    import random

    from diameter.cc.wire import CCRequest

    good = ccr_bytes()
    rng = random.Random(4006)
    for i in range(400):
        raw = bytearray(good)
        if i % 4 == 0:
            raw = raw[:rng.randrange(20, len(raw))]
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(20, len(raw))] = rng.randrange(256)
        try:
            req = parse_ccr(None, raw=bytes(raw))
        except (AvpDecodeError, ValueError):
            continue
        assert isinstance(req, CCRequest)
