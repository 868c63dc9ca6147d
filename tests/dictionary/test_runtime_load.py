"""Loading Wireshark XML into the running dictionary at run time.

Debian's Wireshark files (libwireshark-data) go into an EMPTY running
dictionary; a CCR built by this package then decodes with names, vendor names
and enum value names that can only have come from those files. A small vendor
XML written here makes an unknown AVP decode with its name and type.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from diameter.dictionary import (empty_runtime, install, load_and_register, load_wireshark,
                                 saved_runtime)
from diameter.jsonview import to_dict, to_json
from diameter.message import Message, dump
from diameter.message.avp import Avp
from diameter.message.avp.grouped import PsInformation, ServiceInformation
from diameter.message.commands import CreditControlRequest
from diameter.validation import validate
from diameter.validation.rules import default_rules, key_of

WIRESHARK = Path("/usr/share/wireshark/diameter/dictionary.xml")
needs_wireshark = pytest.mark.skipif(not WIRESHARK.is_file(),
                                     reason="libwireshark-data is not installed")


def _ccr() -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = "pgw.example;42;1"
    ccr.origin_host = b"pgw.example"
    ccr.origin_realm = b"example"
    ccr.destination_realm = b"ocs.example"
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 0
    ccr.add_subscription_id(1, "228011234567890")
    ccr.service_information = ServiceInformation(ps_information=PsInformation(
        tgpp_charging_id=b"\x00\x00\x00\x07", tgpp_pdp_type=0, serving_node_type=2,
        called_station_id="internet"))
    return ccr


def _find(avps: list[dict], name: str) -> dict:
    for a in avps:
        if a["name"] == name:
            return a
        found = _find(a.get("avps", []), name) if "avps" in a else None
        if found:
            return found
    return {}


@needs_wireshark
def test_debian_wireshark_files_into_an_empty_runtime():
    data = _ccr().as_bytes()
    with empty_runtime():
        # nothing known: every AVP is Unknown, no vendor or enum names
        bare = dump(Message.from_bytes(data))
        assert "Session-Id" not in bare and "Unknown <Code: 0x107" in bare
        assert to_dict(data)["avps"][0]["name"] == "Unknown"

        stats = install(load_wireshark(WIRESHARK))   # dictionary.xml and its entities
        assert stats.avps > 2000 and stats.vendors > 20 and stats.enums > 300
        assert stats.applications > 50 and stats.commands > 50 and stats.grouped > 300

        text = dump(Message.from_bytes(data))
        assert "Session-Id <Code: 0x107" in text
        assert "Val: 1 (INITIAL_REQUEST)" in text                  # CC-Request-Type enum
        assert "Subscription-Id-Type <Code: 0x1c2" in text
        assert "Val: 1 (END_USER_IMSI)" in text
        assert "Service-Information <Code: 0x369" in text and "Vnd: 3GPP" in text
        assert "Serving-Node-Type <Code: 0x7ff" in text and "Val: 2 (GTPSGW)" in text
        assert "3GPP-PDP-Type <Code: 0x03" in text and "Val: 0 (IPv4)" in text

        view = json.loads(to_json(data))
        assert view["header"]["command_name"] == "Credit-Control"
        assert view["header"]["application_name"]            # from Wireshark's list
        node = _find(view["avps"], "Serving-Node-Type")
        assert node["vendor"] == "3GPP" and node["vendor_id"] == 10415
        assert node["type"] == "Enumerated" and node["value"] == 2 and node["enum"] == "GTPSGW"
        assert _find(view["avps"], "Called-Station-Id")["value"] == "internet"
        # grouped members from the XML reach validation: the CCR checks clean
        assert validate(Message.from_bytes(data)) == []
    # the running dictionary is back as it was
    assert "Session-Id <Code: 0x107" in dump(Message.from_bytes(data))


ACME_XML = """<?xml version="1.0" encoding="UTF-8"?>
<dictionary>
  <vendor vendor-id="Acme" code="64999" name="Acme Telecom"/>
  <application id="16777999" name="Acme Rating">
    <avp name="Acme-Plan" code="7001" mandatory="mustnot" vendor-bit="must" vendor-id="Acme">
      <type type-name="Enumerated"/>
      <enum name="PREPAID" code="1"/>
      <enum name="POSTPAID" code="2"/>
    </avp>
    <avp name="Acme-Label" code="7002" mandatory="mustnot" vendor-bit="must" vendor-id="Acme">
      <type type-name="UTF8String"/>
    </avp>
    <avp name="Acme-Info" code="7003" mandatory="mustnot" vendor-bit="must" vendor-id="Acme">
      <grouped>
        <gavp name="Acme-Plan"/>
        <gavp name="Acme-Label"/>
      </grouped>
    </avp>
  </application>
</dictionary>
"""


def _acme_message() -> bytes:
    ccr = _ccr()
    info = Avp(7003, 64999, flags=0x80)
    info.payload = (Avp(7001, 64999, (2).to_bytes(4, "big"), 0x80).as_bytes()
                    + Avp(7002, 64999, b"gold", 0x80).as_bytes())
    ccr.append_avp(info)
    return ccr.as_bytes()


def test_extra_vendor_file_at_run_time(tmp_path):
    data = _acme_message()
    before = dump(Message.from_bytes(data))
    assert "Acme" not in before
    assert "Unknown <Code: 0x1b5b, Flags: 0x80 (V--)" in before   # 7003, vendor 64999
    path = tmp_path / "Acme.xml"
    path.write_text(ACME_XML)
    info_key = key_of(7003, 64999)
    assert default_rules().grouped(info_key) is None
    with saved_runtime():
        d = load_and_register(path)
        assert (64999, 7001) in d.avps
        # validation sees the new grouped grammar (its compiled-grammar cache was reset)
        grammar = default_rules().grouped(info_key)
        assert grammar is not None
        text = dump(Message.from_bytes(data))
        assert "Acme-Info <Code: 0x1b5b, Flags: 0x80 (V--)" in text
        assert "Vnd: Acme Telecom" in text
        assert "Acme-Plan <Code: 0x1b59" in text and "Val: 2 (POSTPAID)" in text
        assert "Acme-Label <Code: 0x1b5a" in text and "Val: gold" in text
        # the running dictionary keeps everything else
        assert "Session-Id <Code: 0x107" in text
        label = _find(to_dict(data)["avps"], "Acme-Label")
        assert label["type"] == "UTF8String" and label["value"] == "gold"
        plan = _find(to_dict(data)["avps"], "Acme-Plan")
        assert plan["type"] == "Enumerated" and plan["enum"] == "POSTPAID"
    # forgotten again once the block ends
    assert "Acme" not in dump(Message.from_bytes(data))
    assert default_rules().grouped(info_key) is None


def test_single_avp_register_python_diameter_style():
    from diameter.message.avp import AvpGrouped, AvpUnsigned32, register
    data = _acme_message()
    with saved_runtime():
        register(7003, "Acme-Info", AvpGrouped, vendor=64999)
        register(7001, "Acme-Plan", AvpUnsigned32, vendor=64999)
        text = dump(Message.from_bytes(data))
        assert "Acme-Info <Code: 0x1b5b" in text
        assert "Acme-Plan <Code: 0x1b59" in text and "Val: 2>" in text   # no enum names
        assert "Unknown <Code: 0x1b5a" in text          # Acme-Label was not registered
    assert "Acme-Info" not in dump(Message.from_bytes(data))
