"""Message <-> dict/JSON: documented shape and byte-identical round trips."""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.dictionary import tables
from diameter.jsonview import (JsonFormatError, dict_to_bytes, from_dict, from_json, to_dict,
                               to_json)
from diameter.message import Message

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validation.messages import avp, cca, ccr, cer, dwr, message, u32, ulr  # noqa: E402


def roundtrip(wire: bytes) -> dict:
    d = to_dict(wire)
    text = json.dumps(d)
    assert dict_to_bytes(json.loads(text)) == wire
    again = from_json(text)
    assert isinstance(again, Message)
    assert again.as_bytes() == wire
    return d


@pytest.mark.parametrize("build", [ccr, cca, cer, dwr, ulr])
def test_roundtrip_typed_messages(build) -> None:
    msg = build()
    wire = msg.as_bytes()
    roundtrip(wire)
    assert to_dict(msg) == to_dict(wire)
    assert from_dict(to_dict(msg)).as_bytes() == wire


def test_shape_of_header_and_avps() -> None:
    d = to_dict(ccr())
    h = d["header"]
    assert d["format"] == 1
    assert h["command_code"] == 272 and h["command_name"] == "Credit-Control"
    assert h["application_id"] == 4 and "Credit" in h["application_name"]
    assert h["flags"] == {"request": True, "proxyable": True, "error": False,
                          "retransmit": False, "reserved": 0}
    by_name = {a["name"]: a for a in d["avps"]}
    sid = by_name["Session-Id"]
    assert sid == {"name": "Session-Id", "code": 263, "vendor_id": 0, "vendor": None,
                   "flags": {"vendor": False, "mandatory": True, "private": False,
                             "reserved": 0},
                   "type": "UTF8String", "value": "pgw.example.net;1;2"}
    assert by_name["Origin-Host"]["value"] == "pgw.example.net"  # DiameterIdentity as text
    assert by_name["CC-Request-Type"]["value"] == 1
    assert by_name["CC-Request-Type"]["enum"] == "INITIAL_REQUEST"
    assert by_name["Event-Timestamp"]["value"].endswith("Z")
    sub = by_name["Subscription-Id"]
    assert [m["name"] for m in sub["avps"]] == ["Subscription-Id-Type", "Subscription-Id-Data"]
    mscc = by_name["Multiple-Services-Credit-Control"]
    rsu = [m for m in mscc["avps"] if m["name"] == "Requested-Service-Unit"][0]
    assert rsu["avps"] == []


def test_vendor_octetstring_address_time() -> None:
    d = to_dict(ulr())
    plmn = [a for a in d["avps"] if a["name"] == "Visited-PLMN-Id"][0]
    assert (plmn["vendor_id"], plmn["vendor"], plmn["type"], plmn["value"]) == \
        (10415, "3GPP", "OctetString", "00f110")
    assert plmn["flags"]["vendor"] is True
    cer_d = to_dict(cer())
    host_ip = [a for a in cer_d["avps"] if a["name"] == "Host-IP-Address"][0]
    assert host_ip["value"] == "10.0.0.1"
    wire = message(257, 0, 0x80, avp(257, b"\x00\x02" + bytes(15) + b"\x01"),
                   avp(55, struct.pack(">I", 3913056000)))  # Event-Timestamp 2024
    d = roundtrip(wire)
    assert d["avps"][0]["value"] == "::1"
    assert d["avps"][1]["value"] == "2024-01-01T00:00:00Z"


def test_unknown_avps_and_vendors_kept_raw() -> None:
    wire = message(272, 4, 0xC0, avp(263, b"s;1"),
                   avp(4242, b"\x01\x02\x03", flags=0x60, vendor=99999),
                   avp(4243, b"", flags=0x00))
    d = roundtrip(wire)
    unk = d["avps"][1]
    assert unk["name"] == "Unknown" and unk["type"] is None and unk["vendor"] is None
    assert (unk["code"], unk["vendor_id"], unk["raw"]) == (4242, 99999, "010203")
    assert unk["flags"] == {"vendor": True, "mandatory": True, "private": True, "reserved": 0}


def test_unknown_command_and_odd_flag_bits() -> None:
    body = [
        avp(1, b"user", flags=0xC0, vendor=0),          # V bit with Vendor-Id 0
        avp(1, b"user", flags=0x47),                    # reserved AVP flag bits
        avp(1, b"\xff\xfe", flags=0x40),                # not UTF-8: kept raw
        avp(415, b"\x00\x00\x00\x00\x01"),              # Unsigned32 of 5 bytes: raw
        avp(443, b"\x00\x00\x01"),                      # grouped that does not parse: raw
        avp(257, b"\x00\x08" + b"41780000001"),         # E.164 Address: raw
        avp(257, b"\x00\x01\x7f"),                      # short IPv4: raw
    ]
    wire = message(0xABCDE, 77777, 0x9F, *body)     # R + T + all reserved bits
    d = roundtrip(wire)
    assert d["header"]["flags"]["reserved"] == 0x0F
    assert d["header"]["command_name"] is None
    assert d["avps"][0]["flags"]["vendor"] is True and d["avps"][0]["vendor_id"] == 0
    assert d["avps"][1]["flags"]["reserved"] == 7
    assert [("raw" in a) for a in d["avps"]] == [False, False, True, True, True, True, True]


