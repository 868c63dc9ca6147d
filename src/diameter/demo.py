"""A Gy credit-control exchange built, encoded, decoded and dumped (``diameter demo``)."""
from __future__ import annotations

import datetime

from .message import Message, constants as c, dump
from .message.commands import CreditControlAnswer, CreditControlRequest
from .message.commands.credit_control import (
    GrantedServiceUnit, PsInformation, RequestedServiceUnit,
    ServiceInformation, UsedServiceUnit, UserEquipmentInfo)


def build_ccr() -> CreditControlRequest:
    """A Gy CCR-Update as a PGW would send it."""
    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = 0x1001
    ccr.header.end_to_end_identifier = 0x2002
    ccr.session_id = "pgw1.example.net;1700000000;42"
    ccr.origin_host = b"pgw1.example.net"
    ccr.origin_realm = b"example.net"
    ccr.destination_realm = b"ocs.example.net"
    ccr.service_context_id = c.SERVICE_CONTEXT_PS_CHARGING
    ccr.cc_request_type = c.E_CC_REQUEST_TYPE_UPDATE_REQUEST
    ccr.cc_request_number = 1
    ccr.event_timestamp = datetime.datetime(2026, 11, 24, 12, 0, 0)
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "41780000001")
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_IMSI, "228010000000001")
    ccr.multiple_services_indicator = 1
    ccr.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=0),
        used_service_unit=UsedServiceUnit(cc_time=60, cc_total_octets=1048576),
        rating_group=100)
    ccr.user_equipment_info = UserEquipmentInfo(
        user_equipment_info_type=0, user_equipment_info_value=b"3534560000000001")
    ccr.service_information = ServiceInformation(ps_information=PsInformation(
        called_station_id="internet", tgpp_rat_type=b"\x06", pdp_address="10.1.2.3"))
    return ccr


def build_cca(ccr: CreditControlRequest) -> CreditControlAnswer:
    """The OCS's answer: success and a new quota of 10 MB for the rating group."""
    cca = ccr.to_answer()
    cca.session_id = ccr.session_id
    cca.origin_host = b"ocs1.ocs.example.net"
    cca.origin_realm = b"ocs.example.net"
    cca.result_code = c.E_RESULT_CODE_DIAMETER_SUCCESS
    cca.cc_request_type = ccr.cc_request_type
    cca.cc_request_number = ccr.cc_request_number
    cca.add_multiple_services_credit_control(
        granted_service_unit=GrantedServiceUnit(cc_total_octets=10485760),
        rating_group=100, validity_time=3600, result_code=c.E_RESULT_CODE_DIAMETER_SUCCESS)
    return cca


def run() -> str:
    """Build, encode, decode and dump a CCR and its CCA; return the text."""
    out = []
    ccr = build_ccr()
    wire = ccr.as_bytes()
    decoded = Message.from_bytes(wire)
    assert decoded.as_bytes() == wire
    out.append(f"CCR: {len(wire)} bytes, decoded as {type(decoded).__name__}")
    out.append(dump(decoded))
    cca = build_cca(decoded)
    wire_a = cca.as_bytes()
    decoded_a = Message.from_bytes(wire_a)
    out.append(f"CCA: {len(wire_a)} bytes, decoded as {type(decoded_a).__name__}, "
               f"Result-Code {decoded_a.result_code}, granted "
               f"{decoded_a.multiple_services_credit_control[0].granted_service_unit.cc_total_octets}"
               " octets")
    out.append(dump(decoded_a))
    return "\n".join(out)
