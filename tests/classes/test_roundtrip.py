"""Set attributes on typed messages, encode with the runtime, decode, compare."""
from __future__ import annotations

import datetime

from diameter.message import Message
from diameter.message.avp.grouped import (MultipleServicesCreditControl, PsInformation,
                                          RequestedServiceUnit, ServiceInformation,
                                          SubscriptionId, UsedServiceUnit)
from diameter.message.commands import (CapabilitiesExchangeAnswer, CreditControlAnswer,
                                       CreditControlRequest, UpdateLocationRequest,
                                       commands_by_application)


def _roundtrip(msg: Message) -> Message:
    data = msg.as_bytes()
    back = Message.from_bytes(data)
    assert type(back) is type(msg)
    assert back.as_bytes() == data
    return back


def test_credit_control_request():
    ccr = CreditControlRequest()
    ccr.session_id = "ocs.example;1;2"
    ccr.origin_host = b"pgw.example"
    ccr.origin_realm = b"example"
    ccr.destination_realm = b"ocs.example"
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 0
    ccr.event_timestamp = datetime.datetime(2024, 5, 1, 12, 0, 0)
    ccr.add_subscription_id(0, "41780000001")
    ccr.add_subscription_id(1, "228011234567890")
    ccr.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=1_000_000),
        used_service_unit=UsedServiceUnit(cc_input_octets=10, cc_output_octets=20),
        rating_group=8000, service_identifier=[1, 2])
    ccr.service_information = ServiceInformation(
        ps_information=PsInformation(called_station_id="internet"))
    back = _roundtrip(ccr)
    assert back.header.is_request and back.header.is_proxyable
    assert back.auth_application_id == 4
    assert back.session_id == "ocs.example;1;2"
    assert back.origin_host == b"pgw.example"
    assert back.event_timestamp == datetime.datetime(2024, 5, 1, 12, 0, 0)
    assert back.subscription_id == [SubscriptionId(0, "41780000001"),
                                    SubscriptionId(1, "228011234567890")]
    mscc = back.multiple_services_credit_control[0]
    assert isinstance(mscc, MultipleServicesCreditControl)
    assert mscc.rating_group == 8000
    assert mscc.service_identifier == [1, 2]
    assert mscc.requested_service_unit.cc_total_octets == 1_000_000
    assert mscc.used_service_unit[0].cc_output_octets == 20
    assert back.service_information.ps_information.called_station_id == "internet"
    assert back.user_name is None


def test_credit_control_answer_from_request():
    cca = CreditControlAnswer()
    cca.session_id = "ocs.example;1;2"
    cca.result_code = 2001
    cca.origin_host = b"ocs.example"
    cca.origin_realm = b"example"
    cca.cc_request_type = 1
    cca.cc_request_number = 0
    back = _roundtrip(cca)
    assert not back.header.is_request
    assert back.result_code == 2001
    assert back.multiple_services_credit_control == []


def test_capabilities_exchange_answer():
    cea = CapabilitiesExchangeAnswer()
    cea.result_code = 2001
    cea.origin_host = b"dra.example"
    cea.origin_realm = b"example"
    cea.host_ip_address = ["127.0.0.1"]
    cea.vendor_id = 0
    cea.product_name = "test"
    cea.auth_application_id = [4]
    back = _roundtrip(cea)
    # python-diameter reads an Address as (address family, text)
    assert back.host_ip_address == [(1, "127.0.0.1")]
    assert back.auth_application_id == [4]
    assert back.product_name == "test"


def test_update_location_request():
    ulr = UpdateLocationRequest()
    ulr.session_id = "mme.example;1"
    ulr.auth_session_state = 1
    ulr.origin_host = b"mme.example"
    ulr.origin_realm = b"epc.example"
    ulr.destination_realm = b"hss.example"
    ulr.user_name = "228011234567890"
    ulr.rat_type = 1004
    ulr.ulr_flags = 34
    ulr.visited_plmn_id = b"\x22\xf8\x10"
    back = _roundtrip(ulr)
    assert back.user_name == "228011234567890"
    assert back.rat_type == 1004
    assert back.visited_plmn_id == b"\x22\xf8\x10"
    assert commands_by_application[(16777251, 316)] is type(ulr).__mro__[1]
