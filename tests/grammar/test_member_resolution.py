"""Every member a command grammar names resolves to an AVP in the dictionary.

This needs the AVP data files (data/<spec>.toml) next to the command files.
"""
from __future__ import annotations

from ._data import everything


def unresolved() -> dict[str, set[str]]:
    d = everything()
    missing: dict[str, set[str]] = {}
    for cmd in d.commands:
        app = d.applications.get(cmd.application)
        vendor = app.vendor if app else 0
        for rule in cmd.request + cmd.answer:
            if rule.is_any:
                continue
            if d.resolve(rule, vendor) is None:
                missing.setdefault(rule.name, set()).add(f"{cmd.abbrev[0]}/{cmd.application}")
    return missing


def test_every_member_resolves() -> None:
    missing = unresolved()
    listing = "\n".join(f"{n}: {', '.join(sorted(w)[:4])}" for n, w in sorted(missing.items()))
    assert not missing, f"{len(missing)} grammar members name no known AVP:\n{listing}"


def test_fixed_and_required_members_are_not_grouped_any() -> None:
    d = everything()
    for cmd in d.commands:
        for rule in cmd.request + cmd.answer:
            assert not (rule.is_any and rule.kind != "optional"), f"{cmd.name}: '*[ AVP ]' must be optional"
