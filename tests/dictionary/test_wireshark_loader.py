"""The Wireshark XML loader on small files written here."""
from __future__ import annotations

import pytest

from diameter.dictionary.wireshark import (WiresharkDictionaryError, load_wireshark,
                                           parse_wireshark_text)

MAIN = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE dictionary SYSTEM "dictionary.dtd" [
  <!ENTITY Acme SYSTEM "Acme.xml">
  <!ENTITY Missing SYSTEM "Missing.xml">
]>
<dictionary>
  <base uri="x">
    <command name="Capabilities-Exchange" code="257" vendor-id="None"/>
    <typedefn type-name="OctetString"/>
    <typedefn type-name="UTF8String" type-parent="OctetString"/>
    <typedefn type-name="MyAddr" type-parent="IPAddress"/>
    <avp name="User-Name" code="1" mandatory="must" vendor-bit="mustnot">
      <type type-name="UTF8String"/>
    </avp>
  </base>
  <application id="4" name="Credit Control">
    <command name="Credit-Control" code="272" vendor-id="None"/>
    <avp name="CC-Request-Type" code="416" mandatory="must">
      <type type-name="Enumerated"/>
      <enum name="INITIAL_REQUEST" code="1"/>
    </avp>
  </application>
  <vendor vendor-id="Acme" code="99999" name="Acme Corp"/>
  &Acme;
  &Missing;
</dictionary>
"""

ACME = """<?xml version="1.0" encoding="UTF-8"?>
<vendor vendor-id="Acme" code="99999" name="Acme Corp">
  <avp name="Acme-Box" code="2" mandatory="mustnot" vendor-bit="must" vendor-id="Acme">
    <grouped><gavp name="Acme-Addr"/><gavp name="User-Name"/></grouped>
  </avp>
  <avp name="Acme-Addr" code="3" vendor-bit="must" vendor-id="Acme">
    <type type-name="MyAddr"/>
  </avp>
</vendor>
"""


def test_entities_are_resolved_from_the_folder(tmp_path):
    (tmp_path / "dictionary.xml").write_text(MAIN)
    (tmp_path / "Acme.xml").write_text(ACME)
    d = load_wireshark(tmp_path)
    assert d.avps[(0, 1)].type == "UTF8String"
    assert d.avps[(0, 1)].must == "M" and "V" in d.avps[(0, 1)].must_not
    assert d.avps[(0, 416)].enum == {1: "INITIAL_REQUEST"}
    box = d.avps[(99999, 2)]
    assert box.type == "Grouped" and box.must == "V"
    assert [(r.name, r.vendor) for r in box.grammar] == [
        ("Acme-Addr", 99999), ("User-Name", 0), ("AVP", None)]
    assert d.avps[(99999, 3)].type == "Address"
    assert d.vendors[99999].name == "Acme Corp"
    assert {(c.code, c.application) for c in d.commands} == {(257, 0), (272, 4)}
    assert d.applications[4].commands == ["Credit-Control"]


def test_single_vendor_file_loads_alone(tmp_path):
    f = tmp_path / "Acme.xml"
    f.write_text(ACME)
    d = load_wireshark(f)
    assert set(d.avps) == {(99999, 2), (99999, 3)}


@pytest.mark.parametrize("text", [
    "<dictionary><base><avp name='X' code='abc'><type type-name='Unsigned32'/></avp>"
    "</base></dictionary>",
    "<dictionary><base><avp name='X' code='1'",
    "<dictionary><vendor vendor-id='V' code='x' name='V'/></dictionary>",
    "<dictionary><base><avp name='X' code='1' vendor-id='Nobody'>"
    "<type type-name='Unsigned32'/></avp></base></dictionary>",
])
def test_bad_input_raises_typed_error(text):
    with pytest.raises(WiresharkDictionaryError):
        parse_wireshark_text(text)


def test_missing_path_raises_typed_error(tmp_path):
    with pytest.raises(WiresharkDictionaryError):
        load_wireshark(tmp_path / "nope.xml")
