"""The `diameter json` and `diameter validate` subcommands."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from diameter.cli import main

from .messages import ccr, ccr_bytes, u32, avp


def test_validate_valid_and_invalid(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", ccr().as_bytes().hex()])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = tmp_path / "bad.bin"
    bad.write_bytes(ccr_bytes(avp(415, u32(9))))
    res = runner.invoke(main, ["validate", str(bad)])
    assert res.exit_code == 1
    assert "5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES" in res.output


def test_validate_with_dialect(tmp_path: Path) -> None:
    # a Huawei M-bit AVP (IN-Information, 20300/2011) at the top level of a CCR
    huawei = b"".join([(20300).to_bytes(4, "big"), bytes([0xC0]), (12).to_bytes(3, "big"),
                       (2011).to_bytes(4, "big")])
    path = tmp_path / "huawei.bin"
    path.write_bytes(ccr_bytes(huawei))
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    assert runner.invoke(main, ["validate", "--dialect", "huawei", str(path)]).exit_code == 0
    res = runner.invoke(main, ["validate", "--dialect", "3gpp", str(path)])
    assert res.exit_code == 1 and "5001 DIAMETER_AVP_UNSUPPORTED [AVP 20300/2011]" in res.output
    res = runner.invoke(main, ["validate", "--dialect", "klingon", str(path)])
    assert res.exit_code == 1 and "unknown dialect 'klingon'" in res.output


def test_json_and_back(tmp_path: Path) -> None:
    runner = CliRunner()
    wire = ccr().as_bytes()
    res = runner.invoke(main, ["json", wire.hex()])
    assert res.exit_code == 0
    d = json.loads(res.output)
    assert d["header"]["command_name"] == "Credit-Control"
    path = tmp_path / "m.json"
    path.write_text(res.output)
    back = runner.invoke(main, ["json", "--to-hex", str(path)])
    assert back.exit_code == 0 and back.output.strip() == wire.hex()
    err = runner.invoke(main, ["json", "0100"])
    assert err.exit_code == 1 and "Error" in err.output
