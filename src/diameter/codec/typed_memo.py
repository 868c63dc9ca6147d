"""The encoder's memo of whole grouped AVPs: what a group's bytes were encoded from.

A grouped slot of :mod:`.typed_encode` remembers the bytes of the last group it encoded
with a key made of the group's class, the dictionary generation and its dict's items
(nested groups and lists as :class:`GroupKey` and :class:`ListKey`); a group equal to the
key all the way down gets the remembered bytes. Compiled by mypyc with the rest of the
codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Final

from .typed import BINDINGS, GENERATION, Slot


def equal(a: Any, b: Any, t: type) -> bool:
    """``a == b`` for two values of type ``t``: typed for bytes, str and int (no rich comparison)."""
    if t is bytes:
        ab: bytes = a
        bb: bytes = b
        return ab == bb
    if t is str:
        at: str = a
        bt: str = b
        return at == bt
    if t is int:
        ai: int = a
        bi: int = b
        return ai == bi
    return bool(a == b)


def same_group(key: Any, tv: type, d: dict[str, Any]) -> bool:
    """Whether grouped instance dict ``d`` of class ``tv`` holds what the group memo ``key``
    (class, generation, its dict's items) was encoded from: the same names in the same
    order, each value of the very same type and equal (a group inside: the same again,
    deeply; a list: the same length, each item the same)."""
    k: tuple[Any, ...] = key
    if k[0] is not tv or k[1] != GENERATION[0]:
        return False
    return _same_items(k[2], d)


def _same_items(items: tuple[tuple[str, Any], ...], d: dict[str, Any]) -> bool:
    if len(items) != len(d):
        return False
    i = 0
    for name, v in d.items():
        item = items[i]
        if item[0] != name or not _same_value(item[1], v):
            return False
        i += 1
    return True


def _same_value(mv: Any, v: Any) -> bool:
    """Whether value ``v`` is what :func:`_memo_value` turned into ``mv``."""
    tm = type(mv)
    if tm is GroupKey:
        g: GroupKey = mv
        if type(v) is not g.cls:
            return False
        d: dict[str, Any] = v.__dict__
        return _same_items(g.items, d)      # (no "_raw" and no custom AVPs in g.items)
    if tm is ListKey:
        lk: ListKey = mv
        if type(v) is not list:
            return False
        lst: list[Any] = v
        vals = lk.values
        if len(lst) != len(vals):
            return False
        for j in range(len(vals)):
            if not _same_value(vals[j], lst[j]):
                return False
        return True
    return v is mv or (type(v) is tm and equal(v, mv, tm))


class GroupKey:
    """A grouped value inside a group memo's key: its class and its dict's items."""
    cls: type
    items: tuple[tuple[str, Any], ...]

    def __init__(self, cls: type, items: tuple[tuple[str, Any], ...]) -> None:
        self.cls = cls
        self.items = items


class ListKey:
    """A list value inside a group memo's key: its items as memo values."""
    values: tuple[Any, ...]

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values


_NOT_PLAIN: Final[Any] = object()


def _memo_items(d: dict[str, Any], depth: int) -> Any:
    """The items of grouped instance dict ``d`` as a memo key (a tuple of (name, memo
    value)); ``_NOT_PLAIN`` when a value is not one :func:`_memo_value` takes."""
    out: list[tuple[str, Any]] = []
    for name, v in d.items():
        mv = _memo_value(v, depth)
        if mv is _NOT_PLAIN:
            return _NOT_PLAIN
        out.append((name, mv))
    return tuple(out)


def _memo_value(v: Any, depth: int) -> Any:
    """A value as a group memo keeps it: plain scalars (int, str, bytes: compared by value)
    as they are, a list as a :class:`ListKey`, a group built from attributes (the fast
    encoder's case: its binding current, no bytes behind it, no custom AVPs) as a
    :class:`GroupKey`, down to 4 levels; ``_NOT_PLAIN`` for anything else."""
    t = type(v)
    if t is int or t is str or t is bytes:
        return v
    if depth >= 4:
        return _NOT_PLAIN
    if t is list:
        vals: list[Any] = []
        for x in v:
            mx = _memo_value(x, depth + 1)
            if mx is _NOT_PLAIN:
                return _NOT_PLAIN
            vals.append(mx)
        return ListKey(tuple(vals))
    b = BINDINGS.get(t)
    if b is None or b.generation != GENERATION[0] or not b.grouped:
        return _NOT_PLAIN
    d: dict[str, Any] = v.__dict__
    if "_raw" in d or d.get("additional_avps"):
        return _NOT_PLAIN
    items = _memo_items(d, depth + 1)
    if items is _NOT_PLAIN:
        return _NOT_PLAIN
    return GroupKey(t, items)


def remember_group(slot: Slot, tv: type, d: dict[str, Any], wire: bytes) -> None:
    """Keep ``wire`` (the whole grouped AVP) as the slot's memo when every value of ``d`` is
    a plain scalar (int, str, bytes: compared by value), a list of such values or a group
    built from attributes holding such values (deeply), e.g. a Granted-Service-Unit or a
    Multiple-Services-Credit-Control built the same way for every answer; a group holding
    anything else (an ``Avp``, a float, a decoded group...) is encoded every time."""
    items = _memo_items(d, 0)
    if items is _NOT_PLAIN:
        return
    slot.memo = ((tv, GENERATION[0], items), wire)
