"""AVP, command and application names -> codes, for documents written by hand.

:func:`complete_document` turns a message document that names things
(``{"name": "Session-Id", "value": "..."}``, ``"command": "CCR"``) into the
JSON view's exact form (codes, vendor ids, flags) that
:func:`diameter.jsonview.dict_to_bytes` encodes. Names match in any case,
with or without hyphens (``session_id``, ``SESSION-ID``, ``AVP_SESSION_ID``).
"""
from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from ..dictionary import tables as _tables
from ..jsonview import APPLICATION_NAMES, COMMAND_NAMES, JsonFormatError
from ..message.avp import dictionary as _avpdict
from ._names import application_id, norm

__all__ = ["AvpRef", "lookup_avp", "lookup_command", "complete_document", "parse_value",
           "DocumentError"]


class DocumentError(JsonFormatError):
    """A hand-written message document names something unknown."""


@dataclass(frozen=True)
class AvpRef:
    code: int
    vendor: int
    name: str
    type: str | None
    mandatory: bool


@functools.lru_cache(maxsize=1)
def _avp_names() -> dict[str, list[AvpRef]]:
    index: dict[str, list[AvpRef]] = {}
    vendor_consts = {}
    for vid, vname in _avpdict.VENDOR_NAMES.items():
        vendor_consts[vid] = norm(vname)
    tables = [(0, _avpdict.AVP_DICTIONARY)] + list(_avpdict.AVP_VENDOR_DICTIONARY.items())
    for vendor, table in tables:
        for code, entry in table.items():
            ref = AvpRef(code, vendor, entry["name"], _avpdict.AVP_TYPE_NAMES.get((vendor, code)),
                         bool(entry.get("mandatory")))
            keys = {norm(entry["name"])}
            if vendor:
                keys.add(vendor_consts.get(vendor, "") + norm(entry["name"]))
                if vendor == 10415:
                    keys.add("tgpp" + norm(entry["name"]))
            for k in keys:
                index.setdefault(k, []).append(ref)
    return index


def lookup_avp(text: str) -> list[AvpRef]:
    """AVPs called ``text`` (several when vendors share a name; base protocol first).

    Also accepts ``code`` or ``code/vendor`` and python-diameter constant names.
    """
    t = text.strip()
    if t.replace("/", "").isdigit():
        code, _, vendor = t.partition("/")
        v = int(vendor or 0)
        table = _avpdict.AVP_DICTIONARY if v == 0 else _avpdict.AVP_VENDOR_DICTIONARY.get(v, {})
        entry = table.get(int(code))
        name = entry["name"] if entry else f"AVP-{code}"
        return [AvpRef(int(code), v, name, _avpdict.AVP_TYPE_NAMES.get((v, int(code))),
                       bool(entry and entry.get("mandatory")))]
    n = norm(t)
    index = _avp_names()
    for key in (n, n[3:] if n.startswith("avp") else None):
        if key and key in index:
            return sorted(index[key], key=lambda r: (r.vendor != 0, r.vendor != 10415, r.vendor))
    return []


def lookup_command(text: str) -> tuple[int, int | None, bool | None]:
    """``(code, application or None, request?)`` from a name, abbreviation or code."""
    t = text.strip()
    if t.isdigit():
        return int(t), None, None
    n = norm(t)
    for code, app, name, _flags, abbrevs in _tables.COMMANDS:
        if norm(name) == n:
            return code, app, None
        for ab in abbrevs:
            if norm(ab) == n:
                return code, app, ab.upper().endswith("R")
    for code, name in COMMAND_NAMES.items():
        if norm(name) in (n, n.removesuffix("request"), n.removesuffix("answer")):
            request = True if n.endswith("request") else False if n.endswith("answer") else None
            return code, None, request
    raise DocumentError(f"unknown command {text!r}")


