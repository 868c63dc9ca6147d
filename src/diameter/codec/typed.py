"""Typed classes over bytes: attribute slots, group decoding, attribute reads.

The compiled half of ``diameter.message._binding``: a typed message or grouped
class has a :class:`Binding` (its :class:`Slot` per AVP); :func:`fill_dict`
decodes a bytes-backed instance's attributes, :func:`attr_get` answers reads.
Encoding an instance built from attributes is :mod:`.typed_encode`. Compiled by
mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Final

from .errors import AvpDecodeError
from .frame import COMPILED, LIMITS, Entry, frame_at, scan, u32_at
from .objects import find_avp_objects, make_avps
from .typed_slot import (K_CALL, K_GROUP, K_I32, K_I64, K_OCTETS, K_U32, K_U64, K_UTF8,  # noqa: F401
                         MISS, FillState, Slot, _Miss, _scalar, last_at, read_one)


def _fill_one(buf: bytes, slot: Slot, ps: int, pe: int, d: dict[str, Any], depth: int,
              max_depth: int, deferred: set[str], bad: list[str]) -> None:
    kind = slot.kind
    value: Any = None
    if kind == K_OCTETS:
        value = buf[ps:pe]
    elif kind == K_UTF8:
        try:
            value = buf[ps:pe].decode("utf-8")
        except UnicodeDecodeError:
            bad.append(slot.name)
            return
    elif kind == K_U32 or kind == K_I32:
        if pe - ps != 4:
            bad.append(slot.name)
            return
        n = u32_at(buf, ps)
        if kind == K_I32 and n >= 0x80000000:
            n -= 0x100000000
        value = n
    elif kind == K_GROUP:
        if depth >= max_depth:
            bad.append(slot.name)
            return
        cls: Any = slot.fn
        value = cls.__new__(cls)
        od: dict[str, Any] = value.__dict__
        od["_raw"] = (buf, ps, pe)
        od["_depth"] = depth + 1
    elif kind == K_U64 or kind == K_I64:
        if pe - ps != 8:
            bad.append(slot.name)
            return
        n = (u32_at(buf, ps) << 32) | u32_at(buf, ps + 4)
        if kind == K_I64 and n >= 0x8000000000000000:
            n -= 0x10000000000000000
        value = n
    else:
        deferred.add(slot.name)
        return
    if slot.is_list:
        cur = d.get(slot.name)
        if cur is None:
            d[slot.name] = [value]
        else:
            cur.append(value)
    else:
        d[slot.name] = value


def fill(buf: bytes, entries: list[Entry], table: dict[int, Slot], d: dict[str, Any],
         depth: int, max_depth: int, deferred: set[str]) -> list[str]:
    """Decode every AVP of a group that ``table`` names into the empty dict ``d``.

    A later occurrence of a single-valued attribute wins. Attributes with a
    value that does not decode are left out (and their names returned), so
    that reading them raises the typed error then. Types with a costly
    decoder (K_CALL: Time, Address, Float...) are only noted in ``deferred``.
    """
    bad: list[str] = []
    for e in entries:
        slot = table.get(e[0] | (e[1] << 32))
        if slot is not None:
            _fill_one(buf, slot, e[4], e[5], d, depth, max_depth, deferred, bad)
    for name in bad:
        d.pop(name, None)
    return bad


def scan_fill(buf: bytes, start: int, end: int, table: dict[int, Slot], d: dict[str, Any],
              depth: int, max_depth: int, deferred: set[str]) -> list[str]:
    """:func:`fill` straight from the bytes, without building entries (compiled build)."""
    bad: list[str] = []
    pos = start
    while pos < end:
        code, flags, vendor, ps, pe, nxt = frame_at(buf, pos, end)
        slot = table.get(code | (vendor << 32))
        if slot is not None:
            _fill_one(buf, slot, ps, pe, d, depth, max_depth, deferred, bad)
        pos = nxt
    for name in bad:
        d.pop(name, None)
    return bad


class Binding:
    """How a typed class's attributes map to AVPs (built by ``diameter.message._binding``)."""
    by_name: dict[str, Any]           # attribute -> Spec
    by_key: dict[int, Any]            # code | vendor << 32 -> Spec
    ordered: list[Any]                # Specs in encoding order
    list_names: frozenset[str]
    generation: int
    grouped: bool
    fill_table: dict[int, Slot]       # code | vendor << 32 -> slot
    slots: dict[str, Slot]            # attribute -> its slot (first name of an AVP)
    enc_slots: dict[str, Slot]        # attribute -> its slot (every name)
    order: list[Slot]                 # encoding order
    names: frozenset[str]             # attributes fill() sets (not second names of an AVP)
    partial_score: int                # >= 0: first reads of a scalar use read_one (see attr_get)
    shapes: dict[Any, Any]            # tuple of an instance dict's keys -> typed_encode.Shape
    last_shape: Any                   # the Shape found last (tried first)
    head1: tuple[int, bytes] | None   # (word, bytes): a message's first 8 header bytes last encoded

    def __init__(self) -> None:
        self.partial_score = 0
        self.by_name = {}
        self.by_key = {}
        self.ordered = []
        self.list_names = frozenset()
        self.generation = 0
        self.grouped = False
        self.fill_table = {}
        self.slots = {}
        self.enc_slots = {}
        self.order = []
        self.names = frozenset()
        self.shapes = {}
        self.last_shape = None
        self.head1 = None


