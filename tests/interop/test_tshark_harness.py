"""The tshark harness against hand-built valid and broken Diameter bytes."""

from __future__ import annotations

import struct

import pytest

from . import wire
from .tshark import dissect, dissect_one, have_tshark

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def _require_tshark():
    if not have_tshark():
        pytest.fail("tshark missing: apt-get install tshark libwireshark-data")


def handmade_cer() -> bytes:
    """A CER packed field by field with struct, independent of the helpers."""
    def avp(code: int, flags: int, data: bytes) -> bytes:
        raw = struct.pack("!IB", code, flags) + (8 + len(data)).to_bytes(3, "big") + data
        return raw + b"\x00" * (-len(raw) % 4)

    body = b"".join([
        avp(264, 0x40, b"client.example.net"),
        avp(296, 0x40, b"example.net"),
        avp(257, 0x40, struct.pack("!H4B", 1, 127, 0, 0, 1)),
        avp(266, 0x40, struct.pack("!I", 0)),
        avp(269, 0x00, b"handmade"),
        avp(258, 0x40, struct.pack("!I", 4)),
    ])
    header = struct.pack("!B", 1) + (20 + len(body)).to_bytes(3, "big")
    header += struct.pack("!B", 0x80) + (257).to_bytes(3, "big") + struct.pack("!III", 0, 0x1234, 0x5678)
    return header + body


def test_valid_cer_is_dissected_without_problems():
    d = dissect_one(handmade_cer())
    assert d.errors == [] and d.warnings == []
    assert not d.malformed
    assert (d.command_code, d.command_name) == (257, "Capabilities-Exchange")
    assert d.is_request and d.flags == 0x80 and d.application_id == 0
    assert (d.hop_by_hop, d.end_to_end) == (0x1234, 0x5678)
    assert [(a.code, a.name) for a in d.avps] == [
        (264, "Origin-Host"), (296, "Origin-Realm"), (257, "Host-IP-Address"),
        (266, "Vendor-Id"), (269, "Product-Name"), (258, "Auth-Application-Id"),
    ]
    assert d.find("Origin-Host")[0].value == "client.example.net"
    assert d.find(258)[0].value == "4"
    assert d.find("Product-Name")[0].flags == 0 and d.find("Origin-Host")[0].flags == 0x40


def test_wrong_avp_length_is_reported_malformed():
    msg = bytearray(handmade_cer())
    msg[20 + 5 : 20 + 8] = (200).to_bytes(3, "big")  # Origin-Host claims 200 bytes
    d = dissect_one(bytes(msg))
    assert d.malformed
    assert any("Wrong AVP(264) length 200" in e for e in d.errors), d.errors


def test_avp_length_shorter_than_its_header_is_an_error():
    msg = bytearray(handmade_cer())
    msg[20 + 5 : 20 + 8] = (4).to_bytes(3, "big")
    d = dissect_one(bytes(msg))
    assert d.malformed and d.errors, d


def test_header_length_shorter_than_the_avps_is_an_error():
    msg = bytearray(handmade_cer())
    msg[1:4] = (len(msg) - 8).to_bytes(3, "big")  # cuts the last AVP in half
    d = dissect_one(bytes(msg))
    assert d.malformed and d.errors, d


def test_header_length_beyond_the_data_leaves_no_complete_pdu():
    msg = bytearray(handmade_cer())
    msg[1:4] = (len(msg) + 100).to_bytes(3, "big")
    d = dissect_one(bytes(msg))
    assert d.pdu_count == 0
    assert d.errors == ["tshark found 0 Diameter PDUs in one message"]


def test_grouped_vendor_and_unknown_avps_in_an_answer():
    vsai = wire.avp(260, wire.avp_u32(266, 10415) + wire.avp_u32(258, 16777238))
    msg = wire.message(257, [
        wire.avp_u32(268, 2001),
        wire.avp_str(264, "server.example.net"),
        wire.avp_str(296, "example.net"),
        vsai,
        wire.avp_u32(1032, 1004, vendor=10415),  # 3GPP RAT-Type = EUTRAN
        wire.avp(64999, b"xyz", mandatory=False, vendor=10415),
    ], request=False, hop_by_hop=7, end_to_end=8)
    d = dissect_one(msg)
    assert not d.is_request and d.errors == []
    group = d.find("Vendor-Specific-Application-Id")[0]
    assert group.value is None
    assert [(a.name, a.value) for a in group.avps] == [
        ("Vendor-Id", "10415"), ("Auth-Application-Id", "16777238")]
    rat = d.find("RAT-Type")[0]
    assert (rat.code, rat.vendor_id, rat.flags, rat.value) == (1032, 10415, 0xC0, "1004")
    unknown = d.find(64999)[0]
    assert unknown.name == "Unknown" and unknown.vendor_id == 10415
    assert any("Unknown AVP 64999" in w for w in d.warnings)


def test_messages_are_dissected_independently_and_in_order():
    broken = bytearray(wire.dwr("a.example.net", "example.net"))
    broken[20 + 5 : 20 + 8] = (99).to_bytes(3, "big")
    msgs = [wire.cer("a.example.net", "example.net"), bytes(broken),
            wire.dpr("a.example.net", "example.net")]
    results = dissect(msgs)
    assert [r.command_code for r in results] == [257, 280, 282]
    assert [bool(r.errors) for r in results] == [False, True, False]


def test_message_larger_than_one_segment_is_reassembled():
    big = "x" * 150_000
    msg = wire.message(257, [wire.avp_str(264, "a.example.net"), wire.avp_str(281, big,
                                                                              mandatory=False)])
    d = dissect_one(msg)
    assert d.errors == [] and d.length == len(msg)
    assert d.find("Error-Message")[0].length == 8 + len(big)
