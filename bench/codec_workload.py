"""Codec workloads, written against python-diameter 0.9.0's public API only.

The same file runs under python-diameter and under this package; ``bench/codec.py``
starts it in both interpreters and compares the timings.
"""
from __future__ import annotations

import datetime
import json
import sys
import time

from diameter.message import Message, constants as c
from diameter.message.commands import CreditControlRequest
from diameter.message.commands.credit_control import (
    PsInformation, RequestedServiceUnit, ServiceInformation,
    UsedServiceUnit, UserEquipmentInfo)

CEA_HEX = (
    "0100013c0000010100000000b237ee976801428f000001084000001c64726130312e6e"
    "616b616d6f62696c652e6e657400000128400000166e616b616d6f62696c652e6e6574"
    "0000000001164000000c6076e4b70000010c4000000c000007d1000001190000003a49"
    "6e76616c696420737461746520746f20726563656976652061206e657720636f6e6e65"
    "6374696f6e20617474656d70742e0000000001014000000e00010a0a32be0000000001"
    "0a4000000c000099300000010d0000000b424658000000010b0000000c0000012c0000"
    "01024000000c00000004000001094000000c00000009000001094000000c000000c100"
    "0001094000000c0000159f000001094000000c000028af000001094000000c00002d3c"
    "000001094000000c000032db000001094000000c0000531a000001094000000c000099"
    "30")


def build_ccr() -> bytes:
    """Build a Gy CCR-Update (~700 bytes, ~41 AVPs) from attributes and encode it."""
    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = 0x1234
    ccr.header.end_to_end_identifier = 0x5678
    ccr.session_id = "pgw1.op.net;1700000000;42"
    ccr.origin_host = b"pgw1.op.net"
    ccr.origin_realm = b"op.net"
    ccr.destination_realm = b"ocs.op.net"
    ccr.destination_host = b"ocs1.ocs.op.net"
    ccr.service_context_id = c.SERVICE_CONTEXT_PS_CHARGING
    ccr.cc_request_type = c.E_CC_REQUEST_TYPE_UPDATE_REQUEST
    ccr.cc_request_number = 3
    ccr.origin_state_id = 1700000000
    ccr.event_timestamp = datetime.datetime(2026, 11, 24, 12, 0, 0)
    ccr.user_name = "user@op.net"
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "41780000001")
    ccr.add_subscription_id(c.E_SUBSCRIPTION_ID_TYPE_END_USER_IMSI, "228010000000001")
    ccr.multiple_services_indicator = 1
    ccr.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=0),
        used_service_unit=UsedServiceUnit(cc_time=60, cc_total_octets=1048576,
                                          cc_input_octets=524288, cc_output_octets=524288),
        service_identifier=1, rating_group=100)
    ccr.user_equipment_info = UserEquipmentInfo(
        user_equipment_info_type=0, user_equipment_info_value=b"3534560000000001")
    ps = PsInformation(
        tgpp_charging_id=b"\x00\x00\x10\x01",
        tgpp_pdp_type=0,
        pdp_address="10.1.2.3",
        sgsn_address=["192.0.2.10"],
        ggsn_address=["192.0.2.20"],
        tgpp_imsi_mcc_mnc="22801",
        tgpp_ggsn_mcc_mnc="22801",
        tgpp_nsapi=b"5",
        called_station_id="internet",
        tgpp_selection_mode="0",
        tgpp_charging_characteristics="0800",
        tgpp_sgsn_mcc_mnc="22801",
        tgpp_ms_timezone=b"\x40\x00",
        tgpp_user_location_info=b"\x82\x22\xf8\x10\x00\x01\x22\xf8\x10\x00\x00\x00\x01",
        tgpp_rat_type=b"\x06",
    )
    ccr.service_information = ServiceInformation(ps_information=ps)
    return ccr.as_bytes()


def decode_read5(data: bytes) -> tuple:
    msg = Message.from_bytes(data)
    return (msg.session_id, msg.cc_request_number,
            msg.subscription_id[1].subscription_id_data,
            msg.multiple_services_credit_control[0].used_service_unit[0].cc_total_octets,
            msg.service_information.ps_information.called_station_id)


def _walk(avps: list, out: list) -> None:
    for a in avps:
        v = a.value
        if isinstance(v, list):
            _walk(v, out)
        else:
            out.append(v)


def decode_all_values(data: bytes) -> int:
    msg = Message.from_bytes(data)
    out: list = []
    _walk(msg.avps, out)
    return len(out)


def decode_cea(data: bytes) -> int:
    msg = Message.from_bytes(data)
    return msg.result_code


def _time(fn, arg, number: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(number):
            fn(arg)
        best = min(best, (time.process_time() - t0) / number)
    return best * 1e6


def _build() -> str:
    try:
        from diameter.codec import core
    except ImportError:          # python-diameter
        return "python-diameter"
    return "compiled core (mypyc)" if core.COMPILED else "pure-Python core"


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    ccr = build_ccr()
    cea = bytes.fromhex(CEA_HEX)
    n = max(1, int(2000 * scale))
    res = {
        "ccr_bytes": len(ccr),
        "ccr_avps": decode_all_values(ccr),
        "a_decode_read5_us": _time(decode_read5, ccr, n, 5),
        "b_build_encode_us": _time(lambda _: build_ccr(), None, n, 5),
        "c_decode_all_values_us": _time(decode_all_values, ccr, n, 5),
        "d_decode_cea_us": _time(decode_cea, cea, n, 5),
        "check": [str(v) for v in decode_read5(ccr)],
        "build": _build(),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
