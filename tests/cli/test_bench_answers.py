"""How ``diameter bench`` reads an answer's Result-Code (its fast path walks the AVP
headers up to the first bytes that look like a Result-Code AVP)."""
from __future__ import annotations

from diameter.cli._avpindex import complete_document
from diameter.cli._client import A
from diameter.cli._scenarios import result_code
from diameter.jsonview import dict_to_bytes

RC_AVP_HEAD = "0000010c4000000c"  # what a Result-Code AVP starts with


def _answer(*avps: dict) -> bytes:
    doc = complete_document({"header": {"command": "CCA", "application_id": 4},
                             "avps": [A("Session-Id", "s;1;2"), *avps]})
    return dict_to_bytes(doc)


def test_result_code_after_other_avps():
    msg = _answer(A("Origin-Host", "server.example"), A("Origin-Realm", "example"),
                  A("Result-Code", 4012))
    assert result_code(msg) == 4012


def test_result_code_bytes_inside_another_avp_are_not_taken():
    # an OctetString whose payload holds a Result-Code AVP's header on a 4-byte boundary
    decoy = {"code": 1, "vendor_id": 0, "flags": {"mandatory": True},
             "raw": "00000000" + RC_AVP_HEAD + "000007d1"}  # would read 2001
    msg = _answer(decoy, A("Result-Code", 5030))
    assert bytes.fromhex(RC_AVP_HEAD + "000007d1") in msg
    assert result_code(msg) == 5030


def test_experimental_result_code_and_none():
    exp = A("Experimental-Result", None, A("Vendor-Id", 10415),
            A("Experimental-Result-Code", 5420))
    assert result_code(_answer(A("Origin-Host", "h.example"), exp)) == 5420
    assert result_code(_answer(A("Origin-Host", "h.example"))) is None
