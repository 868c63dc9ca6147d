"""Put dictionary data into the running codec at run time.

:func:`install` adds a :class:`~diameter.dictionary.source.Dictionary` (from
Wireshark XML, see :mod:`diameter.dictionary.wireshark`, or from our TOML files)
to the running dictionary: vendor names, AVP names / types / flag rules,
Enumerated value names, grouped-AVP members (used by validation),
application and command names (used by the JSON view). An entry loaded later
replaces an earlier one with the same key ((vendor, code) for AVPs).

:func:`empty_runtime` is a context manager that empties the running dictionary
and restores it on exit (tests, or a process that wants only its own files).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass

from .. import jsonview
from ..codec.typed import GENERATION
from ..message.avp import dictionary as _avpdict
from . import _generated_tables as _tables
from .source import AvpDef, Dictionary

Member = tuple[int, int, str, int, int]

_TABLES = ("AVP_DICTIONARY", "AVP_VENDOR_DICTIONARY", "AVP_TYPE_NAMES",
           "AVP_FLAG_RULES", "ENUMS", "VENDOR_NAMES")


@dataclass
class InstallStats:
    """What :func:`install` added (or replaced)."""
    vendors: int = 0
    avps: int = 0
    enums: int = 0
    grouped: int = 0
    applications: int = 0
    commands: int = 0


def _changed() -> None:
    GENERATION[0] += 1
    from ..validation.rules import clear_caches
    clear_caches()


def _members(d: Dictionary, avp: AvpDef, context: Dictionary | None = None) -> tuple[Member, ...]:
    """Grouped grammar rows in the generated tables' shape; unresolved names left out."""
    out: list[Member] = []
    seen: set[tuple[int, int]] = set()
    for r in avp.grammar:
        if r.is_any:
            key = (-1, -1)
        else:
            m = d.resolve(r, avp.vendor)
            if m is None and context is not None:
                m = context.resolve(r, avp.vendor)
            if m is None:
                continue
            key = m.key
        if key in seen:
            continue
        seen.add(key)
        out.append((key[0], key[1], r.kind, r.min, -1 if r.max is None else r.max))
    return tuple(out)


def install(d: Dictionary, context: Dictionary | None = None) -> InstallStats:
    """Add every vendor, AVP, enum, grouped grammar, application and command of ``d``
    to the running dictionary; returns the counts. Grouped grammars name their
    members; names not in ``d`` are looked up in ``context`` (e.g. the shipped data)."""
    stats = InstallStats()
    for vid, v in d.vendors.items():
        _avpdict.VENDOR_NAMES[vid] = v.name
        stats.vendors += 1
    for a in d.avps.values():
        cls = _avpdict.TYPE_CLASSES.get(a.type, _avpdict.TYPE_CLASSES["OctetString"])
        _avpdict.register_entry(a.code, a.name, cls, a.vendor, a.mandatory, a.type)
        _avpdict.AVP_FLAG_RULES[a.key] = (a.must, a.may, a.must_not)
        stats.avps += 1
        if a.enum:
            _avpdict.ENUMS[a.key] = dict(a.enum)
            stats.enums += 1
        if a.type == "Grouped" and a.grammar:
            _tables.GROUPED_GRAMMARS[a.key] = _members(d, a, context)
            stats.grouped += 1
    for app in d.applications.values():
        jsonview.APPLICATION_NAMES[app.id] = app.name
        stats.applications += 1
    for c in d.commands:
        jsonview.COMMAND_NAMES[c.code] = c.name
        stats.commands += 1
    _changed()
    return stats


def _snapshot() -> dict:
    return {
        "tables": {name: dict(getattr(_avpdict, name)) for name in _TABLES},
        "vendor_codes": {v: dict(c) for v, c in _avpdict.AVP_VENDOR_DICTIONARY.items()},
        "grouped": dict(_tables.GROUPED_GRAMMARS),
        "commands": dict(jsonview.COMMAND_NAMES),
        "applications": dict(jsonview.APPLICATION_NAMES),
    }


def _refill(table: dict, content: dict) -> None:
    table.clear()
    table.update(content)


def _restore(s: dict) -> None:
    for name in _TABLES:
        _refill(getattr(_avpdict, name), s["tables"][name])
    _refill(_avpdict.AVP_VENDOR_DICTIONARY, s["vendor_codes"])
    _refill(_tables.GROUPED_GRAMMARS, s["grouped"])
    _refill(jsonview.COMMAND_NAMES, s["commands"])
    _refill(jsonview.APPLICATION_NAMES, s["applications"])
    _changed()


@contextlib.contextmanager
def saved_runtime() -> Iterator[None]:
    """Restore the running dictionary as it was when the ``with`` block ends
    (whatever was installed inside is forgotten)."""
    s = _snapshot()
    try:
        yield
    finally:
        _restore(s)


@contextlib.contextmanager
def empty_runtime() -> Iterator[None]:
    """Empty the running dictionary for the ``with`` block, then restore it.

    Inside, AVPs decode as "Unknown" OctetStrings until something is
    :func:`install`-ed. Not thread-safe: other threads see the empty tables too.
    """
    s = _snapshot()
    try:
        for table in (*(getattr(_avpdict, n) for n in _TABLES), _tables.GROUPED_GRAMMARS,
                      jsonview.COMMAND_NAMES, jsonview.APPLICATION_NAMES):
            table.clear()
        _changed()
        yield
    finally:
        _restore(s)


def load_toml(*paths: str | Path) -> Dictionary:
    """Data files in the package's own TOML format (docs/dictionary.md) as a Dictionary."""
    from .source import load_file
    d = Dictionary()
    for p in paths:
        load_file(Path(p), d)
    return d


def load_toml_and_register(*paths: str | Path) -> InstallStats:
    """Load TOML data files and install them in the running dictionary (run-time
    counterpart of adding them to ``src/diameter/dictionary/data/``). Grammar
    names also resolve to the shipped AVPs (Session-Id, 3GPP's...)."""
    from .source import load_all
    return install(load_toml(*paths), context=load_all())
