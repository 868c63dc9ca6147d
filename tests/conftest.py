"""Fixtures shared by all test directories (keep this file small)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def free_tcp_port() -> int:
    """A TCP port that was free on every IPv4 address when the fixture ran."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_scenario() -> Callable[[str, bool], Any]:
    """Run a Python snippet in a fresh interpreter on this tree's `src`, compiled modules or
    (``pure=True``) the source (`DIAMETER_PURE_PYTHON=1`); returns the JSON it prints."""
    def run(scenario: str, pure: bool) -> Any:
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("DIAMETER_PURE_PYTHON", None)
        if pure:
            env["DIAMETER_PURE_PYTHON"] = "1"
        out = subprocess.run([sys.executable, "-c", scenario], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)
    return run


@pytest.fixture
def assert_one_build() -> Callable[[list[Any]], None]:
    """Checks that a compiled group's modules all run compiled, or all from source (a stale
    partial build mixes); which one, as DIAMETER_PURE_PYTHON / DIAMETER_EXPECT_COMPILED say."""
    return _assert_one_build


def _assert_one_build(mods: list[Any]) -> None:
    kinds = {m.__file__.endswith(".py") for m in mods}
    assert len(kinds) == 1, [m.__file__ for m in mods]
    if os.environ.get("DIAMETER_PURE_PYTHON"):
        assert kinds == {True}
    elif os.environ.get("DIAMETER_EXPECT_COMPILED"):
        assert kinds == {False}
