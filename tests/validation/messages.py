"""Messages for the validation and JSON tests: raw AVP builders and typed messages."""
from __future__ import annotations

import datetime
import struct

from diameter.message import constants
from diameter.message.avp.grouped import MultipleServicesCreditControl, RequestedServiceUnit
from diameter.message.commands import (CapabilitiesExchangeRequest, CreditControlAnswer,
                                       CreditControlRequest, DeviceWatchdogRequest,
                                       UpdateLocationRequest)

def avp(code: int, payload: bytes, flags: int = 0x40, vendor: int = 0) -> bytes:
    if vendor:
        flags |= 0x80
    if flags & 0x80:
        head = struct.pack(">II", code, (flags << 24) | (len(payload) + 12)) + struct.pack(">I", vendor)
    else:
        head = struct.pack(">II", code, (flags << 24) | (len(payload) + 8))
    return head + payload + bytes(-len(payload) & 3)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def message(code: int, app: int, flags: int, *avps: bytes) -> bytes:
    body = b"".join(avps)
    return struct.pack(">IIIII", (1 << 24) | (20 + len(body)), (flags << 24) | code, app,
                       0x1234, 0x5678) + body


def ccr_avps() -> list[bytes]:
    """The AVPs of a minimal valid Gy CCR, Session-Id first."""
    return [avp(263, b"pgw.example.net;1;2"), avp(264, b"pgw.example.net"),
            avp(296, b"example.net"), avp(283, b"ocs.example.net"), avp(258, u32(4)),
            avp(461, b"32251@3gpp.org"), avp(416, u32(1)), avp(415, u32(0))]


def ccr_bytes(*extra: bytes, avps: list[bytes] | None = None) -> bytes:
    return message(272, 4, 0xC0, *(ccr_avps() if avps is None else avps), *extra)


def ccr() -> CreditControlRequest:
    m = CreditControlRequest()
    m.session_id = "pgw.example.net;1;2"
    m.origin_host = b"pgw.example.net"
    m.origin_realm = b"example.net"
    m.destination_realm = b"ocs.example.net"
    m.service_context_id = constants.SERVICE_CONTEXT_PS_CHARGING
    m.cc_request_type = constants.E_CC_REQUEST_TYPE_INITIAL_REQUEST
    m.cc_request_number = 0
    m.event_timestamp = datetime.datetime(2024, 5, 1, 12, 0, 0)
    m.add_subscription_id(constants.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "41780000001")
    mscc = MultipleServicesCreditControl(rating_group=100,
                                         requested_service_unit=RequestedServiceUnit())
    m.multiple_services_credit_control.append(mscc)
    return m


def cer() -> CapabilitiesExchangeRequest:
    m = CapabilitiesExchangeRequest()
    m.origin_host = b"pgw.example.net"
    m.origin_realm = b"example.net"
    m.host_ip_address = ["10.0.0.1"]
    m.vendor_id = 10415
    m.product_name = "test"
    m.auth_application_id = [4]
    return m


def dwr() -> DeviceWatchdogRequest:
    m = DeviceWatchdogRequest()
    m.origin_host = b"pgw.example.net"
    m.origin_realm = b"example.net"
    return m


def ulr() -> UpdateLocationRequest:
    m = UpdateLocationRequest()
    m.session_id = "mme.example.net;1"
    m.auth_session_state = constants.E_AUTH_SESSION_STATE_NO_STATE_MAINTAINED
    m.origin_host = b"mme.example.net"
    m.origin_realm = b"example.net"
    m.destination_realm = b"hss.example.net"
    m.user_name = "001010123456789"
    m.rat_type = constants.E_RAT_TYPE_EUTRAN
    m.ulr_flags = 34
    m.visited_plmn_id = bytes.fromhex("00f110")
    return m


def cca() -> CreditControlAnswer:
    req = ccr()
    m = req.to_answer()
    m.session_id = req.session_id
    m.origin_host = b"ocs.example.net"
    m.origin_realm = b"example.net"
    m.result_code = constants.E_RESULT_CODE_DIAMETER_SUCCESS
    m.cc_request_type = req.cc_request_type
    m.cc_request_number = req.cc_request_number
    return m
