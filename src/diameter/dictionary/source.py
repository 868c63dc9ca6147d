"""Read the dictionary's TOML data files into a plain object model.

Used by the generator (build time) and by tests; the run time uses the
generated tables instead, so importing the package never parses TOML.
See docs/dictionary.md for the file format.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

TYPES = frozenset({
    "OctetString", "Integer32", "Integer64", "Unsigned32", "Unsigned64",
    "Float32", "Float64", "Grouped", "Address", "Time", "UTF8String",
    "DiameterIdentity", "DiameterURI", "Enumerated", "IPFilterRule",
    "QoSFilterRule",
})


class DictionaryDataError(ValueError):
    """A data file is malformed or inconsistent."""


@dataclass
class VendorDef:
    id: int
    name: str
    const: str
    source: str = ""


@dataclass
class Rule:
    """One grammar element: a member AVP with its occurrence limits."""
    name: str                 # AVP name as written (may carry /vendor)
    kind: str                 # "fixed" | "required" | "optional"
    min: int
    max: int | None           # None: unbounded
    vendor: int | None = None  # explicit vendor from Name/123, else None

    @property
    def is_any(self) -> bool:
        return self.name == "AVP"


@dataclass
class AvpDef:
    code: int
    name: str
    type: str
    vendor: int = 0
    must: str = ""
    may: str = ""
    must_not: str = ""
    enum: dict[int, str] = field(default_factory=dict)
    grammar: list[Rule] = field(default_factory=list)
    const: str | None = None
    aliases: list[str] = field(default_factory=list)
    note: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict)   # any other keys, kept for tools

    @property
    def key(self) -> tuple[int, int]:
        return (self.vendor, self.code)

    @property
    def mandatory(self) -> bool:
        return "M" in self.must


@dataclass
class ApplicationDef:
    id: int
    name: str
    const: str | None = None
    kind: str = "auth"
    vendor: int = 0
    commands: list[str] = field(default_factory=list)
    source: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class CommandDef:
    code: int
    name: str
    application: int = 0
    abbrev: list[str] = field(default_factory=list)
    flags: str = "R"
    request: list[Rule] = field(default_factory=list)
    answer: list[Rule] = field(default_factory=list)
    source: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Dictionary:
    vendors: dict[int, VendorDef] = field(default_factory=dict)
    avps: dict[tuple[int, int], AvpDef] = field(default_factory=dict)
    applications: dict[int, ApplicationDef] = field(default_factory=dict)
    commands: list[CommandDef] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def resolve(self, rule: Rule, context_vendor: int = 0) -> AvpDef | None:
        """Find the AVP a grammar rule names (see docs/dictionary.md)."""
        if rule.is_any:
            return None
        order = ([rule.vendor] if rule.vendor is not None
                 else [context_vendor, 0, 10415])
        by_name = self._names()
        for vendor in order:
            found = by_name.get((vendor, rule.name.lower()))
            if found is not None:
                return found
        return None

    def _names(self) -> dict[tuple[int, str], AvpDef]:
        cache = self.__dict__.get("_name_cache")
        if cache is None or len(cache) < len(self.avps):
            cache = {}
            for avp in self.avps.values():
                cache.setdefault((avp.vendor, avp.name.lower()), avp)
            self.__dict__["_name_cache"] = cache
        return cache


_RULE_RE = re.compile(
    r"(?:(\d*)\*(\d*))?\s*([<{\[])\s*([A-Za-z0-9][A-Za-z0-9_.\-]*(?:/\d+)?)\s*([>}\]])")


def parse_grammar(text: str) -> list[Rule]:
    """Parse an RFC 6733 style member list into rules."""
    rules: list[Rule] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _RULE_RE.match(text, pos)
        if not m:
            raise DictionaryDataError(f"bad grammar near {text[pos:pos + 40]!r}")
        lo, hi, open_, name, close = m.groups()
        if {"<": ">", "{": "}", "[": "]"}[open_] != close:
            raise DictionaryDataError(f"unbalanced brackets in {m.group(0)!r}")
        kind = {"<": "fixed", "{": "required", "[": "optional"}[open_]
        star = m.group(0).lstrip()[0:1].isdigit() or "*" in m.group(0).split(open_)[0]
        if star:
            min_ = int(lo) if lo else (1 if kind == "required" else 0)
            max_ = int(hi) if hi else None
        else:
            min_ = 0 if kind == "optional" else 1
            max_ = 1
        vendor = None
        if "/" in name:
            name, v = name.split("/")
            vendor = int(v)
        rules.append(Rule(name, kind, min_, max_, vendor))
        pos = m.end()
    return rules


def format_grammar(rules: list[Rule]) -> str:
    """Render rules back to the text form."""
    out = []
    for r in rules:
        o, c = {"fixed": "<>", "required": "{}", "optional": "[]"}[r.kind]
        name = r.name if r.vendor is None else f"{r.name}/{r.vendor}"
        default_max = 1
        default_min = 0 if r.kind == "optional" else 1
        q = ""
        if r.max != default_max or r.min != default_min:
            lo = "" if r.min == (1 if r.kind == "required" else 0) else str(r.min)
            hi = "" if r.max is None else str(r.max)
            q = f"{lo}*{hi}"
        out.append(f"{q}{o} {name} {c}")
    return " ".join(out)


def _avp_from(entry: dict, default_vendor: int, source: str) -> AvpDef:
    known = {"code", "name", "type", "vendor", "must", "may", "must_not",
             "enum", "grammar", "const", "aliases", "note"}
    try:
        avp = AvpDef(
            code=int(entry["code"]), name=str(entry["name"]), type=str(entry["type"]),
            vendor=int(entry.get("vendor", default_vendor)),
            must=entry.get("must", ""), may=entry.get("may", ""),
            must_not=entry.get("must_not", ""),
            enum={int(k): str(v) for k, v in entry.get("enum", {}).items()},
            grammar=parse_grammar(entry.get("grammar", "")),
            const=entry.get("const"), aliases=list(entry.get("aliases", [])),
            note=entry.get("note", ""), source=source,
            extra={k: v for k, v in entry.items() if k not in known},
        )
    except KeyError as e:
        raise DictionaryDataError(f"{source}: AVP entry {entry!r} lacks {e}") from None
    if avp.type not in TYPES:
        raise DictionaryDataError(f"{source}: AVP {avp.name} has unknown type {avp.type}")
    return avp


def load_file(path: Path, into: Dictionary | None = None) -> Dictionary:
    """Load one data file; later files override earlier (vendor, code) keys."""
    d = into if into is not None else Dictionary()
    with open(path, "rb") as f:
        data = tomllib.load(f)
    source = data.get("source", {}).get("name", path.stem)
    default_vendor = int(data.get("source", {}).get("vendor", 0))
    for v in data.get("vendors", []):
        d.vendors[int(v["id"])] = VendorDef(int(v["id"]), v["name"], v["const"], source)
    for a in data.get("avps", []):
        avp = _avp_from(a, default_vendor, source)
        d.avps[avp.key] = avp
    for a in data.get("applications", []):
        known = {"id", "name", "const", "kind", "vendor", "commands"}
        d.applications[int(a["id"])] = ApplicationDef(
            int(a["id"]), a["name"], a.get("const"), a.get("kind", "auth"),
            int(a.get("vendor", 0)), list(a.get("commands", [])), source,
            {k: v for k, v in a.items() if k not in known})
    for c in data.get("commands", []):
        known = {"code", "name", "application", "abbrev", "flags", "request", "answer"}
        d.commands.append(CommandDef(
            int(c["code"]), c["name"], int(c.get("application", 0)),
            list(c.get("abbrev", [])), c.get("flags", "R"),
            parse_grammar(c.get("request", "")), parse_grammar(c.get("answer", "")),
            source, {k: v for k, v in c.items() if k not in known}))
    d.files.append(path.name)
    return d


def load_all(data_dir: Path = DATA_DIR) -> Dictionary:
    """Load every data file in a stable order (sorted by file name)."""
    d = Dictionary()
    for path in sorted(data_dir.glob("*.toml")):
        load_file(path, d)
    return d