def test_nan_float_and_enum_outside_dictionary() -> None:
    float_avps = [(c, v) for c, v, _n, t, *_ in tables.AVPS if t == "Float32"]
    code, vendor = float_avps[0]
    wire = message(272, 4, 0xC0, avp(code, struct.pack(">f", float("nan")), vendor=vendor),
                   avp(416, u32(12345)))
    d = roundtrip(wire)
    assert "raw" in d["avps"][0]
    assert d["avps"][1]["value"] == 12345 and d["avps"][1]["enum"] is None


def test_hand_written_dict_without_types() -> None:
    d = {"header": {"command_code": 280, "flags": {"request": True}},
         "avps": [{"code": 264, "flags": {"mandatory": True}, "value": "a.example.net"},
                  {"code": 296, "flags": {"mandatory": True}, "value": "example.net"}]}
    msg = from_dict(d)
    assert type(msg).__name__ == "DeviceWatchdogRequest"
    assert msg.origin_host == b"a.example.net"


@pytest.mark.parametrize("bad", [
    {},
    {"header": {"command_code": "x"}},
    {"header": {"command_code": 280}, "avps": [{"code": 1}]},
    {"header": {"command_code": 280}, "avps": [{"code": 4242, "value": 1}]},
    {"header": {"command_code": 280}, "avps": [{"code": 1, "vendor_id": 5, "value": "x"}]},
    {"header": {"command_code": 280}, "avps": [{"code": 415, "value": "seven"}]},
    {"header": {"command_code": 280}, "avps": [{"code": 257, "value": "not-an-ip"}]},
])
def test_bad_dicts_raise_typed_error(bad: dict) -> None:
    with pytest.raises(JsonFormatError):
        from_dict(bad)


def test_bad_json_text() -> None:
    with pytest.raises(JsonFormatError):
        from_json("{not json")


def test_to_json_is_text() -> None:
    assert json.loads(to_json(dwr()))["header"]["command_name"] == "Device-Watchdog"


# -- property: any message made of known and unknown AVPs round-trips -----------

_KNOWN = [(c, v, t) for c, v, _n, t, *_ in tables.AVPS]
_FIXED = {"Integer32": 4, "Integer64": 8, "Unsigned32": 4, "Unsigned64": 8, "Enumerated": 4,
          "Float32": 4, "Float64": 8, "Time": 4}


@st.composite
def _payload(draw, type_name: str) -> bytes:
    size = _FIXED.get(type_name)
    if size is not None and draw(st.booleans()):
        return draw(st.binary(min_size=size, max_size=size))
    if type_name in ("UTF8String", "DiameterIdentity", "DiameterURI") and draw(st.booleans()):
        return draw(st.text(max_size=20)).encode("utf-8")
    if type_name == "Address" and draw(st.booleans()):
        fam = draw(st.sampled_from([1, 2]))
        return fam.to_bytes(2, "big") + draw(st.binary(min_size=4 * fam ** 2, max_size=4 * fam ** 2))
    return draw(st.binary(max_size=24))


def _avps(depth: int):
    @st.composite
    def one(draw) -> bytes:
        flags = draw(st.integers(0, 0x7F)) | (0x80 if draw(st.integers(0, 9)) == 0 else 0)
        if draw(st.integers(0, 4)) == 0:
            code = draw(st.integers(0, 2**32 - 1))
            vendor = draw(st.sampled_from([0, 10415, 99999, 2**32 - 1]))
            return avp(code, draw(st.binary(max_size=24)), flags & 0x7F, vendor)
        code, vendor, type_name = draw(st.sampled_from(_KNOWN))
        if type_name == "Grouped" and depth < 3:
            payload = b"".join(draw(st.lists(_avps(depth + 1), max_size=3)))
        else:
            payload = draw(_payload(type_name))
        return avp(code, payload, flags, vendor)
    return one()


@settings(max_examples=150, deadline=None)
@given(code=st.integers(0, 2**24 - 1), app=st.integers(0, 2**32 - 1),
       flags=st.integers(0, 255), avps=st.lists(_avps(0), max_size=8))
def test_property_roundtrip(code: int, app: int, flags: int, avps: list[bytes]) -> None:
    roundtrip(message(code, app, flags, *avps))
