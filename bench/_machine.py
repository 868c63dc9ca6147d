"""What a benchmark ran on: CPU model, cores, Python, event loop, compiled codec core."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def uvloop_version() -> str | None:
    try:
        import uvloop
    except ImportError:
        return None
    return getattr(uvloop, "__version__", "?")


def compiled_core() -> bool:
    """Whether this checkout's codec core is the mypyc-compiled one."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from diameter.codec.core import COMPILED
    return bool(COMPILED)


def describe(uvloop_used: bool | None = None) -> str:
    """One line for a benchmark's header (``uvloop_used=False``: the run disabled it)."""
    uv = uvloop_version()
    if uv is None:
        loop = "asyncio (uvloop not installed)"
    elif uvloop_used is False:
        loop = f"asyncio (uvloop {uv} installed, disabled)"
    else:
        loop = f"uvloop {uv}"
    try:
        load = f"; load average {os.getloadavg()[0]:.1f} at start"
    except OSError:
        load = ""
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{loop}; codec core {'compiled (mypyc)' if compiled_core() else 'pure Python'}{load}")
