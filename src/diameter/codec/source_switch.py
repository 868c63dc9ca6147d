"""``DIAMETER_PURE_PYTHON=1``: run the Python source of modules that may be compiled (mypyc).

The codec core, the node's sans-IO core and the OCS rating core are each built as a group
of extension modules when a compiler is there. Their packages call :func:`use_source`
first thing, so that with the variable set the source files are loaded in place of the
extensions (before anything imports them).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence

__all__ = ["use_source", "wants_source"]


def wants_source() -> bool:
    """True when ``DIAMETER_PURE_PYTHON`` asks for the Python source."""
    return bool(os.environ.get("DIAMETER_PURE_PYTHON"))


def use_source(package: str, package_file: str, names: Sequence[str]) -> None:
    """Load ``package``'s modules ``names`` (in this order) from their ``.py`` files.

    Does nothing unless :func:`wants_source`, or when the first module is imported already.
    Each module is registered in ``sys.modules`` before it runs, so that the imports of the
    later ones find the earlier ones.
    """
    if not wants_source() or not names or f"{package}.{names[0]}" in sys.modules:
        return
    folder = os.path.dirname(package_file)
    for name in names:
        spec = importlib.util.spec_from_file_location(f"{package}.{name}",
                                                      os.path.join(folder, name + ".py"))
        if spec is None or spec.loader is None:
            raise ImportError(f"no source for {package}.{name} in {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
