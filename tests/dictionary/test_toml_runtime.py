"""A data file in the package's TOML format, loaded into the running dictionary."""
from __future__ import annotations

from pathlib import Path

from diameter.dictionary import load_toml, load_toml_and_register, saved_runtime
from diameter.message import Message, dump
from diameter.message.avp import Avp, avp_by_name
from diameter.message.commands import CreditControlRequest
from diameter.validation import validate

ACME = '''
[source]
name = "Acme"
vendor = 99999

[[vendors]]
id = 99999
name = "Acme"
const = "ACME"

[[avps]]
code = 1
name = "Acme-Plan"
type = "Enumerated"
must = "V"
may = ""
must_not = "MP"
enum = { 1 = "PREPAID", 2 = "POSTPAID" }

[[avps]]
code = 2
name = "Acme-Info"
type = "Grouped"
must = "V"
may = ""
must_not = "MP"
grammar = "[ Acme-Plan ] [ Session-Id ] *[ AVP ]"
'''


def test_load_toml_reads_the_file(tmp_path: Path):
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    d = load_toml(path)
    assert {a.name for a in d.avps.values()} == {"Acme-Plan", "Acme-Info"}


def test_registered_toml_names_decodes_and_validates(tmp_path: Path):
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    with saved_runtime():
        stats = load_toml_and_register(path)
        assert (stats.vendors, stats.avps, stats.enums, stats.grouped) == (1, 2, 1, 1)
        assert avp_by_name("Acme-Plan") == (1, 99999)
        ccr = CreditControlRequest()
        ccr.session_id, ccr.origin_host, ccr.origin_realm = "a;1;2", b"h", b"r"
        ccr.destination_realm, ccr.service_context_id = b"d", "x"
        ccr.auth_application_id, ccr.cc_request_type, ccr.cc_request_number = 4, 1, 0
        ccr.append_avp(Avp.new(2, 99999, value=[Avp.new(1, 99999, value=2),
                                                Avp.new(263, value="inner")]))
        text = dump(Message.from_bytes(ccr.as_bytes()))
        assert "Acme-Info" in text and "Acme-Plan" in text and "POSTPAID" in text
        assert "Vnd: Acme" in text
        assert not [f for f in validate(ccr.as_bytes()) if f.result_code == 5001]
    assert "Acme-Plan" not in dump(Message.from_bytes(ccr.as_bytes()))


def test_lookup_by_name_forgets_what_saved_runtime_undid(tmp_path: Path):
    import pytest
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    with saved_runtime():
        load_toml_and_register(path)
        assert avp_by_name("Acme-Info") == (2, 99999)
    with pytest.raises(KeyError):
        avp_by_name("Acme-Info")
