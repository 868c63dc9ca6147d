"""Complete a request document the way a node would: ids, Origin-*, Session-Id, defaults.

:func:`apply_settings` applies ``--set AVP=VALUE`` (``Group.Member=VALUE`` reaches into
Grouped AVPs); :func:`fill_request` adds what the command's grammar requires and the
user left out (Session-Id, Origin-Host/Realm, Destination-Realm, Auth-Application-Id,
CC-Request-Type/Number, Service-Context-Id for credit control).
"""
from __future__ import annotations

from typing import Any

from ..dictionary import tables as _tables
from ._avpindex import DocumentError, _complete_avp, lookup_avp, parse_value

__all__ = ["apply_settings", "fill_request"]

_FRONT = (263, 264, 296, 283, 258)


def _set(avps: list[dict[str, Any]], path: list[str], text: str) -> None:
    refs = lookup_avp(path[0])
    if not refs:
        raise DocumentError(f"unknown AVP {path[0]!r} in --set")
    ref = refs[0]
    existing = next((a for a in avps if a["code"] == ref.code and a["vendor_id"] == ref.vendor),
                    None)
    if len(path) > 1:
        if existing is None:
            existing = _complete_avp({"name": ref.name, "avps": []}, 0)
            avps.append(existing)
        _set(existing.setdefault("avps", []), path[1:], text)
        return
    new = _complete_avp({"name": ref.name, "value": parse_value(ref, text)}, 0)
    if ref.type == "Grouped":
        raise DocumentError(f"{ref.name} is Grouped: set its members, e.g. {ref.name}.Member=1")
    if existing is None:
        avps.append(new)
    else:
        existing.clear()
        existing.update(new)


def apply_settings(doc: dict[str, Any], settings: tuple[str, ...] | list[str]) -> None:
    """``AVP=VALUE`` / ``Group.Member=VALUE`` settings into a completed document."""
    for s in settings:
        name, sep, value = s.partition("=")
        if not sep or not name:
            raise DocumentError(f"--set expects AVP=VALUE, got {s!r}")
        _set(doc["avps"], name.strip().split("."), value)


def fill_request(doc: dict[str, Any], origin_host: str, origin_realm: str,
                 destination_realm: str | None, session_id: str) -> list[str]:
    """Add what is missing; returns the names of the AVPs added."""
    h = doc["header"]
    app, code = int(h.get("application_id", 0)), int(h["command_code"])
    grammar = _tables.COMMAND_GRAMMARS.get((app, code, True)) or ()
    members = {(v, c) for v, c, _kind, _min, _max in grammar}
    have = {(a["vendor_id"], a["code"]) for a in doc["avps"]}
    added: list[str] = []

    def add(name: str, value: Any) -> None:
        ref = lookup_avp(name)[0]
        if (ref.vendor, ref.code) not in have:
            doc["avps"].append(_complete_avp({"name": name, "value": value}, 0))
            have.add((ref.vendor, ref.code))
            added.append(name)

    if (0, 263) in members or (app != 0 and not grammar):
        add("Session-Id", session_id)
    add("Origin-Host", origin_host)
    add("Origin-Realm", origin_realm)
    if ((0, 283) in members or (app != 0 and not grammar)) and destination_realm:
        add("Destination-Realm", destination_realm)
    if (0, 258) in members and app != 0:
        add("Auth-Application-Id", app)
    if code == 272:
        add("CC-Request-Type", 1)
        add("CC-Request-Number", 0)
        if app == 4:
            add("Service-Context-Id", "32251@3gpp.org")
    front = {c: i for i, c in enumerate(_FRONT)}
    doc["avps"].sort(key=lambda a: front.get(a["code"], len(_FRONT)) if a["vendor_id"] == 0
                     else len(_FRONT))
    return added
