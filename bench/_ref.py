"""Find or make an interpreter with the reference package, python-diameter 0.9.0."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
REF_VENV = BENCH / ".ref-venv"


def ref_python() -> str:
    """$REF_PYTHON, or bench/.ref-venv (created with python-diameter==0.9.0 on first use)."""
    env = os.environ.get("REF_PYTHON")
    if env:
        return env
    py = REF_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "python-diameter==0.9.0"],
                       check=True)
    return str(py)


def our_env() -> dict[str, str]:
    """Environment that imports this checkout's package first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def ref_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
