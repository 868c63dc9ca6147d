"""`use_source`: the DIAMETER_PURE_PYTHON switch shared by the compiled groups."""
import sys

import pytest

from diameter.codec.source_switch import use_source, wants_source


def _package(tmp_path, name):
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "first.py").write_text("VALUE = 1\n")
    (pkg / "second.py").write_text(f"from {name}.first import VALUE\nDOUBLE = VALUE * 2\n")
    return pkg


def test_loads_the_sources_in_order_when_asked(tmp_path, monkeypatch):
    pkg = _package(tmp_path, "switch_pkg_a")
    monkeypatch.setenv("DIAMETER_PURE_PYTHON", "1")
    assert wants_source()
    try:
        use_source("switch_pkg_a", str(pkg / "__init__.py"), ("first", "second"))
        assert sys.modules["switch_pkg_a.second"].DOUBLE == 2
        assert sys.modules["switch_pkg_a.first"].__file__ == str(pkg / "first.py")
    finally:
        for name in ("switch_pkg_a.first", "switch_pkg_a.second"):
            sys.modules.pop(name, None)


def test_does_nothing_unless_asked(tmp_path, monkeypatch):
    pkg = _package(tmp_path, "switch_pkg_b")
    monkeypatch.delenv("DIAMETER_PURE_PYTHON", raising=False)
    assert not wants_source()
    use_source("switch_pkg_b", str(pkg / "__init__.py"), ("first", "second"))
    assert "switch_pkg_b.first" not in sys.modules


def test_a_missing_source_is_an_import_error(tmp_path, monkeypatch):
    pkg = _package(tmp_path, "switch_pkg_c")
    monkeypatch.setenv("DIAMETER_PURE_PYTHON", "1")
    try:
        with pytest.raises((ImportError, FileNotFoundError)):
            use_source("switch_pkg_c", str(pkg / "__init__.py"), ("first", "absent"))
    finally:
        for name in ("switch_pkg_c.first", "switch_pkg_c.absent"):
            sys.modules.pop(name, None)
