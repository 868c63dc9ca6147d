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
    key: str = ""             # short name (Wireshark vendor-id); constants.VENDORS values

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.name


@dataclass
class Rule:
    """One grammar element: a member AVP with its occurrence limits."""
    name: str                 # AVP name as written (may carry /vendor)
    kind: str                 # "fixed" | "required" | "optional"
    min: int
    max: int | None           # None: unbounded
    vendor: int | None = None  # explicit vendor from Name/123, else None
    code: int | None = None    # explicit code from Name/123:456 (names used twice)

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
    service_contexts: list[dict] = field(default_factory=list)  # const, id, name
    constants: list[dict] = field(default_factory=list)         # name, value
    registry_apps: set[int] = field(default_factory=set)        # ids only a registry file defines

    def add_command(self, cmd: CommandDef) -> None:
        """Add a command; one already known by (application, code) is merged.

        The definition carrying grammars wins; abbreviations and constant
        names of both are kept.
        """
        for i, old in enumerate(self.commands):
            if old.code == cmd.code and old.application == cmd.application:
                new, other = ((cmd, old) if (cmd.request or cmd.answer or
                                             not (old.request or old.answer)) else (old, cmd))
                if not new.abbrev:
                    new.abbrev = list(other.abbrev)
                for k, v in other.extra.items():
                    if k == "aliases":
                        new.extra["aliases"] = sorted(set(new.extra.get(k, [])) | set(v))
                    else:
                        new.extra.setdefault(k, v)
                self.commands[i] = new
                return
        self.commands.append(cmd)

    def resolve(self, rule: Rule, context_vendor: int = 0) -> AvpDef | None:
        """Find the AVP a grammar rule names (see docs/dictionary.md)."""
        if rule.is_any:
            return None
        if rule.code is not None:
            return self.avps.get((rule.vendor or 0, rule.code))
        order = ([rule.vendor] if rule.vendor is not None
                 else [context_vendor, 0, 10415])
        by_name = self._names()
        for vendor in order:
            found = by_name.get((vendor, rule.name.lower()))
            if found is not None:
                return found
        if rule.vendor is None:
            # Last resort: a name that only one other vendor defines.
            found_any = self._unique_names().get(rule.name.lower())
            if found_any is not None:
                return found_any
        return None

    def _unique_names(self) -> dict[str, AvpDef]:
        cached = self.__dict__.get("_unique_cache")
        if cached is None or cached[0] != len(self.avps):
            seen: dict[str, list[AvpDef]] = {}
            for (_vendor, name), avp in self._names().items():
                seen.setdefault(name, []).append(avp)
            unique = {n: a[0] for n, a in seen.items() if len({x.key for x in a}) == 1}
            cached = (len(self.avps), unique)
            self.__dict__["_unique_cache"] = cached
        return cached[1]

    def _names(self) -> dict[tuple[int, str], AvpDef]:
        cached = self.__dict__.get("_name_cache")
        if cached is None or cached[0] != len(self.avps):
            cache: dict[tuple[int, str], AvpDef] = {}
            for key in sorted(self.avps):
                avp = self.avps[key]
                cache.setdefault((avp.vendor, avp.name.lower()), avp)
            for key in sorted(self.avps):       # other spellings never shadow a name
                avp = self.avps[key]
                for alt in avp.extra.get("alt_names", []):
                    cache.setdefault((avp.vendor, alt.lower()), avp)
            cached = (len(self.avps), cache)
            self.__dict__["_name_cache"] = cached
        return cached[1]


_RULE_RE = re.compile(
    r"(?:(\d*)\*(\d*))?\s*([<{\[])\s*([A-Za-z0-9][A-Za-z0-9_.\-]*(?:/\d+(?::\d+)?)?)\s*([>}\]])")


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
        vendor = code = None
        if "/" in name:
            name, v = name.split("/")
            v, _, c = v.partition(":")
            vendor = int(v)
            code = int(c) if c else None
        rules.append(Rule(name, kind, min_, max_, vendor, code))
        pos = m.end()
    return rules


def format_grammar(rules: list[Rule]) -> str:
    """Render rules back to the text form."""
    out = []
    for r in rules:
        o, c = {"fixed": "<>", "required": "{}", "optional": "[]"}[r.kind]
        name = r.name if r.vendor is None else f"{r.name}/{r.vendor}"
        if r.code is not None:
            name += f":{r.code}"
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
        d.vendors[int(v["id"])] = VendorDef(int(v["id"]), v["name"], v["const"], source,
                                            v.get("key", ""))
    for a in data.get("avps", []):
        avp = _avp_from(a, default_vendor, source)
        d.avps[avp.key] = avp
    for a in data.get("applications", []):
        known = {"id", "name", "const", "kind", "vendor", "commands"}
        app = ApplicationDef(
            int(a["id"]), a["name"], a.get("const"), a.get("kind", "auth"),
            int(a.get("vendor", 0)), list(a.get("commands", [])), source,
            {k: v for k, v in a.items() if k not in known})
        old = d.applications.get(app.id)
        if old is not None and app.id in d.registry_apps and not is_registry(path):
            # A specification file replaces a registry (iana-*) entry; only
            # the registry's extra constant names survive.
            for alias in old.extra.get("aliases", []):
                app.extra.setdefault("aliases", [])
                if alias not in app.extra["aliases"]:
                    app.extra["aliases"].append(alias)
            d.registry_apps.discard(app.id)
            d.applications[app.id] = app
        elif old is not None and path.name.endswith(".commands.toml"):
            # Command files add commands to an application; its identity
            # (name, const, kind, vendor) stays with the AVP data files.
            old.commands.extend(c for c in app.commands if c not in old.commands)
            for k, v in app.extra.items():
                old.extra.setdefault(k, v)
        else:
            d.applications[app.id] = app
            if is_registry(path):
                d.registry_apps.add(app.id)
    for c in data.get("commands", []):
        known = {"code", "name", "application", "abbrev", "flags", "request", "answer"}
        d.add_command(CommandDef(
            int(c["code"]), c["name"], int(c.get("application", 0)),
            list(c.get("abbrev", [])), c.get("flags", "R"),
            parse_grammar(c.get("request", "")), parse_grammar(c.get("answer", "")),
            source, {k: v for k, v in c.items() if k not in known}))
    for sc in data.get("service_contexts", []):
        d.service_contexts.append({"const": sc["const"], "id": sc["id"], "name": sc["name"]})
    for c in data.get("constants", []):
        d.constants.append({"name": c["name"], "value": c["value"]})
    d.files.append(path.name)
    return d


REGISTRY_PREFIX = "iana-"


def is_registry(path: Path) -> bool:
    """True for the registry files (``iana-*.toml``): names and codes taken
    from IANA/Wireshark lists, without grammars."""
    return path.name.startswith(REGISTRY_PREFIX)


def load_order(paths: list[Path]) -> list[Path]:
    """The precedence order: registry files, then AVP data files, then the
    ``*.commands.toml`` grammar files, each group sorted by name. A later file
    wins where two define the same key, so specification data always
    overrides the registry lists."""
    def rank(p: Path) -> tuple[int, str]:
        group = 0 if is_registry(p) else (2 if p.name.endswith(".commands.toml") else 1)
        return (group, p.name)
    return sorted(paths, key=rank)


def load_all(data_dir: Path = DATA_DIR) -> Dictionary:
    """Load every data file in precedence order (see :func:`load_order`)."""
    d = Dictionary()
    for path in load_order(list(data_dir.glob("*.toml"))):
        load_file(path, d)
    return d
