"""The command data files parse and are internally consistent."""
from __future__ import annotations

import pytest

from diameter.dictionary.source import Dictionary, load_file

from ._data import command_files, commands_only, raw

FILES = command_files()


def test_there_are_command_files() -> None:
    names = {p.name for p in FILES}
    for expected in ("rfc6733.commands.toml", "rfc4006.commands.toml",
                     "3gpp-ts29272.commands.toml", "3gpp-ts29212.commands.toml"):
        assert expected in names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_parses(path) -> None:
    d = load_file(path, Dictionary())
    assert d.applications, f"{path.name} declares no application"
    assert d.commands or all(not a.commands for a in d.applications.values())
    for cmd in d.commands:
        assert cmd.request and cmd.answer, f"{cmd.name}: empty grammar"
        assert cmd.abbrev and len(cmd.abbrev) == 2
        assert cmd.abbrev[0].endswith("R") and cmd.abbrev[1].endswith("A"), cmd.abbrev
        assert set(cmd.flags) <= {"R", "P"} and "R" in cmd.flags
        assert 0 < cmd.code < 2 ** 24


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_keys(path) -> None:
    data = raw(path)
    assert set(data) <= {"source", "applications", "commands"}
    for a in data["applications"]:
        assert {"id", "name", "kind", "vendor", "commands"} <= set(a)
        assert a["kind"] in ("auth", "acct", "both")
    for c in data.get("commands", []):
        assert {"code", "name", "abbrev", "application", "flags", "request", "answer"} <= set(c)


def test_application_ids_unique() -> None:
    seen: dict[int, str] = {}
    for path in FILES:
        for a in raw(path)["applications"]:
            assert a["id"] not in seen, f"application {a['id']} in {seen.get(a['id'])} and {path.name}"
            seen[a["id"]] = path.name


def test_one_entry_per_code_and_application() -> None:
    seen: dict[tuple[int, int], str] = {}
    for cmd in commands_only().commands:
        key = (cmd.code, cmd.application)
        assert key not in seen, f"command {key} twice: {cmd.source}, {seen[key]}"
        seen[key] = cmd.source


def test_application_commands_exist() -> None:
    d = commands_only()
    by_app = {(c.application, c.name) for c in d.commands}
    for app in d.applications.values():
        for name in app.commands:
            assert (app.id, name) in by_app, f"application {app.id} lists missing command {name}"


def test_every_command_belongs_to_a_listed_application() -> None:
    d = commands_only()
    for cmd in d.commands:
        app = d.applications.get(cmd.application)
        assert app is not None, f"{cmd.name} uses undeclared application {cmd.application}"
        assert cmd.name in app.commands, f"{cmd.name} not listed by application {app.id}"


def test_same_code_same_name_within_a_file() -> None:
    names: dict[tuple[str, int], str] = {}
    for cmd in commands_only().commands:
        key = (cmd.source, cmd.code)
        assert names.setdefault(key, cmd.name) == cmd.name, key


def _positions(rules) -> None:
    fixed = [i for i, r in enumerate(rules) if r.kind == "fixed"]
    assert fixed == list(range(len(fixed))), "fixed members must come first"
    names = [r.name.lower() for r in rules if not r.is_any]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"member listed twice: {dup}"
    assert sum(r.is_any for r in rules) <= 1


@pytest.mark.parametrize("cmd", commands_only().commands,
                         ids=lambda c: f"{c.abbrev[0]}-{c.application}")
def test_grammar_shape(cmd) -> None:
    for rules in (cmd.request, cmd.answer):
        _positions(rules)
        for r in rules:
            assert r.max is None or r.max >= max(r.min, 1)
    heads = {r.name for r in cmd.request if r.kind == "fixed"}
    if any(r.name == "Session-Id" for r in cmd.request):
        assert "Session-Id" in heads, f"{cmd.name}: Session-Id must be '< Session-Id >'"
        assert any(r.name == "Session-Id" for r in cmd.answer)
    names = {r.name for r in cmd.request}
    assert {"Origin-Host", "Origin-Realm"} <= names
    answer = {r.name for r in cmd.answer}
    assert {"Origin-Host", "Origin-Realm"} <= answer
    assert answer & {"Result-Code", "Experimental-Result"}, f"{cmd.name}: answer has no result"
