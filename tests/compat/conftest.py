"""python-diameter 0.9.0's sdist, fetched from PyPI at test time (never stored here).

Set PYTHON_DIAMETER_SDIST to a local python_diameter-0.9.0.tar.gz (or to an
unpacked sdist folder) to run without PyPI. The tests skip, saying why, only
when PyPI cannot be reached.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

VERSION = "0.9.0"


def _index_unreachable() -> str | None:
    """Why the package index cannot be reached, or None if it answers."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/python-diameter/", timeout=15) as r:
            r.read(1)
    except (OSError, ValueError) as e:   # URLError is an OSError
        return f"{index}: {e}"
    return None


def _download(dest: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"python-diameter=={VERSION}", "-d", str(dest), "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        why = _index_unreachable()
        if why is not None:
            pytest.skip(f"PyPI unreachable ({why}), cannot fetch python-diameter {VERSION}")
        pytest.fail(f"pip download of python-diameter {VERSION} failed:\n{out}")
    found = sorted(dest.glob("python[_-]diameter-*.tar.gz"))
    assert found, f"pip download saved no sdist:\n{out}"
    return found[0]


@pytest.fixture(scope="session")
def python_diameter_sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unpacked sdist folder (with tests/ and examples/)."""
    local = os.environ.get("PYTHON_DIAMETER_SDIST")
    if local and Path(local).is_dir():
        return Path(local)
    root = tmp_path_factory.mktemp("python_diameter_sdist")
    archive = Path(local) if local else _download(root / "download")
    with tarfile.open(archive) as tar:
        tar.extractall(root / "unpacked", filter="data")
    (top,) = (root / "unpacked").iterdir()
    assert (top / "tests").is_dir() and (top / "examples").is_dir(), "unexpected sdist layout"
    return top
