"""Application ids and command codes agree with python-diameter 0.9.0's names."""
from __future__ import annotations

from ._data import app_const, cmd_const, commands_only, const_name, reference_constants


def test_app_constants_agree() -> None:
    ref = reference_constants()["APP"]
    d = commands_only()
    for app in d.applications.values():
        name = app_const(app)
        assert name is not None, f"application {app.id} has no const"
        if name in ref:
            assert ref[name] == app.id, f"{name}: ours {app.id}, python-diameter {ref[name]}"
    ours = {app_const(a): a.id for a in d.applications.values()}
    for name, value in ref.items():
        if value in {a.id for a in d.applications.values()}:
            assert ours.get(name) == value, f"{name}={value} is defined but named differently here"


def test_cmd_constants_agree() -> None:
    ref = reference_constants()["CMD"]
    d = commands_only()
    produced: dict[str, set[int]] = {}
    for cmd in d.commands:
        for name in [cmd_const(cmd), *cmd.extra.get("aliases", [])]:
            produced.setdefault(name, set()).add(cmd.code)
    for name, codes in produced.items():
        assert len(codes) == 1, f"{name} would name several codes {sorted(codes)}"
        if name in ref:
            assert codes == {ref[name]}, f"{name}: ours {codes}, python-diameter {ref[name]}"
    our_codes = {c.code for c in d.commands}
    for name, value in ref.items():
        if value in our_codes:
            assert value in produced.get(name, ()), f"{name}={value}: no command here produces that name"


def test_command_names_do_not_collide() -> None:
    seen: dict[str, int] = {}
    for cmd in commands_only().commands:
        key = cmd_const(cmd)
        assert seen.setdefault(key, cmd.code) == cmd.code, key


def test_const_derivation() -> None:
    assert const_name("Capabilities-Exchange") == "CAPABILITIES_EXCHANGE"
    assert const_name("AA-Mobile-Node") == "AA_MOBILE_NODE"
