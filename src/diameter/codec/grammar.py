"""The grammar validation fast path: whether a message certainly passes the lenient check.

:func:`grammar_ok` walks the AVPs once against a command's grammar and the
per-AVP rules of ``diameter.validation`` (seen through the small protocols
below, so that the codec does not import the validation layer). Compiled by
mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Protocol

from .errors import AvpDecodeError
from .frame import COMPILED, frame_at


class AvpRules(Protocol):
    """What the fast path reads of one AVP's rules (``validation.rules.AvpInfo``)."""
    type_name: str
    bad_flags: int       # flags the AVP must not carry (M when the dictionary forbids it)
    fixed: int           # payload size of a fixed-size type, else 0
    grouped: bool
    value_check: bool    # Address, UTF8String, DiameterURI: the value itself is checked


class GrammarRules(Protocol):
    """What the fast path reads of one command's or group's grammar (``validation.rules.Grammar``)."""
    allowed: dict[int, tuple[int, int]]       # key -> (min, max); max -1: unbounded
    allow_any: bool                           # the grammar has ``* [ AVP ]``
    fixed: tuple[int, ...]                    # keys of the fixed positions, in order
    required: tuple[tuple[int, int], ...]     # (key, min) of required AVPs


class RuleBook(Protocol):
    """What the fast path asks of a rule set (``validation.rules.RuleSet``)."""

    def avp(self, key: int) -> AvpRules | None: ...

    def grouped(self, key: int) -> GrammarRules | None: ...


def _address_ok(buf: bytes, ps: int, pe: int) -> bool:
    n = pe - ps
    if n < 2:
        return False
    family = (buf[ps] << 8) | buf[ps + 1]
    if family == 0 or family == 65535:
        return False
    if family == 1:
        return n == 6
    if family == 2:
        return n == 18
    return True


def _utf8_ok(buf: bytes, ps: int, pe: int) -> bool:
    """Whether ``buf[ps:pe]`` is UTF-8 (ASCII checked in place, without a copy)."""
    if COMPILED:
        p = ps
        while p < pe:
            if buf[p] & 0x80:
                break
            p += 1
        else:
            return True
    try:
        buf[ps:pe].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class VInfo:
    """The fast path's view of one AVP's rules (from a ``validation.rules.AvpInfo``)."""
    known: bool
    bad_flags: int
    fixed: int
    grouped: bool
    check: int          # 0 none, 1 Address, 2 UTF-8

    def __init__(self, info: AvpRules | None) -> None:
        self.known = info is not None
        self.bad_flags = 0
        self.fixed = 0
        self.grouped = False
        self.check = 0
        if info is not None:
            self.bad_flags = info.bad_flags
            self.fixed = info.fixed
            self.grouped = info.grouped
            if info.value_check:
                self.check = 1 if info.type_name == "Address" else 2


def grammar_ok(buf: bytes, start: int, end: int, g: GrammarRules | None, rules: RuleBook,
               cache: dict[int, VInfo],
               depth: int, max_depth: int) -> bool:
    """Whether the AVPs in ``buf[start:end]`` certainly pass the lenient grammar check.

    ``g`` is a ``validation.rules.Grammar`` (or None: anything goes), ``rules``
    its ``RuleSet``, ``cache`` the RuleSet's (code | vendor << 32) -> VInfo
    cache. False means "not sure": the full checker then runs and reports what
    is wrong; it never means the message was accepted.
    """
    # keys are boxed once per AVP (``Any``): each dict operation on a native int key
    # would box it again
    counts: dict[Any, int] = {}
    first_pos: dict[Any, int] = {}
    allowed: dict[Any, tuple[int, int]] = {}
    allow_any = True
    fixed: tuple[int, ...] = ()
    has_grammar = g is not None
    if g is not None:
        allowed = g.allowed
        allow_any = g.allow_any
        fixed = g.fixed
    vcache: dict[Any, VInfo] = cache
    pos = start
    i = 0
    try:
        while pos < end:
            code, flags, vendor, ps, pe, nxt = frame_at(buf, pos, end)
            k: Any = code | (vendor << 32)
            bounds = allowed.get(k) if has_grammar else None
            if bounds is not None:      # only what the grammar lists is counted
                n = counts.get(k, 0)
                counts[k] = n + 1
                if n == 0 and fixed and k in fixed:
                    first_pos[k] = i
            i += 1
            pos = nxt
            vi = vcache.get(k)
            if vi is None:
                vi = VInfo(rules.avp(k))
                vcache[k] = vi
            if flags & 0x80 and vendor == 0:
                return False
            if not vi.known:
                if flags & 0x40:
                    return False
                continue
            if flags & vi.bad_flags:
                return False
            if bounds is None and not allow_any:
                return False
            size = vi.fixed
            if size:
                if pe - ps != size:
                    return False
            elif vi.grouped:
                if depth + 1 >= max_depth:
                    return False
                if not grammar_ok(buf, ps, pe, rules.grouped(k), rules, cache, depth + 1,
                                  max_depth):
                    return False
            elif vi.check == 1:
                if not _address_ok(buf, ps, pe):
                    return False
            elif vi.check == 2:
                if not _utf8_ok(buf, ps, pe):
                    return False
    except AvpDecodeError:
        return False
    if g is None:
        return True
    for j in range(len(fixed)):
        p = first_pos.get(fixed[j], j)
        if p != j:
            return False
    for k2, c in counts.items():
        b = allowed.get(k2)
        if b is not None and b[1] >= 0 and c > b[1]:
            return False
    for req in g.required:
        if counts.get(req[0], 0) < req[1]:
            return False
    return True
