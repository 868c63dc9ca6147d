"""The grammar validation fast path: whether a message certainly passes the lenient check.

:func:`grammar_ok` walks the AVPs once against a command's grammar and the
per-AVP rules of ``diameter.validation`` (seen through the small protocols
below, so that the codec does not import the validation layer). Compiled by
mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from mypy_extensions import i64

from .errors import AvpDecodeError
from .frame import COMPILED, FRAMED, LIMITS, frame_at


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
    proxiable: Mapping[int, bool]

    def avp(self, key: int) -> AvpRules | None: ...

    def grouped(self, key: int) -> GrammarRules | None: ...

    def command(self, app: int, code: int, is_request: bool) -> GrammarRules | None: ...

    def knows_command(self, code: int) -> bool: ...


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
        p: i64 = ps         # i64: native byte reads and arithmetic when compiled
        e: i64 = pe
        while p < e:
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


class Member:
    """One AVP key as a :class:`Plan` checks it: its rules and its place in the grammar."""
    known: bool
    bad_flags: int
    fixed: int
    grouped: bool
    check: int          # 0 none, 1 Address, 2 UTF-8
    idx: int            # occurrence counter, -1: the grammar does not list the AVP
    hi: int             # most occurrences allowed, -1 unbounded
    fixed_pos: int      # the position the grammar fixes for the AVP, -1 none
    sub: Plan | None    # a grouped AVP's plan, set on first use
    sub_done: bool

    def __init__(self, vi: VInfo) -> None:
        self.known = vi.known
        self.bad_flags = vi.bad_flags
        self.fixed = vi.fixed
        self.grouped = vi.grouped
        self.check = vi.check
        self.idx = -1
        self.hi = -1
        self.fixed_pos = -1
        self.sub = None
        self.sub_done = False


#: keys a plan remembers at most (AVPs outside its grammar come from the input)
MAX_PLAN_KEYS = 4096
#: positions a plan remembers the last key of (messages of a kind repeat their AVP order)
MAX_SEQ = 64


class Plan:
    """A grammar compiled for :func:`grammar_ok`: one table look-up per AVP.

    Kept in the rule set's fast cache (keyed by the grammar object), so that it
    is dropped whenever the cache is.
    """
    table: dict[Any, Member]          # key -> member, filled as keys are met
    grammar: GrammarRules | None
    slots: dict[Any, int]             # listed key -> counter index
    n: int
    required: list[tuple[int, int]]   # (counter index, min)
    allow_any: bool
    seq: list[tuple[int, Member]]     # (key, member) of the AVP last seen at each position
    seq_gen: int                      # bumped on every change of ``seq``
    ok_gen: int                       # ``seq_gen`` when ``seq[:ok_n]``'s keys passed the counts
    ok_n: int

    def __init__(self, g: GrammarRules | None) -> None:
        self.table = {}
        self.seq = []
        self.seq_gen = 0
        self.ok_gen = -1
        self.ok_n = 0
        self.grammar = g
        self.slots = {}
        self.required = []
        self.allow_any = True
        if g is not None:
            self.allow_any = g.allow_any
            for k in g.allowed:
                self.slots[k] = len(self.slots)
            for req in g.required:
                self.required.append((self.slots[req[0]], req[1]))
        self.n = len(self.slots)


class _NoGrammar:
    pass


_NO_GRAMMAR: Final = _NoGrammar()


def plan_of(g: GrammarRules | None, cache: dict[Any, Any]) -> Plan:
    """The plan of grammar ``g`` (None: anything goes), built once per fast cache."""
    pk: Any = _NO_GRAMMAR if g is None else g
    p: Plan | None = cache.get(pk)
    if p is None:
        p = Plan(g)
        cache[pk] = p
    return p


def _member(p: Plan, k: Any, rules: RuleBook, cache: dict[Any, Any]) -> Member:
    vi: VInfo | None = cache.get(k)
    if vi is None:
        vi = VInfo(rules.avp(k))
        cache[k] = vi
    m = Member(vi)
    g = p.grammar
    if g is not None:
        bounds = g.allowed.get(k)
        if bounds is not None:
            m.idx = p.slots[k]
            m.hi = bounds[1]
            fixed = g.fixed
            for j in range(len(fixed)):
                if fixed[j] == k:
                    m.fixed_pos = j
                    break
    if len(p.table) < MAX_PLAN_KEYS:
        p.table[k] = m
    return m


def grammar_ok(buf: bytes, start: int, end: int, g: GrammarRules | None, rules: RuleBook,
               cache: dict[int, VInfo],
               depth: int, max_depth: int) -> bool:
    """Whether the AVPs in ``buf[start:end]`` certainly pass the lenient grammar check.

    ``g`` is a ``validation.rules.Grammar`` (or None: anything goes), ``rules``
    its ``RuleSet``, ``cache`` the RuleSet's fast cache (key -> :class:`VInfo`,
    grammar -> :class:`Plan`). False means "not sure": the full checker then
    runs and reports what is wrong; it never means the message was accepted.
    """
    c: dict[Any, Any] = cache
    return plan_ok(buf, start, end, plan_of(g, c), rules, c, depth, max_depth)


_NO_COUNTS: Final[list[int]] = []
"""The counters of a walk that does not count (never written)."""


def plan_ok(buf: bytes, start: int, end: int, p: Plan, rules: RuleBook, cache: dict[Any, Any],
            depth: int, max_depth: int) -> bool:
    """:func:`grammar_ok` with the grammar's plan.

    The occurrence checks (bounds, fixed positions, required AVPs) depend only on the
    sequence of AVP keys: when the keys are those of the last message of the plan that
    passed them (``seq``, unchanged since), they are not counted again. Everything that
    depends on the bytes (flags, lengths, values, groups) is checked on every message.
    """
    r = _walk(buf, start, end, p, rules, cache, depth, max_depth, p.ok_gen == p.seq_gen)
    if r < 0:       # other keys than the known sequence: count them
        r = _walk(buf, start, end, p, rules, cache, depth, max_depth, False)
    return r == 1


def _walk(buf: bytes, start: int, end: int, p: Plan, rules: RuleBook, cache: dict[Any, Any],
          depth: int, max_depth: int, same: bool) -> int:
    """One pass of :func:`plan_ok`: 1 pass, 0 fail; ``same``: the keys are expected to be
    ``p.seq[:p.ok_n]`` and the occurrences are not counted (-1 when they are not)."""
    counts = _NO_COUNTS if same else [0] * p.n
    table = p.table
    seq = p.seq
    allow_any = p.allow_any
    gen0 = p.seq_gen
    writes = 0
    pos = start
    i = 0
    try:
        while pos < end:
            code, flags, vendor, ps, pe, nxt = frame_at(buf, pos, end)
            kk = code | (vendor << 32)
            m: Member | None = None
            if i < len(seq):
                e = seq[i]      # one tuple: consistent even when threads race
                if e[0] == kk:
                    m = e[1]
            if m is None:
                if same:
                    return -1
                k: Any = kk
                m = table.get(k)
                if m is None:
                    m = _member(p, k, rules, cache)
                if i < len(seq):
                    seq[i] = (kk, m)
                    p.seq_gen += 1
                    writes += 1
                elif i < MAX_SEQ:
                    seq.append((kk, m))
                    p.seq_gen += 1
                    writes += 1
            idx = m.idx
            if idx >= 0 and not same:      # only what the grammar lists is counted
                n = counts[idx]
                if 0 <= m.hi <= n:
                    return 0
                if n == 0 and m.fixed_pos >= 0 and m.fixed_pos != i:
                    return 0
                counts[idx] = n + 1
            i += 1
            pos = nxt
            if flags & 0x80 and vendor == 0:
                return 0
            if not m.known:
                if flags & 0x40:
                    return 0
                continue
            if flags & m.bad_flags:
                return 0
            if idx < 0 and not allow_any:
                return 0
            size = m.fixed
            if size:
                if pe - ps != size:
                    return 0
            elif m.grouped:
                if depth + 1 >= max_depth:
                    return 0
                sub = m.sub
                if not m.sub_done:
                    sub = m.sub = plan_of(rules.grouped(kk), cache)
                    m.sub_done = True
                if sub is None or not plan_ok(buf, ps, pe, sub, rules, cache, depth + 1,
                                              max_depth):
                    return 0
            elif m.check == 1:
                if not _address_ok(buf, ps, pe):
                    return 0
            elif m.check == 2:
                if not _utf8_ok(buf, ps, pe):
                    return 0
    except AvpDecodeError:
        return 0
    if same:
        # the keys were seq's all along (no change of seq since the walk began)
        return 1 if i == p.ok_n and p.seq_gen == gen0 else -1
    for req in p.required:
        if counts[req[0]] < req[1]:
            return 0
    if i <= MAX_SEQ and p.seq_gen == gen0 + writes:
        # seq[:i] holds this message's keys (no other walk changed it meanwhile)
        p.ok_gen = p.seq_gen
        p.ok_n = i
    return 1


class _Commands:
    pass


_COMMANDS: Final = _Commands()
"""The fast cache's key of its command table: (app, code, R) -> the command's plan."""


def _command_plan(rules: RuleBook, cache: dict[Any, Any], app: int, code: int,
                  is_request: bool) -> Plan | None:
    """The plan of a command, None when only the full check can tell (an unknown command,
    the P bit on a non-proxiable one: ``proxiable`` is checked by the caller)."""
    g = rules.command(app, code, is_request)
    if g is None and not rules.knows_command(code):
        return None
    return plan_of(g, cache)


def message_ok(buf: bytes, rules: RuleBook, cache: dict[int, VInfo]) -> bool:
    """Whether a whole message certainly passes the lenient check (``validate``'s fast path).

    Sound framing, no E bit, the P bit allowed, a known command, and
    :func:`grammar_ok` of its AVPs; ``cache`` is ``rules.fast_cache()``.
    """
    size = len(buf)
    if size < 20:
        return False
    length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
    flags = buf[4]
    if buf[0] != 1 or length != size or length & 3 or length > LIMITS.max_message_size \
            or flags & 0x20:
        return False
    code = (buf[5] << 16) | (buf[6] << 8) | buf[7]
    app = (buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]
    c: dict[Any, Any] = cache
    cmds: dict[Any, Any] | None = c.get(_COMMANDS)
    if cmds is None:
        cmds = {}
        c[_COMMANDS] = cmds
    ck: Any = (app << 25) | (code << 1) | (1 if flags & 0x80 else 0)
    entry: tuple[Plan | None, bool] | None = cmds.get(ck)
    if entry is None:
        p = _command_plan(rules, c, app, code, bool(flags & 0x80))
        proxiable = p is None or p.grammar is None or rules.proxiable.get(code, True)
        entry = (p, proxiable)
        if len(cmds) >= MAX_PLAN_KEYS:   # keys come from the input: stay bounded
            cmds.clear()
        cmds[ck] = entry
    p2 = entry[0]
    if p2 is None or (flags & 0x40 and not entry[1]):
        return False
    if plan_ok(buf, 20, length, p2, rules, c, 0, LIMITS.max_depth):
        FRAMED[0] = buf
        return True
    return False
