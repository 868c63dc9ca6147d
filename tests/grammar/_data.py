"""Shared helpers for the command-grammar tests: load the data files once."""
from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path

from diameter.dictionary.source import (DATA_DIR, ApplicationDef, CommandDef,
                                        Dictionary, load_all, load_file)

FIXTURES = Path(__file__).parent / "fixtures"


def command_files() -> list[Path]:
    """Every ``*.commands.toml`` data file."""
    return sorted(DATA_DIR.glob("*.commands.toml"))


@cache
def commands_only() -> Dictionary:
    """Applications and commands of the command files alone."""
    d = Dictionary()
    for path in command_files():
        load_file(path, d)
    return d


@cache
def everything() -> Dictionary:
    """The whole dictionary: AVP data files and command files."""
    return load_all()


@cache
def raw(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


@cache
def reference_constants() -> dict[str, dict[str, int]]:
    """python-diameter 0.9.0's APP_* and CMD_* values (fixture)."""
    data = json.loads((FIXTURES / "python_diameter_constants.json").read_text())
    return {"APP": data["APP"], "CMD": data["CMD"]}


def const_name(name: str) -> str:
    """python-diameter's constant spelling of a name."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def cmd_const(cmd: CommandDef) -> str:
    return "CMD_" + (cmd.extra.get("const") or const_name(cmd.name))


def app_const(app: ApplicationDef) -> str | None:
    return "APP_" + app.const if app.const else None
