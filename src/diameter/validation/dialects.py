"""Dialects: named grammar variants a node applies per peer when validating requests.

A dialect is data (``src/diameter/dictionary/data/dialects/*.toml``, see
docs/validation.md): which vendors' AVPs it recognises and grammar overrides
for commands and grouped AVPs. ``dialect(name).rules`` is the :class:`RuleSet`
the node validates a peer's requests with. "3gpp" is the default.
"""
from __future__ import annotations

import functools
import tomllib
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dictionary import tables as _tables
from .rules import Member, RuleSet

__all__ = ["Dialect", "DialectError", "dialect", "dialect_names", "register_dialect",
           "load_dialect_file", "DEFAULT_DIALECT", "DIALECT_DIR"]

DIALECT_DIR = Path(__file__).resolve().parent.parent / "dictionary" / "data" / "dialects"
DEFAULT_DIALECT = "3gpp"

CommandKey = tuple[int, int, bool]
GroupedKey = tuple[int, int]


class DialectError(ValueError):
    """An unknown dialect name or malformed dialect data."""


@dataclass(eq=False)
class Dialect:
    """A named grammar variant.

    ``unrecognised_vendors``: vendor ids whose AVPs this dialect treats as
    unknown. ``commands`` / ``grouped``: grammar members replacing or added to
    the generated grammars, keyed like ``COMMAND_GRAMMARS`` / ``GROUPED_GRAMMARS``.
    """

    name: str
    title: str = ""
    unrecognised_vendors: frozenset[int] = frozenset()
    commands: dict[CommandKey, tuple[Member, ...]] = field(default_factory=dict)
    grouped: dict[GroupedKey, tuple[Member, ...]] = field(default_factory=dict)
    _rules: RuleSet | None = field(default=None, repr=False)

    @property
    def rules(self) -> RuleSet:
        """The RuleSet for this dialect (built once)."""
        if self._rules is None:
            self._rules = RuleSet(ChainMap(self.commands, _tables.COMMAND_GRAMMARS),  # type: ignore[arg-type]
                                  ChainMap(self.grouped, _tables.GROUPED_GRAMMARS),  # type: ignore[arg-type]
                                  unrecognised_vendors=self.unrecognised_vendors)
        return self._rules


_REGISTRY: dict[str, Dialect] = {}
_LOADED: list[bool] = []
_BUILTIN: set[str] = set()      # names of the dialects shipped with the package
#: bumped by each :func:`register_dialect`: a cache of ``dialect(name)`` is current while it is unchanged
GENERATION: list[int] = [0]


def _ensure_loaded() -> None:
    if not _LOADED:
        _LOADED.append(True)
        pending = {p: tomllib.loads(p.read_text("utf-8")) for p in sorted(DIALECT_DIR.glob("*.toml"))}
        # a dialect may build on another ("base"): load bases first
        while pending:
            ready = [p for p, d in pending.items()
                     if d.get("dialect", {}).get("base") in (None, *_REGISTRY)]
            if not ready:
                raise DialectError(f"dialect bases not found: {sorted(map(str, pending))}")
            for p in ready:
                d = register_dialect(_from_data(pending.pop(p), str(p)), replace=True)
                _BUILTIN.add(d.name.lower())


