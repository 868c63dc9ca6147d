"""Put dictionary data into the running codec at run time.

:func:`install` adds a :class:`~diameter.dictionary.source.Dictionary` (from
Wireshark XML, see :mod:`diameter.dictionary.wireshark`, or from our TOML files)
to the running dictionary: vendor names, AVP names / types / flag rules,
Enumerated value names, grouped-AVP members (used by validation),
application and command names (used by the JSON view). An entry loaded later
replaces an earlier one with the same key ((vendor, code) for AVPs).

:func:`empty_runtime` is a context manager that empties the running dictionary
and restores it on exit (tests, or a process that wants only its own files).

The running dictionary is held by several layers: the grouped grammars here, the
AVP tables of :mod:`diameter.message.avp.dictionary`, the names of
:mod:`diameter.jsonview`, the compiled grammars of :mod:`diameter.validation`.
This module imports none of them (imports run downward): each one, when it is
imported, hands its tables over with :func:`attach` (a :class:`RunningTables`) or
asks to hear of changes with :func:`on_change`. Tables attached after an
:func:`install` receive what was installed before, so the order in which a
program imports things and installs dictionaries does not matter; to that end the
installed dictionaries are kept (until a :func:`saved_runtime` block forgets them).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..codec.typed import GENERATION
from . import tables as _tables

if TYPE_CHECKING:
    from .source import AvpDef, Dictionary

Member = tuple[int, int, str, int, int]


@dataclass
class InstallStats:
    """What :func:`install` added (or replaced)."""
    vendors: int = 0
    avps: int = 0
    enums: int = 0
    grouped: int = 0
    applications: int = 0
    commands: int = 0


class RunningTables(Protocol):
    """Tables of a higher layer that hold part of the running dictionary (see :func:`attach`)."""

    def install(self, d: Dictionary, context: Dictionary | None) -> None:
        """Add what ``d`` defines; an entry replaces an earlier one with the same key."""

    def snapshot(self) -> object:
        """A copy of the tables' content, for :meth:`restore`."""

    def restore(self, state: object) -> None:
        """Put back the content of a :meth:`snapshot`."""

    def clear(self) -> None:
        """Empty the tables."""


_ATTACHED: list[RunningTables] = []
_LISTENERS: list[Callable[[], None]] = []
_INSTALLED: list[tuple[Dictionary, Dictionary | None]] = []  # since start or the last emptying
_EMPTIED = [False]           # inside empty_runtime(): the generated data is gone too
_SAVING = [0]                # saved_runtime()/empty_runtime() blocks open
_PRISTINE: dict[int, object] = {}  # id(tables) -> content when attached inside such a block


def attach(tables: RunningTables) -> None:
    """Let :func:`install`, :func:`saved_runtime` and :func:`empty_runtime` reach
    ``tables`` from now on; what was installed before is installed into them now.
    A higher layer calls this once, when its module is imported."""
    if _SAVING[0]:
        _PRISTINE[id(tables)] = tables.snapshot()
    _ATTACHED.append(tables)
    if _replay(tables):
        _changed()


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback()`` (e.g. to drop caches) after each change of the running dictionary."""
    _LISTENERS.append(callback)


def _replay(tables: RunningTables) -> bool:
    if _EMPTIED[0]:
        tables.clear()
    for d, context in _INSTALLED:
        tables.install(d, context)
    return _EMPTIED[0] or bool(_INSTALLED)


def _changed() -> None:
    GENERATION[0] += 1
    for callback in _LISTENERS:
        callback()


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


class _GroupedGrammars:
    """This layer's own part: the grouped grammars of the generated tables."""

    def install(self, d: Dictionary, context: Dictionary | None) -> None:
        for a in d.avps.values():
            if a.type == "Grouped" and a.grammar:
                _tables.GROUPED_GRAMMARS[a.key] = _members(d, a, context)

    def snapshot(self) -> object:
        return dict(_tables.GROUPED_GRAMMARS)

    def restore(self, state: object) -> None:
        assert isinstance(state, dict)
        _tables.GROUPED_GRAMMARS.clear()
        _tables.GROUPED_GRAMMARS.update(state)

    def clear(self) -> None:
        _tables.GROUPED_GRAMMARS.clear()


attach(_GroupedGrammars())


def install(d: Dictionary, context: Dictionary | None = None) -> InstallStats:
    """Add every vendor, AVP, enum, grouped grammar, application and command of ``d``
    to the running dictionary; returns the counts. Grouped grammars name their
    members; names not in ``d`` are looked up in ``context`` (e.g. the shipped data)."""
    avps = d.avps.values()
    stats = InstallStats(
        vendors=len(d.vendors), avps=len(avps), enums=sum(1 for a in avps if a.enum),
        grouped=sum(1 for a in avps if a.type == "Grouped" and a.grammar),
        applications=len(d.applications), commands=len(d.commands))
    _INSTALLED.append((d, context))
    for tables in _ATTACHED:
        tables.install(d, context)
    _changed()
    return stats


_Saved = tuple[list[tuple["Dictionary", "Dictionary | None"]], bool, dict[int, object]]


def _save() -> _Saved:
    _SAVING[0] += 1
    return list(_INSTALLED), _EMPTIED[0], {id(t): t.snapshot() for t in _ATTACHED}


def _restore(saved: _Saved) -> None:
    installed, emptied, snapshots = saved
    _INSTALLED[:] = installed
    _EMPTIED[0] = emptied
    for tables in _ATTACHED:
        if id(tables) in snapshots:
            tables.restore(snapshots[id(tables)])
        else:  # attached inside the block: as attached, then what was installed before it
            tables.restore(_PRISTINE[id(tables)])
            _replay(tables)
    _SAVING[0] -= 1
    if not _SAVING[0]:
        _PRISTINE.clear()
    _changed()


@contextlib.contextmanager
def saved_runtime() -> Iterator[None]:
    """Restore the running dictionary as it was when the ``with`` block ends
    (whatever was installed inside is forgotten)."""
    saved = _save()
    try:
        yield
    finally:
        _restore(saved)


@contextlib.contextmanager
def empty_runtime() -> Iterator[None]:
    """Empty the running dictionary for the ``with`` block, then restore it.

    Inside, AVPs decode as "Unknown" OctetStrings until something is
    :func:`install`-ed. Not thread-safe: other threads see the empty tables too.
    """
    saved = _save()
    try:
        _INSTALLED.clear()
        _EMPTIED[0] = True
        for tables in _ATTACHED:
            tables.clear()
        _changed()
        yield
    finally:
        _restore(saved)


def load_toml(*paths: str | Path) -> Dictionary:
    """Data files in the package's own TOML format (docs/dictionary.md) as a Dictionary."""
    from .source import Dictionary, load_file
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
