"""A run-time dictionary install reaches the running tables whatever the import order.

The dictionary layer imports nothing above it: the AVP tables (``message``) and the
JSON view's names attach themselves to ``diameter.dictionary.runtime`` when imported,
and are handed what was installed before. Each case runs in a fresh interpreter, so
that ``diameter.message`` is really imported after the install.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

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
grammar = "[ Acme-Plan ] *[ AVP ]"
'''

PRELUDE = '''
import sys
from diameter.dictionary import empty_runtime, load_toml_and_register, saved_runtime
assert "diameter.message" not in sys.modules, "imported too early"

def acme_text():
    from diameter.message import Message, dump
    from diameter.message.avp import Avp
    from diameter.message.commands import DeviceWatchdogRequest
    dwr = DeviceWatchdogRequest()
    dwr.origin_host, dwr.origin_realm = b"h", b"r"
    dwr.append_avp(Avp.new(2, 99999, value=[Avp.new(1, 99999, value=2)]))
    return dump(Message.from_bytes(dwr.as_bytes()))
'''


def run(tmp_path: Path, body: str) -> str:
    (tmp_path / "acme.toml").write_text(ACME)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(SRC), PYTHONDONTWRITEBYTECODE="1")
    script = PRELUDE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_installed_before_the_message_layer_is_imported(tmp_path: Path):
    out = run(tmp_path, '''
        stats = load_toml_and_register("acme.toml")
        assert (stats.avps, stats.grouped) == (2, 1)
        text = acme_text()
        assert "Acme-Info" in text and "POSTPAID" in text and "Vnd: Acme" in text, text
        from diameter.message.avp import avp_by_name
        from diameter.validation.rules import default_rules
        assert avp_by_name("Acme-Plan") == (1, 99999)
        assert default_rules().grouped(2 | 99999 << 32) is not None
        print("ok")
    ''')
    assert out.split() == ["ok"]


def test_a_saved_block_forgets_what_was_imported_and_installed_inside(tmp_path: Path):
    out = run(tmp_path, '''
        with saved_runtime():
            load_toml_and_register("acme.toml")
            assert "POSTPAID" in acme_text()       # the message layer is imported here
        from diameter.message.avp import avp_by_name
        assert avp_by_name("Session-Id") == (263, 0)   # the generated data is back
        try:
            avp_by_name("Acme-Plan")
        except KeyError:
            print("forgotten")
    ''')
    assert out.split() == ["forgotten"]


def test_an_empty_block_empties_tables_attached_inside_it(tmp_path: Path):
    out = run(tmp_path, '''
        with empty_runtime():
            from diameter import jsonview
            from diameter.message.avp import avp_by_name
            assert not jsonview.COMMAND_NAMES
            try:
                avp_by_name("Session-Id")
            except KeyError:
                print("empty")
            load_toml_and_register("acme.toml")
            assert avp_by_name("Acme-Plan") == (1, 99999)
        assert avp_by_name("Session-Id") == (263, 0)
        assert jsonview.COMMAND_NAMES[280] == "Device-Watchdog"
        print("restored")
    ''')
    assert out.split() == ["empty", "restored"]