def dialect_names() -> list[str]:
    """Names of the known dialects."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def dialect(name: str | None = None) -> Dialect:
    """The dialect called ``name`` (the default "3gpp" when None); DialectError if unknown."""
    _ensure_loaded()
    try:
        return _REGISTRY[(name or DEFAULT_DIALECT).lower()]
    except KeyError:
        raise DialectError(f"unknown dialect {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def register_dialect(d: Dialect, replace: bool = False) -> Dialect:
    """Add a dialect (by lower-cased name); another of the same name is replaced.

    A dialect shipped with the package ("3gpp", "huawei") is only replaced with
    ``replace=True``: otherwise :class:`DialectError` (give yours another name, with
    ``base = "huawei"`` to build on it).
    """
    key = d.name.lower()
    if key in _BUILTIN and not replace:
        raise DialectError(f"dialect {d.name!r} ships with the package; name yours otherwise "
                           f"(base = {d.name!r} builds on it) or pass replace=True")
    _REGISTRY[key] = d
    GENERATION[0] += 1
    return d


def load_dialect_file(path: str | Path, replace: bool = False) -> Dialect:
    """Load and register a dialect from a TOML file of the package's format
    (``replace=True`` to replace a built-in dialect of the same name)."""
    _ensure_loaded()
    p = Path(path)
    return register_dialect(_from_data(tomllib.loads(p.read_text("utf-8")), str(p)), replace)


# ---- data -> Dialect -----------------------------------------------------------------
def _from_data(data: Mapping[str, Any], where: str) -> Dialect:
    head = data.get("dialect")
    if not isinstance(head, Mapping) or not head.get("name"):
        raise DialectError(f"{where}: needs a [dialect] table with a name")
    base = _REGISTRY[head["base"].lower()] if head.get("base") else None
    vendors = set(base.unrecognised_vendors) if base else set()
    vendors -= set(head.get("recognise_vendors", ()))
    vendors |= set(head.get("unrecognised_vendors", ()))
    own_vendor = int(head.get("vendor", 0))
    commands = dict(base.commands) if base else {}
    grouped = dict(base.grouped) if base else {}
    for i, g in enumerate(data.get("grammars", ())):
        ctx = f"{where}: grammars[{i}]"
        members = _members(g.get("members", ""), own_vendor, ctx)
        if "command" in g:
            code = _command_code(g["command"], ctx)
            app = int(g.get("application", 0))
            key: Any = (app, code, bool(g.get("request", True)))
            commands[key] = _merge(commands.get(key) or _tables.COMMAND_GRAMMARS.get(key)
                                   or _fallback(code, key[2]), members, bool(g.get("replace")))
        elif "avp" in g:
            vendor, code = _avp_key(g["avp"], own_vendor, ctx)
            if (vendor, code) not in _tables.GROUPED_GRAMMARS and (vendor, code) not in grouped:
                raise DialectError(f"{ctx}: {g['avp']!r} is not a grouped AVP")
            gkey = (vendor, code)
            grouped[gkey] = _merge(grouped.get(gkey) or _tables.GROUPED_GRAMMARS[gkey], members,
                                   bool(g.get("replace")))
        else:
            raise DialectError(f"{ctx}: needs 'command' or 'avp'")
    return Dialect(head["name"], head.get("title", ""), frozenset(vendors), commands, grouped)


def _fallback(code: int, is_request: bool) -> tuple[Member, ...]:
    """The grammar the validator would use for a command the application does not define."""
    apps = sorted(a for a, c, r in _tables.COMMAND_GRAMMARS if c == code and r == is_request)
    return _tables.COMMAND_GRAMMARS[(apps[0], code, is_request)] if apps else ((-1, -1, "optional", 0, -1),)


def _merge(base: Iterable[Member], extra: list[Member], replace: bool) -> tuple[Member, ...]:
    """Members of ``base`` with ``extra`` replacing same-AVP members or added before ``*[AVP]``."""
    by_key = {(m[0], m[1]): m for m in extra}
    out: list[Member] = []
    any_member: list[Member] = []
    for m in ([] if replace else base):
        if m[0] == -1:
            any_member = [m]
        elif (m[0], m[1]) in by_key:
            out.append(by_key.pop((m[0], m[1])))
        else:
            out.append(m)
    out += [m for m in extra if (m[0], m[1]) in by_key]
    return tuple(out + any_member)


def _members(text: str, own_vendor: int, ctx: str) -> list[Member]:
    from ..dictionary.source import DictionaryDataError, parse_grammar
    try:
        rules = parse_grammar(text)
    except DictionaryDataError as exc:
        raise DialectError(f"{ctx}: {exc}") from None
    out: list[Member] = []
    for r in rules:
        if r.name == "AVP":
            out.append((-1, -1, "optional", 0, -1))
            continue
        name = r.name if r.vendor is None else f"{r.name}/{r.vendor}" + (
            f":{r.code}" if r.code is not None else "")
        vendor, code = _avp_key(name, own_vendor, ctx)
        out.append((vendor, code, r.kind, r.min, -1 if r.max is None else r.max))
    return out


@functools.cache
def _names() -> dict[str, list[tuple[int, int]]]:
    idx: dict[str, list[tuple[int, int]]] = {}
    for code, vendor, name, *_rest in _tables.AVPS:
        idx.setdefault(name.lower(), []).append((vendor, code))
    for code, vendor, name in getattr(_tables, "AVP_ALT_NAMES", ()):   # a vendor's own spellings
        keys = idx.setdefault(name.lower(), [])
        if (vendor, code) not in keys:
            keys.append((vendor, code))
    return idx


def _avp_key(name: str, own_vendor: int, ctx: str) -> tuple[int, int]:
    """(vendor, code) of ``Name``, ``Name/vendor`` or ``Name/vendor:code``."""
    name, _, spec = name.partition("/")
    vendor_s, _, code_s = spec.partition(":")
    if code_s:
        return int(vendor_s), int(code_s)
    found = _names().get(name.strip().lower(), [])
    if vendor_s:
        found = [k for k in found if k[0] == int(vendor_s)]
    else:  # the file's vendor, then IETF, then 3GPP, then the only one
        for v in (own_vendor, 0, 10415):
            pick = [k for k in found if k[0] == v]
            if pick:
                found = pick
                break
    if len(found) != 1:
        raise DialectError(f"{ctx}: AVP name {name!r} is " + ("unknown" if not found else "ambiguous"))
    return found[0]


def _command_code(name: str | int, ctx: str) -> int:
    if isinstance(name, int):
        return name
    for code, _app, cname, _flags, abbr in _tables.COMMANDS:
        if cname.lower() == name.lower() or name.upper() in (a.upper() for a in abbr or ()):
            return code
    raise DialectError(f"{ctx}: unknown command {name!r}")