def parse_value(ref: AvpRef, text: str) -> Any:
    """A JSON-view value for this AVP from command-line text (enum names allowed)."""
    kind = ref.type or "OctetString"
    if kind in ("Unsigned32", "Unsigned64", "Integer32", "Integer64", "Enumerated"):
        try:
            return int(text, 0)
        except ValueError:
            enums = _avpdict.ENUMS.get((ref.vendor, ref.code), {})
            for value, label in enums.items():
                if norm(label) == norm(text):
                    return value
            raise DocumentError(f"{ref.name}: {text!r} is not a number"
                                + (f" nor one of {', '.join(enums.values())}" if enums else "")
                                ) from None
    if kind in ("Float32", "Float64"):
        return float(text)
    if kind == "OctetString":
        stripped = text[2:] if text.lower().startswith("0x") else None
        return stripped if stripped is not None else text.encode("utf-8").hex()
    if kind == "Time" and text == "now":
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text


def _complete_avp(a: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(a, dict):
        raise DocumentError(f"an AVP must be an object, not {a!r}")
    out = dict(a)
    if "code" not in out:
        name = out.get("name")
        if not isinstance(name, str):
            raise DocumentError(f"AVP {a!r} has neither 'code' nor 'name'")
        refs = lookup_avp(name)
        if not refs:
            raise DocumentError(f"unknown AVP {name!r}")
        vendor = out.get("vendor_id")
        ref = next((r for r in refs if vendor is None or r.vendor == vendor), refs[0])
        out["code"], out["vendor_id"] = ref.code, ref.vendor
        out.setdefault("flags", {"vendor": bool(ref.vendor), "mandatory": ref.mandatory})
        if ref.type and "type" not in out and "raw" not in out:
            out["type"] = ref.type
    elif "flags" not in out:
        vendor = int(out.get("vendor_id", 0))
        refs = lookup_avp(f"{out['code']}/{vendor}")
        out["flags"] = {"vendor": bool(vendor), "mandatory": refs[0].mandatory}
    if out.get("type") == "Enumerated" and isinstance(out.get("value"), str):
        ref = AvpRef(out["code"], int(out.get("vendor_id", 0)), out.get("name", ""), "Enumerated",
                     False)
        out["value"] = parse_value(ref, out["value"])
    if "avps" in out:
        out["avps"] = [_complete_avp(m, depth + 1) for m in out["avps"]]
    return out


def complete_document(doc: Any) -> dict[str, Any]:
    """A hand-written message document in the JSON view's exact form.

    ``header`` may give ``command`` (name, abbreviation or code) instead of
    ``command_code``, ``application`` (id, name, gy/gx/s6a...) instead of
    ``application_id``, and ``request``/``proxyable`` at the top level of the
    header; AVPs may give just ``name`` and ``value`` (or ``avps``).
    """
    if not isinstance(doc, dict):
        raise DocumentError("a message document must be an object with 'header' and 'avps'")
    header = dict(doc.get("header", {}))
    if "application_id" not in header and "application" in header:
        app_id = application_id(str(header["application"]), APPLICATION_NAMES)
        if app_id is None:
            raise DocumentError(f"unknown application {header['application']!r}")
        header["application_id"] = app_id
    if "command_code" not in header:
        if "command" not in header:
            raise DocumentError("the header needs 'command' or 'command_code'")
        code, app, request = lookup_command(str(header["command"]))
        header["command_code"] = code
        if app is not None:
            header.setdefault("application_id", app)
        if request is not None:
            header.setdefault("request", request)
    flags = dict(header.get("flags", {}))
    flags.setdefault("request", bool(header.get("request", True)))
    flags.setdefault("proxyable", bool(header.get("proxyable", header["command_code"] not in
                                                  (257, 280, 282))))
    header["flags"] = flags
    avps = doc.get("avps", [])
    if not isinstance(avps, list):
        raise DocumentError("'avps' must be a list")
    return {"format": doc.get("format", 1), "header": header,
            "avps": [_complete_avp(a, 0) for a in avps]}
