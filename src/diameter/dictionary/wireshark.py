"""Load Wireshark-format Diameter dictionaries (``dictionary.xml`` and friends).

Wireshark ships its Diameter dictionary as XML (``/usr/share/wireshark/diameter``):
``dictionary.xml`` pulls the other files in through external entities
(``<!ENTITY TGPP SYSTEM "TGPP.xml">`` ... ``&TGPP;``). The standard library
parser does not resolve external entities, so this module splices the
referenced files in itself before parsing.

``load_wireshark(path)`` returns a :class:`~diameter.dictionary.source.Dictionary`;
``register_dictionary(d)`` makes its AVPs known to the running codec through
:func:`diameter.dictionary.runtime.install`.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .runtime import install
from .source import (AvpDef, ApplicationDef, CommandDef, Dictionary, Rule,
                     VendorDef)

__all__ = ["WiresharkDictionaryError", "load_wireshark", "parse_wireshark_text",
           "register_dictionary", "load_and_register", "TYPE_MAP"]

#: Wireshark type names -> the dictionary's type names.
TYPE_MAP = {
    "OctetString": "OctetString", "UTF8String": "UTF8String",
    "IPAddress": "Address", "Address": "Address",
    "DiameterIdentity": "DiameterIdentity", "DiameterURI": "DiameterURI",
    "IPFilterRule": "IPFilterRule", "QoSFilterRule": "QoSFilterRule",
    "MIPRegistrationRequest": "OctetString", "OctetStringOrUTF8": "OctetString",
    "Integer32": "Integer32", "Integer64": "Integer64",
    "Unsigned32": "Unsigned32", "Unsigned64": "Unsigned64",
    "VendorId": "Unsigned32", "AppId": "Unsigned32",
    "Enumerated": "Enumerated", "Time": "Time",
    "Float32": "Float32", "Float64": "Float64", "Grouped": "Grouped",
}

_ENTITY_DECL = re.compile(r"<!ENTITY\s+(\S+)\s+SYSTEM\s+\"([^\"]+)\"\s*>")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+\w+[^\[>]*(\[.*?\])?\s*>", re.S)
_XML_DECL = re.compile(r"<\?xml[^>]*\?>")
_MAX_BYTES = 64 * 1024 * 1024


class WiresharkDictionaryError(ValueError):
    """A Wireshark dictionary file is missing, unreadable or malformed."""


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise WiresharkDictionaryError(f"{path}: larger than {_MAX_BYTES} bytes")
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise WiresharkDictionaryError(f"cannot read {path}: {e}") from None


def _expand(text: str, base: Path, depth: int = 0) -> str:
    """Splice external entities in and drop the DOCTYPE; returns plain XML."""
    if depth > 4:
        raise WiresharkDictionaryError("entity includes nested too deeply")
    entities = dict(_ENTITY_DECL.findall(text))
    text = _DOCTYPE.sub("", text, count=1)
    for name, ref in entities.items():
        token = f"&{name};"
        if token not in text:
            continue
        target = (base / ref).resolve()
        if not target.is_file():
            # Wireshark itself tolerates a missing include (Custom.xml).
            text = text.replace(token, "")
            continue
        body = _XML_DECL.sub("", _read(target))
        text = text.replace(token, _expand(body, target.parent, depth + 1))
    return text


def _parse(text: str, origin: str) -> ET.Element:
    text = _XML_DECL.sub("", text, count=1)
    # Entity-free single files (Huawei.xml) have several top-level elements
    # or none with a fixed name: wrap everything in one root.
    try:
        return ET.fromstring(f"<wireshark-root>{text}</wireshark-root>")
    except ET.ParseError as e:
        raise WiresharkDictionaryError(f"{origin}: {e}") from None


def parse_wireshark_text(text: str, base_dir: Path | str = ".",
                         into: Dictionary | None = None,
                         origin: str = "<string>") -> Dictionary:
    """Parse Wireshark dictionary XML text (entities resolved from base_dir)."""
    root = _parse(_expand(text, Path(base_dir)), origin)
    return _Builder(into if into is not None else Dictionary(), origin).build(root)


def load_wireshark(path: Path | str, into: Dictionary | None = None) -> Dictionary:
    """Load a Wireshark dictionary file, or a folder holding ``dictionary.xml``.

    A folder without ``dictionary.xml`` has each ``*.xml`` file loaded in name order.
    """
    p = Path(path)
    d = into if into is not None else Dictionary()
    if p.is_dir():
        main = p / "dictionary.xml"
        files = [main] if main.is_file() else sorted(p.glob("*.xml"))
        if not files:
            raise WiresharkDictionaryError(f"{p}: no Wireshark XML files")
    elif p.is_file():
        files = [p]
    else:
        raise WiresharkDictionaryError(f"{p}: no such file or folder")
    for f in files:
        parse_wireshark_text(_read(f), f.parent, d, str(f))
    return d


def _flags(el: ET.Element) -> tuple[str, str, str]:
    must = may = must_not = ""
    for letter, attr, default in (("V", "vendor-bit", "mustnot"),
                                  ("M", "mandatory", "may"),
                                  ("P", "protected", "may")):
        v = el.get(attr, default)
        if v == "must":
            must += letter
        elif v in ("mustnot", "shouldnot"):
            must_not += letter
        else:
            may += letter
    return must, may, must_not


class _Builder:
    def __init__(self, d: Dictionary, origin: str) -> None:
        self.d = d
        self.origin = origin
        self.vendor_ids: dict[str, int] = {"None": 0}
        self.typedefs: dict[str, str] = {}
        self.groups: list[tuple[AvpDef, list[str]]] = []

    def build(self, root: ET.Element) -> Dictionary:
        for v in root.iter("vendor"):
            self._vendor(v)
        for t in root.iter("typedefn"):
            name = t.get("type-name")
            if name:
                self.typedefs[name] = t.get("type-parent") or name
        for base in root.iter("base"):
            self._container(base, 0, None)
        for app in root.iter("application"):
            self._application(app)
        for v in root.iter("vendor"):
            self._container(v, self._vendor_code(v.get("vendor-id")), None)
        self._resolve_groups()
        self.d.files.append(self.origin)
        return self.d

    def _vendor(self, v: ET.Element) -> None:
        vid, code = v.get("vendor-id"), v.get("code")
        if vid is None or code is None:
            return
        try:
            num = int(code)
        except ValueError:
            raise WiresharkDictionaryError(
                f"{self.origin}: vendor {vid!r} has bad code {code!r}") from None
        self.vendor_ids[vid] = num
        if num not in self.d.vendors:
            const = re.sub(r"[^A-Za-z0-9]+", "_", vid).strip("_").upper() or f"V{num}"
            self.d.vendors[num] = VendorDef(num, v.get("name") or vid, const, self.origin)

    def _vendor_code(self, ref: str | None) -> int:
        if ref is None:
            return 0
        if ref in self.vendor_ids:
            return self.vendor_ids[ref]
        if ref.isdigit():
            return int(ref)
        raise WiresharkDictionaryError(f"{self.origin}: unknown vendor-id {ref!r}")

    def _application(self, app: ET.Element) -> None:
        try:
            app_id = int(app.get("id", ""))
        except ValueError:
            raise WiresharkDictionaryError(
                f"{self.origin}: application {app.get('name')!r} has bad id") from None
        name = app.get("name") or f"Application {app_id}"
        if app_id not in self.d.applications:
            kind = "acct" if "accounting" in name.lower() else "auth"
            self.d.applications[app_id] = ApplicationDef(app_id, name, None, kind, 0,
                                                         [], self.origin)
        self._container(app, 0, app_id)

    def _container(self, el: ET.Element, vendor: int, app_id: int | None) -> None:
        for child in el:
            if child.tag == "command":
                self._command(child, app_id or 0)
            elif child.tag == "avp":
                self._avp(child, vendor)

    def _command(self, c: ET.Element, app_id: int) -> None:
        try:
            code = int(c.get("code", ""))
        except ValueError:
            raise WiresharkDictionaryError(
                f"{self.origin}: command {c.get('name')!r} has bad code") from None
        name = c.get("name") or f"Command-{code}"
        for old in self.d.commands:
            if old.code == code and old.application == app_id:
                return
        self.d.commands.append(CommandDef(code, name, app_id, [], "RP", [], [], self.origin))
        app = self.d.applications.get(app_id)
        if app is not None and name not in app.commands:
            app.commands.append(name)

    def _type(self, name: str) -> str:
        seen = set()
        while name not in TYPE_MAP and name in self.typedefs and name not in seen:
            seen.add(name)
            name = self.typedefs[name]
        return TYPE_MAP.get(name, "OctetString")

    def _avp(self, a: ET.Element, container_vendor: int) -> None:
        name, code = a.get("name"), a.get("code")
        try:
            num = int(code or "")
        except ValueError:
            raise WiresharkDictionaryError(
                f"{self.origin}: AVP {name!r} has bad code {code!r}") from None
        vendor = (self._vendor_code(a.get("vendor-id")) if a.get("vendor-id")
                  else container_vendor)
        t = a.find("type")
        grouped = a.find("grouped")
        if grouped is not None:
            typ = "Grouped"
        elif t is not None:
            typ = self._type(t.get("type-name", "OctetString"))
        else:
            typ = "OctetString"
        must, may, must_not = _flags(a)
        enum: dict[int, str] = {}
        for e in a.findall("enum"):
            try:
                enum.setdefault(int(e.get("code", "")), e.get("name", ""))
            except ValueError:
                continue
        avp = AvpDef(num, name or f"AVP-{num}", typ, vendor, must, may, must_not,
                     enum, source=self.origin)
        self.d.avps[avp.key] = avp
        if grouped is not None:
            self.groups.append((avp, [g.get("name", "") for g in grouped.findall("gavp")]))

    def _resolve_groups(self) -> None:
        by_name: dict[str, list[AvpDef]] = {}
        for avp in self.d.avps.values():
            by_name.setdefault(avp.name.lower(), []).append(avp)
        for parent, members in self.groups:
            rules = []
            for m in members:
                if not m:
                    continue
                cands = by_name.get(m.lower(), [])
                vendor = None
                for pref in (parent.vendor, 0, 10415):
                    if any(c.vendor == pref for c in cands):
                        vendor = pref
                        break
                if vendor is None and cands:
                    vendor = min(c.vendor for c in cands)
                rules.append(Rule(m, "optional", 0, None, vendor))
            rules.append(Rule("AVP", "optional", 0, None, None))
            parent.grammar = rules


def register_dictionary(d: Dictionary) -> int:
    """Install ``d`` in the running dictionary (vendors, AVPs with types and flag
    rules, enum value names, grouped members, application and command names);
    returns the number of AVPs. See :func:`diameter.dictionary.runtime.install`."""
    return install(d).avps


def load_and_register(path: Path | str) -> Dictionary:
    """Load a Wireshark dictionary file or folder and register its AVPs."""
    d = load_wireshark(path)
    register_dictionary(d)
    return d