GENERATION: Final = [0]
"""Bumped when the dictionary changes, so that bindings are rebuilt."""
BINDINGS: Final[dict[type, Binding]] = {}
"""The binding of each typed class (not inherited by subclasses)."""


EAGER: Final = [COMPILED]
"""Decode a whole group on the first read of one of its attributes (when compiled)."""
SLOW: Final[list[Any]] = [None]
"""The slow path of attribute reads: ``SLOW[0](obj, name)`` (set by the message layer)."""


class _Found:
    """What an :class:`Attr` found for a class: its binding and the attribute's slot."""
    owner: Any
    b: Binding
    slot: Slot

    def __init__(self, owner: Any, b: Binding, slot: Slot) -> None:
        self.owner = owner
        self.b = b
        self.slot = slot


class Attr:
    """Class attribute standing for one typed attribute until it is in the instance dict.

    A non-data descriptor: once a value is in the instance ``__dict__`` (decoded or
    set), Python reads it from there without calling :meth:`__get__`. It keeps the
    binding and slot it found for the class last read through it (one object, replaced
    whole; checked against the instance's class and the binding's generation).
    """
    name: str
    doc: str                # "Session-Id (AVP 263): UTF8String", shown by help()
    found: _Found | None

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.doc = doc
        self.found = None

    def __repr__(self) -> str:
        return self.doc or f"<attribute {self.name}>"

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        if not EAGER[0]:
            return SLOW[0](obj, self.name)
        found = self.found
        if found is not None and found.owner is type(obj) and found.b.generation == GENERATION[0]:
            value = attr_read(obj, found.b, found.slot)
        else:
            value = self._first(obj)
        if value is MISS:
            return SLOW[0](obj, self.name)
        return value

    def _first(self, obj: Any) -> Any:
        """:meth:`__get__` through the look-ups, whose result is kept for the next reads."""
        t = type(obj)
        b = BINDINGS.get(t)
        if b is None or b.generation != GENERATION[0]:
            return MISS
        slot = b.slots.get(self.name)
        if slot is None:
            return MISS
        self.found = _Found(t, b, slot)
        return attr_read(obj, b, slot)


def fill_dict(d: dict[str, Any], b: Binding) -> FillState:
    """Decode every attribute of a bytes-backed instance's ``__dict__`` at once.

    Records a snapshot so that encoding can tell changed attributes from
    decoded ones; attributes the user set before keep their value.
    """
    raw: tuple[bytes, int, int] = d["_raw"]
    buf = raw[0]
    entries: list[Entry] | None = d.get("_raw_entries")
    out: dict[str, Any] = {}
    deferred: set[str] = set()
    old: FillState | None = d.get("_st")
    if old is not None and not old.partial:
        old = None
    if entries is None and COMPILED:
        bad = scan_fill(buf, raw[1], raw[2], b.fill_table, out, d.get("_depth", 0),
                        LIMITS.max_depth, deferred)
    else:
        if entries is None:
            entries = scan(buf, raw[1], raw[2])
            d["_raw_entries"] = entries
        bad = fill(buf, entries, b.fill_table, out, d.get("_depth", 0), LIMITS.max_depth,
                   deferred)
    snapl: dict[str, tuple[Any, ...]] = {}
    for k, v in out.items():
        if type(v) is list:
            snapl[k] = tuple(v)
    user_set = False
    for k in d:       # a few internal names, and attributes set before the first read
        if k in out:
            user_set = True
            break
    if old is not None:
        # after read_one: its values stay the decoded ones (the very objects handed out,
        # so that an unchanged attribute is still seen unchanged); one deleted since stays so
        for k, v in old.snap.items():
            out[k] = v
        for k, v in out.items():
            if k not in d and k not in old.snap:
                d[k] = v
    elif user_set:
        for k, v in out.items():
            if k not in d:
                d[k] = v
    else:
        d.update(out)
    st = FillState(out, snapl, bad, deferred)
    d["_st"] = st
    return st


PARTIAL_CAP: Final = 16
"""Highest :attr:`Binding.partial_score`: first reads of a class read alone until then."""
PARTIAL_PROBE: Final = 16
"""After partial reads of an instance are followed by a read that needs the whole group
(a list, a group, a costly type, more than PARTIAL_READS attributes), the next PARTIAL_PROBE
first reads of its class decode the whole group at once (the pattern of the class's readers
is probed again after them)."""


PARTIAL_READS: Final = 8
"""At most this many attributes of one instance are read alone (:func:`read_one`); the
next read decodes the whole group."""


