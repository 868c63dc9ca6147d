"""Server configuration and tariff files."""

from __future__ import annotations

import pytest

from diameter.ocs import FinalAction, TariffError, UnitKind, load_tariff
from diameter.ocs.server import load_config

CONFIG = """
[server]
identity = "ocs1.example.net"
realm = "example.net"
port = 3999
database = "postgresql://ocs@/ocs?host=/var/run/postgresql"
max_in_progress = 50
pool_size = 7
vendor_specific_application = false

[[peers]]
identity = "ocg.example.net"
dialect = "huawei"

[tariff.policy]
final_unit_action = "redirect"
redirect_address = "http://pay.example.net/"

[[tariff.rates]]
context = "32260@3gpp.org"
unit = "time"
price = 2
per = 60
default_quota = 600
"""


def test_server_config_file(tmp_path):
    path = tmp_path / "ocs.toml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    assert (cfg.identity, cfg.port, cfg.max_in_progress, cfg.pool_size) == ("ocs1.example.net", 3999, 50, 7)
    assert cfg.database.startswith("postgresql://") and not cfg.vendor_specific_application
    assert [(p.identity, p.dialect) for p in cfg.peers] == [("ocg.example.net", "huawei")]
    assert cfg.tariff.policy.final_unit_action is FinalAction.REDIRECT
    rate = cfg.tariff.rate_for("ext.01.001.8.32260@3gpp.org", None, None)
    assert (rate.unit, rate.cost(61), rate.default_quota) == (UnitKind.TIME, 4, 600)
    # the same file read as a tariff (its [tariff] table)
    assert load_tariff(path).rates == cfg.tariff.rates


def test_bad_files_are_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[tariff\n")
    with pytest.raises(TariffError, match="bad.toml"):
        load_config(bad)
    with pytest.raises(TariffError):
        load_tariff(tmp_path / "missing.toml")


def test_gc_threshold_from_config_and_applied(tmp_path):
    import gc

    from diameter.ocs.server import GC_THRESHOLD, ServerConfig, tune_gc

    assert ServerConfig().gc_threshold == GC_THRESHOLD
    f = tmp_path / "ocs.toml"
    f.write_text("[server]\ngc_threshold = [5000, 15, 25]\n")
    assert load_config(f).gc_threshold == (5000, 15, 25)
    f.write_text("[server]\ngc_threshold = false\n")
    assert load_config(f).gc_threshold is None
    f.write_text('[server]\ngc_threshold = [1, "x"]\n')
    with pytest.raises(TariffError, match="gc_threshold"):
        load_config(f)
    before = gc.get_threshold()
    try:
        tune_gc((5000, 15, 25))
        assert gc.get_threshold() == (5000, 15, 25)
        assert gc.get_freeze_count() > 0
        tune_gc(None)  # leaves it alone
        assert gc.get_threshold() == (5000, 15, 25)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
