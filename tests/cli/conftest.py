"""Run the CLI as a user would: ``python -m diameter ...`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(*args: str, input: bytes | None = None, timeout: float = 120,
            check: bool = False) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "diameter", *args], capture_output=True,
                          input=input, timeout=timeout, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def invoke(*args: str, input: bytes | None = None) -> Any:
    """The same command in this process (click's runner): for the many variations of a
    command whose plain run is tested with :func:`run_cli` (saves the start-up)."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    from diameter.cli import main
    r = CliRunner().invoke(main, list(args), input=input, catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout_bytes, stderr=r.stderr_bytes)


def run_json(*args: str) -> Any:
    """JSON output of a command run in this process (see :func:`invoke`)."""
    out = invoke(*args)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def gy_capture(tmp_path_factory: pytest.TempPathFactory):
    """A tshark capture of Gy sessions between our nodes through a freeDiameter relay."""
    from .traffic import capture_gy_through_freediameter
    return capture_gy_through_freediameter(tmp_path_factory.mktemp("gy"))


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory):
    """Our Gy server node behind a freeDiameterd relay (port ``relay_port``)."""
    from .peers import gy_network
    with gy_network(tmp_path_factory.mktemp("net")) as net:
        yield net
