"""examples/: they pass `mypy --strict` and they run against each other on loopback."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SRC = ROOT / "src"

# The library is checked the way a user's mypy sees an installed package: its types are
# used, its own findings are not the user's (mypy silences installed packages too).
MYPY_INI = """[mypy]
strict = True
cache_dir = {cache}
[mypy-diameter.*]
ignore_errors = True
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC)
    return env


@pytest.fixture(scope="module")
def mypy_ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config with one cache for both mypy runs (the second reuses the library's)."""
    pytest.importorskip("mypy")
    where = tmp_path_factory.mktemp("mypy")
    ini = where / "mypy.ini"
    ini.write_text(MYPY_INI.format(cache=where / "cache"))
    return ini


def test_examples_pass_mypy_strict(mypy_ini: Path, tmp_path: Path) -> None:
    ini = mypy_ini
    files = sorted(str(p) for p in EXAMPLES.glob("*.py"))
    assert len(files) >= 3
    env = _env()
    env["MYPYPATH"] = str(SRC)
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ini), *files],
                         capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found in" in out.stdout


def test_mypy_catches_what_the_types_promise(mypy_ini: Path, tmp_path: Path) -> None:
    """The check above is not vacuous: typos, wrong types and None are flagged."""
    ini = mypy_ini
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from diameter.message.avp.grouped import GrantedServiceUnit\n"
        "from diameter.message.commands import CreditControlRequest\n"
        "from diameter.node.aio import DiameterNode\n"
        "async def f(node: DiameterNode) -> int:\n"
        "    ccr = CreditControlRequest()\n"
        "    ccr.sesion_id = 'x'\n"
        "    GrantedServiceUnit(cc_time='600')\n"
        "    cca = await node.request(ccr)\n"
        "    return cca.result_code\n")
    env = _env()
    env["MYPYPATH"] = str(SRC)
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ini), str(bad)],
                         capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path)
    assert 'has no attribute "sesion_id"' in out.stdout, out.stdout
    assert 'Argument "cc_time" to "GrantedServiceUnit" has incompatible type "str"' in out.stdout
    assert 'Incompatible return value type (got "int | None", expected "int")' in out.stdout


def test_examples_run_against_each_other() -> None:
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "gy_server.py"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env())
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert m, line + (server.stderr.read() if server.poll() is not None and server.stderr else "")
        port = m.group(1)
        client = subprocess.run([sys.executable, str(EXAMPLES / "gy_client.py"), "--port", port],
                                capture_output=True, text=True, env=_env(), timeout=60)
        assert client.returncode == 0, client.stderr
        assert "CCA-I: result 2001, granted 600 s" in client.stdout
        assert "CCA-T: result 2001" in client.stdout
        threaded = subprocess.run(
            [sys.executable, str(EXAMPLES / "threaded_client.py"), "--port", port],
            capture_output=True, text=True, env=_env(), timeout=60)
        assert threaded.returncode == 0, threaded.stderr
        assert "CCA-E: result 2001" in threaded.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
