"""Data precedence: each application and command is defined by one file, and
specification files override the registry lists (iana-*.toml)."""
from __future__ import annotations

from pathlib import Path

from diameter.dictionary.source import DATA_DIR, is_registry, load_all, load_order

from ._data import raw

ALL_FILES = sorted(DATA_DIR.glob("*.toml"))


def test_no_application_in_two_files() -> None:
    seen: dict[int, str] = {}
    for path in ALL_FILES:
        for a in raw(path).get("applications", []):
            assert a["id"] not in seen, f"application {a['id']} in {seen.get(a['id'])} and {path.name}"
            seen[a["id"]] = path.name


def test_no_command_in_two_files() -> None:
    seen: dict[tuple[int, int], str] = {}
    for path in ALL_FILES:
        for c in raw(path).get("commands", []):
            key = (int(c.get("application", 0)), int(c["code"]))
            assert key not in seen, f"command {key} in {seen.get(key)} and {path.name}"
            seen[key] = path.name


def test_load_order_puts_registry_first_and_grammars_last() -> None:
    order = [p.name for p in load_order(ALL_FILES)]
    kinds = [0 if n.startswith("iana-") else 2 if n.endswith(".commands.toml") else 1 for n in order]
    assert kinds == sorted(kinds)
    assert order.index("iana-applications.toml") < order.index("rfc6733.toml")
    assert order.index("rfc6733.toml") < order.index("rfc6733.commands.toml")
    assert is_registry(DATA_DIR / "iana-commands.toml")
    assert not is_registry(DATA_DIR / "rfc4006.commands.toml")


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def test_spec_file_replaces_registry_application(tmp_path: Path) -> None:
    # The registry name sorts after the spec name: precedence must not depend on it.
    _write(tmp_path / "iana-zz.toml", """
[source]
name = "IANA"
[[applications]]
id = 99
name = "Registry name"
const = "REG"
kind = "auth"
aliases = ["APP_OLD_NAME"]
[[commands]]
code = 500
name = "Registry-Cmd"
application = 99
""")
    _write(tmp_path / "aa-spec.commands.toml", """
[source]
name = "Spec"
[[applications]]
id = 99
name = "Spec name"
const = "SPEC"
kind = "acct"
vendor = 10415
commands = ["Spec-Cmd"]
[[commands]]
code = 500
name = "Spec-Cmd"
abbrev = ["SCR", "SCA"]
application = 99
flags = "RP"
request = "< Session-Id > { Origin-Host } *[ AVP ]"
answer = "< Session-Id > { Result-Code } *[ AVP ]"
""")
    d = load_all(tmp_path)
    app = d.applications[99]
    assert (app.name, app.const, app.kind, app.vendor) == ("Spec name", "SPEC", "acct", 10415)
    assert app.extra["aliases"] == ["APP_OLD_NAME"]
    cmds = [c for c in d.commands if (c.application, c.code) == (99, 500)]
    assert len(cmds) == 1 and cmds[0].name == "Spec-Cmd" and cmds[0].request


def test_registry_keeps_what_no_specification_defines() -> None:
    d = load_all()
    # HP topology discovery and Sun Ping come only from the registry lists.
    assert d.applications[16777305].source == "IANA"
    assert any(c.code == 511 and c.application == 555 for c in d.commands)
