"""The dictionary data against python-diameter 0.9.0, Wireshark and Huawei's list."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diameter.dictionary.generate import build_constants, outputs
from diameter.dictionary.source import load_all
from diameter.dictionary.wireshark import load_wireshark

ROOT = Path(__file__).resolve().parents[2]
PD = json.loads((Path(__file__).parent / "data/python_diameter_0_9_0.json").read_text())
WIRESHARK = Path("/usr/share/wireshark/diameter")
HUAWEI = Path(__file__).parent / "data/huawei-dcc-avps.json"  # copied from the seed

PD_TYPES = {
    "AvpOctetString": {"OctetString", "DiameterIdentity", "DiameterURI", "IPFilterRule",
                       "QoSFilterRule", "UTF8String"},
    "AvpUtf8String": {"UTF8String", "DiameterURI", "DiameterIdentity", "IPFilterRule"},
    "AvpInteger32": {"Integer32", "Enumerated"},
    "AvpUnsigned32": {"Unsigned32"}, "AvpInteger64": {"Integer64"},
    "AvpUnsigned64": {"Unsigned64"}, "AvpAddress": {"Address"}, "AvpTime": {"Time"},
    "AvpFloat32": {"Float32"}, "AvpFloat64": {"Float64"}, "AvpGrouped": {"Grouped"},
}
FAMILIES = [{"OctetString", "UTF8String", "DiameterIdentity", "DiameterURI",
             "IPFilterRule", "QoSFilterRule"}, {"Integer32", "Unsigned32", "Enumerated"}]


def compatible(a: str, b: str) -> bool:
    return a == b or any(a in f and b in f for f in FAMILIES)


@pytest.fixture(scope="module")
def d():
    return load_all()


def test_python_diameter_avps_are_a_subset(d):
    assert len(PD["avps"]) == 2824
    problems = []
    for vendor, code, name, cls, _mandatory in PD["avps"]:
        ours = d.avps.get((vendor, code))
        if ours is None:
            problems.append(f"missing {vendor}/{code} {name}")
        elif ours.name.lower() != name.lower():
            problems.append(f"{vendor}/{code}: {ours.name} != {name}")
        elif ours.type not in PD_TYPES[cls] and (vendor, code) not in _huawei_keys():
            problems.append(f"{vendor}/{code} {name}: {ours.type} vs {cls}")
    assert problems == []


def test_python_diameter_constants_are_reproduced():
    import diameter.message.constants as ours
    problems = []
    for name, value in PD["constants"].items():
        if not hasattr(ours, name):
            problems.append(f"missing {name}")
            continue
        got = getattr(ours, name)
        if isinstance(value, dict):
            for k, v in value.items():
                key = int(k) if k.lstrip("-").isdigit() else k
                if got.get(key) != v:
                    problems.append(f"{name}[{k}] = {got.get(key)!r}, expected {v!r}")
        elif got != value:
            problems.append(f"{name} = {got!r}, expected {value!r}")
    assert problems == []


def test_wireshark_avps_are_a_subset(d):
    ws = load_wireshark(WIRESHARK)
    problems = []
    for key, w in ws.avps.items():
        ours = d.avps.get(key)
        if ours is None:
            problems.append(f"missing {key} {w.name}")
        elif not compatible(ours.type, w.type) and "Wireshark types this" not in ours.note \
                and "Huawei's page says" not in ours.note:
            problems.append(f"{key} {w.name}: {ours.type} vs Wireshark {w.type}, no note")
    assert problems == []


def test_wireshark_folder_loads_into_empty_dictionary():
    ws = load_wireshark(WIRESHARK)
    assert len(ws.avps) >= 2600
    assert ws.vendors[10415].name == "3GPP"
    assert ws.avps[(0, 263)].name == "Session-Id"
    assert ws.avps[(0, 416)].enum[1] == "INITIAL_REQUEST"
    grouped = ws.avps[(0, 443)]
    assert {r.name for r in grouped.grammar} >= {"Subscription-Id-Type", "Subscription-Id-Data"}
    assert any(c.code == 272 for c in ws.commands)
    assert 4 in ws.applications


def _huawei_keys() -> set[tuple[int, int]]:
    return {(e["vendor_id"], e["code"]) for e in json.loads(HUAWEI.read_text())}


def test_huawei_list_is_present_with_types_and_enums(d):
    entries = json.loads(HUAWEI.read_text())
    keys = _huawei_keys()
    assert len(keys) == 352
    for e in entries:
        key = (e["vendor_id"], e["code"])
        if e["name"] == "Calling-Service":
            key = (2011, 20419)       # the page lists 20411 twice; 20411 is Fee-Msg-Num
        ours = d.avps[key]
        if e["vendor_id"] == 2011:
            assert ours.type == e["type"], key
            for value, label in e["enum"].items():
                assert ours.enum[int(value)] == label, (key, value)
    assert d.avps[(2011, 20411)].name == "Fee-Msg-Num"
    assert d.avps[(2011, 20419)].name == "Calling-Service"
    assert d.avps[(2011, 20351)].name == d.avps[(2011, 30348)].name == "Account-Balance-Change"
    assert sum(1 for a in d.avps.values()
               if a.vendor == 2011 and a.name == "Transaction-ID") == 3


def test_huawei_grouped_avps_have_their_members(d):
    from diameter.dictionary.tables import GROUPED_GRAMMARS
    for e in json.loads(HUAWEI.read_text()):
        refs = [r for r in (e.get("children_refs") or []) if r["code"] is not None]
        if e["type"] != "Grouped" or not refs:
            continue
        members = {(v, c) for v, c, *_ in GROUPED_GRAMMARS[(e["vendor_id"], e["code"])]}
        for r in refs:
            assert (r["vendor_id"], r["code"]) in members, (e["name"], r["name"])
    # Huawei's extensions of 3GPP AVPs are recorded as extra members.
    service_info = {(v, c) for v, c, *_ in GROUPED_GRAMMARS[(10415, 873)]}
    assert {(2011, 20300), (2011, 20400)} <= service_info


def test_lookups_by_vendor_and_code_never_collide(d):
    assert d.avps[(0, 2)].name == "User-Password"
    assert d.avps[(10415, 2)].name == "3GPP-Charging-Id"
    from diameter.dictionary.tables import AVPS, ENUMS
    keys = [(v, c) for c, v, *_ in AVPS]
    assert len(keys) == len(set(keys)) == len(d.avps)
    assert set(ENUMS) <= set(keys)


def test_constant_names_are_unique_per_value(d):
    c = build_constants(d)
    assert c["AVP"]["AVP_USER_PASSWORD"] == 2
    assert c["AVP"]["AVP_TGPP_3GPP_CHARGING_ID"] == 2
    assert c["E"]["E_CC_REQUEST_TYPE_INITIAL_REQUEST"] == 1
    names = [n for group in c.values() for n in group]
    assert len(names) == len(set(names))


def test_every_grouped_grammar_ends_with_any_avp(d):
    from diameter.dictionary.tables import GROUPED_GRAMMARS
    assert len(GROUPED_GRAMMARS) > 400
    for key, members in GROUPED_GRAMMARS.items():
        assert members[-1][:2] == (-1, -1), key


def test_generated_files_are_current():
    stale = [p for p, text in outputs().items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]
    assert stale == []


def test_generate_check_command_exits_zero():
    r = subprocess.run([sys.executable, "-m", "diameter.dictionary.generate", "--check"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
