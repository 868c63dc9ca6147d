"""``diameter dict``: look-ups by any spelling or code, as a user types them."""
from __future__ import annotations

from .conftest import run_cli, run_json


def test_avp_by_any_spelling_shows_type_flags_grammar_and_use():
    for spelling in ("Multiple-Services-Credit-Control", "multiple_services_credit_control",
                     "MULTIPLE-SERVICES-CREDIT-CONTROL", "AVP_MULTIPLE_SERVICES_CREDIT_CONTROL",
                     "456/0", "456"):
        x = run_json("dict", spelling, "--json", "-k", "avp")[0]  # 456: base protocol first
        assert (x["name"], x["code"], x["vendor_id"], x["type"]) == \
            ("Multiple-Services-Credit-Control", 456, 0, "Grouped")
    assert x["flags"] == {"must": "M", "may": "P", "must_not": "V"}
    rules = {g["rule"]: g["code"] for g in x["grammar"]}
    assert rules["[ Rating-Group ]"] == 432 and rules["*[ Used-Service-Unit ]"] == 446
    assert any(u.startswith("Credit-Control-Request (272, app 4) *[ Multiple-Services-Credit-Control ]")
               for u in x["used_in"])
    text = run_cli("dict", "multiple-services-credit-control", check=True).stdout.decode()
    assert "AVP Multiple-Services-Credit-Control (456)" in text and "used in:" in text


def test_enum_values_and_enum_lookup():
    [x] = run_json("dict", "cc-request-type", "--json")
    assert x["enum"] == {"1": "INITIAL_REQUEST", "2": "UPDATE_REQUEST",
                         "3": "TERMINATION_REQUEST", "4": "EVENT_REQUEST"}
    found = run_json("dict", "E_CC_REQUEST_TYPE_TERMINATION_REQUEST", "--json")
    assert found == [{"kind": "enum", "avp": "CC-Request-Type", "avp_code": 416, "vendor_id": 0,
                      "value": 3, "name": "TERMINATION_REQUEST",
                      "constant": "E_CC_REQUEST_TYPE_TERMINATION_REQUEST"}]


def test_huawei_seed_and_python_diameter_names():
    [x] = run_json("dict", "MO-MSC-Addr", "--json")  # the seed's name
    assert (x["name"], x["code"], x["vendor"]) == ("MO-MSC-Address", 20404, "Huawei")
    [y] = run_json("dict", "AVP_HUAWEI_IN_INFORMATION", "--json")
    assert (y["code"], y["vendor_id"], y["type"]) == (20300, 2011, "Grouped")
    [z] = run_json("dict", "20300/2011", "--json")
    assert z["name"] == "IN-Information"


def test_commands_applications_vendors():
    cmds = run_json("dict", "CreditControlRequest", "--json")
    gy = next(c for c in cmds if c["application_id"] == 4)
    assert gy["abbreviations"] == ["CCR", "CCA"] and "{ CC-Request-Type }" in \
        [g["rule"] for g in gy["request"]]
    assert run_json("dict", "ulr", "--json")[0]["application_id"] == 16777251
    [app] = run_json("dict", "s6a", "--json", "-k", "application")
    assert app["id"] == 16777251
    [vendor] = run_json("dict", "tgpp", "--json", "-k", "vendor")
    assert vendor["id"] == 10415 and vendor["avps"] > 1000


def test_unknown_name_suggests_and_exits_1():
    out = run_cli("dict", "sesion-id")
    assert out.returncode == 1 and b"did you mean" in out.stderr and b"Session-Id" in out.stderr
    assert run_cli("dict").returncode == 2