#: what the message layer keeps in a typed instance's ``__dict__`` besides attributes
#: (``diameter.message._binding``'s ``_INTERNAL_KEYS``)
INTERNAL_KEYS: Final = frozenset({"header", "_additional_avps", "_raw", "_raw_entries", "_st",
                                  "_depth", "_raw_index"})


def find_clean(d: dict[str, Any], code: Any, vendor: Any) -> Any:
    """``DefinedMessage.find_avps`` of one (code, vendor) step on a message plainly unchanged
    since decoding (no attribute set, none read but by :func:`read_one`, no custom AVP):
    the matching Avp objects, built from the bytes; :data:`MISS` when the general code
    must answer."""
    raw: tuple[bytes, int, int] | None = d.get("_raw")
    if (raw is None or type(code) is not int or type(vendor) is not int or "_plain" in d
            or d.get("_additional_avps")):
        return MISS
    c: int = code
    v: int = vendor
    if not (0 <= c <= 0xFFFFFFFF and 0 <= v <= 0xFFFFFFFF):
        return MISS
    st: FillState | None = d.get("_st")
    n = 0
    for k in d:
        if k not in INTERNAL_KEYS:
            if st is None or not st.partial:
                return MISS
            snap = st.snap
            if k not in snap or d[k] is not snap[k]:
                return MISS
            n += 1
    if st is not None and (not st.partial or n != len(st.snap)):
        return MISS
    idx: dict[int, list[Entry]] | None = d.get("_raw_index")
    if idx is not None:
        occ = idx.get(c | (v << 32))
        if not occ:
            return []
        return make_avps(raw[0], occ, 0)
    return find_avp_objects(raw[0], raw[1], raw[2], c, v, 0)


def entries_of(d: dict[str, Any]) -> list[Entry]:
    """The located AVPs of a bytes-backed instance (scanned on first need)."""
    entries: list[Entry] | None = d.get("_raw_entries")
    if entries is None:
        raw: tuple[bytes, int, int] = d["_raw"]
        entries = scan(raw[0], raw[1], raw[2])
        d["_raw_entries"] = entries
    return entries


def _decode_deferred(d: dict[str, Any], st: FillState, slot: Slot) -> Any:
    raw: tuple[bytes, int, int] = d["_raw"]
    buf = raw[0]
    entries = entries_of(d)
    key = slot.key
    values: list[Any] = []
    for e in entries:
        if (e[0] | (e[1] << 32)) == key:
            try:
                values.append(slot.fn(buf, e[4], e[5]))
            except AvpDecodeError:
                return MISS      # the slow path raises it with the attribute's name
    name = slot.name
    st.defer.discard(name)
    if slot.is_list:
        st.snapl[name] = tuple(values)
        d[name] = values
        st.snap[name] = values
        return values
    value = values[-1]
    d[name] = value
    st.snap[name] = value
    return value


def attr_get(obj: object, name: str) -> Any:
    """Fast path of typed attribute reads; :data:`MISS` when the slow path must answer."""
    b = BINDINGS.get(type(obj))
    if b is None or b.generation != GENERATION[0]:
        return MISS
    found = b.slots.get(name)    # (its keys are ``b.names``)
    if found is None:
        return MISS
    return attr_read(obj, b, found)


def attr_read(obj: object, b: Binding, slot: Slot) -> Any:
    """:func:`attr_get` of ``slot`` (of binding ``b``, current, of the class of ``obj``)."""
    name = slot.name
    d: dict[str, Any] = obj.__dict__
    raw: Any = d.get("_raw")     # (a tuple when present)
    if raw is None:
        if name in b.list_names:
            lst: list[Any] = []
            d[name] = lst
            return lst
        return None
    st: FillState | None = d.get("_st")
    if st is None:
        if slot.kind <= K_I64 and not slot.is_list:
            # the first read of a scalar (Session-Id in a handler that reads nothing
            # else): that AVP alone, not the whole group. Where instances of the class
            # usually get a read that needs the whole group after all (the partial reads
            # were extra work), this is tried on one first read in PARTIAL_PROBE only.
            score = b.partial_score
            if score >= 0:
                value = read_one(d, slot, None, raw)
                if value is not MISS:
                    if score < PARTIAL_CAP:
                        b.partial_score = score + 1
                    return value
            else:
                b.partial_score = score + 1
        st = fill_dict(d, b)
        if name in d:
            return d[name]
    elif st.partial:
        # another attribute of an instance read alone so far: a scalar is read alone too
        # (a server reads a few of a request's), anything else decodes the whole group
        snap = st.snap
        if (slot.kind <= K_I64 and not slot.is_list and name not in snap
                and len(snap) < PARTIAL_READS):
            value = read_one(d, slot, st, raw)
            if value is not MISS:
                return value
        b.partial_score = -PARTIAL_PROBE
        st = fill_dict(d, b)
        if name in d:
            return d[name]
    if name in st.redo:
        return MISS      # present but not decodable: the slow path raises the error
    if name in st.defer:
        return _decode_deferred(d, st, slot)
    if name in b.list_names:
        empty: list[Any] = []
        d[name] = empty
        st.snapl[name] = ()
        return empty
    return None
