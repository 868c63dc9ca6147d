"""Typed classes over bytes: attribute slots, group decoding, attribute reads, encoding.

The compiled half of ``diameter.message._binding``: a typed message or grouped
class has a :class:`Binding` (its :class:`Slot` per AVP); :func:`fill_dict`
decodes a bytes-backed instance's attributes, :func:`attr_get` answers reads,
:func:`encode_fresh` encodes an instance built from attributes. Compiled by
mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Final

from .errors import AvpDecodeError
from .frame import COMPILED, I32, I64, LIMITS, U32, U64, Entry, encode_avp, frame_at, scan, u32_at

# slot kinds: how fill() turns a payload into an attribute value
K_OCTETS: Final = 0
K_UTF8: Final = 1
K_U32: Final = 2
K_I32: Final = 3
K_U64: Final = 4
K_I64: Final = 5
K_CALL: Final = 6      # decoder(buf, start, end)
K_GROUP: Final = 7     # a grouped class, instantiated lazily over the payload


class Slot:
    """How fill() decodes one (code, vendor) key of a typed class."""
    name: str           # attribute
    kind: int           # K_* constant
    fn: Any             # decoder(buf, start, end) for K_CALL, the class for K_GROUP
    is_list: bool
    key: int            # code | vendor << 32
    # encoding
    code: int
    vendor: int
    flagbits: int       # AVP flags << 24
    fixed: bytes        # whole header of a fixed-size type, else b""
    pos: int            # index in Binding.order
    spec: Any           # the message layer's Spec: encode_one(value) for the general case

    def __init__(self, name: str, kind: int, fn: Any, is_list: bool, key: int = 0) -> None:
        self.name = name
        self.kind = kind
        self.fn = fn
        self.is_list = is_list
        self.key = key
        self.code = key & 0xFFFFFFFF
        self.vendor = key >> 32
        self.flagbits = 0
        self.fixed = b""
        self.pos = 0
        self.spec = None


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

    def __init__(self) -> None:
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


GENERATION: Final = [0]
"""Bumped when the dictionary changes, so that bindings are rebuilt."""
BINDINGS: Final[dict[type, Binding]] = {}
"""The binding of each typed class (not inherited by subclasses)."""


class _Miss:
    pass


MISS: Final = _Miss()
"""Returned by :func:`attr_get` when the slow path must answer."""
EAGER: Final = [COMPILED]
"""Decode a whole group on the first read of one of its attributes (when compiled)."""
SLOW: Final[list[Any]] = [None]
"""The slow path of attribute reads: ``SLOW[0](obj, name)`` (set by the message layer)."""


class Attr:
    """Class attribute standing for one typed attribute until it is in the instance dict.

    A non-data descriptor: once a value is in the instance ``__dict__`` (decoded or
    set), Python reads it from there without calling :meth:`__get__`.
    """
    name: str
    doc: str                # "Session-Id (AVP 263): UTF8String", shown by help()

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.doc = doc

    def __repr__(self) -> str:
        return self.doc or f"<attribute {self.name}>"

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        if not EAGER[0]:
            return SLOW[0](obj, self.name)
        value = attr_get(obj, self.name)
        if value is MISS:
            return SLOW[0](obj, self.name)
        return value


class FillState:
    """What :func:`fill_dict` leaves in an instance's ``__dict__`` under ``_st``."""
    snap: dict[str, Any]          # attribute -> value as decoded
    snapl: dict[str, tuple]       # list attribute -> its items as decoded
    redo: list[str]               # present but undecodable: the slow path raises
    defer: set[str]               # costly types, decoded on first read

    def __init__(self, snap: dict[str, Any], snapl: dict[str, tuple], redo: list[str],
                 defer: set[str]) -> None:
        self.snap = snap
        self.snapl = snapl
        self.redo = redo
        self.defer = defer


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
    if entries is None and COMPILED:
        bad = scan_fill(buf, raw[1], raw[2], b.fill_table, out, d.get("_depth", 0),
                        LIMITS.max_depth, deferred)
    else:
        if entries is None:
            entries = scan(buf, raw[1], raw[2])
            d["_raw_entries"] = entries
        bad = fill(buf, entries, b.fill_table, out, d.get("_depth", 0), LIMITS.max_depth,
                   deferred)
    snapl: dict[str, tuple] = {}
    user_set = False
    for k, v in out.items():
        if type(v) is list:
            snapl[k] = tuple(v)
        if k in d:
            user_set = True
    if user_set:
        for k, v in out.items():
            if k not in d:
                d[k] = v
    else:
        d.update(out)
    st = FillState(out, snapl, bad, deferred)
    d["_st"] = st
    return st


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
    if b is None or b.generation != GENERATION[0] or name not in b.names:
        return MISS
    d: dict[str, Any] = obj.__dict__
    if "_raw" not in d:
        if name in b.list_names:
            lst: list[Any] = []
            d[name] = lst
            return lst
        return None
    st: FillState | None = d.get("_st")
    if st is None:
        st = fill_dict(d, b)
        if name in d:
            return d[name]
    if name in st.redo:
        return MISS      # present but not decodable: the slow path raises the error
    if name in st.defer:
        return _decode_deferred(d, st, b.slots[name])
    if name in b.list_names:
        empty: list[Any] = []
        d[name] = empty
        st.snapl[name] = ()
        return empty
    return None


# -- encoding typed instances built from attributes -----------------------------------

def _encode_value(slot: Slot, v: Any) -> bytes:
    kind = slot.kind
    tv = type(v)
    if kind == K_OCTETS:
        if tv is bytes:
            return encode_avp(slot.code, slot.flagbits >> 24, slot.vendor, v)
    elif kind == K_UTF8:
        if tv is str:
            try:
                return encode_avp(slot.code, slot.flagbits >> 24, slot.vendor,
                                  v.encode("utf-8"))
            except UnicodeEncodeError:
                pass
    elif kind == K_U32:
        if tv is int and 0 <= v <= 0xFFFFFFFF:
            return slot.fixed + U32.pack(v)
    elif kind == K_I32:
        if tv is int and -0x80000000 <= v <= 0x7FFFFFFF:
            return slot.fixed + I32.pack(v)
    elif kind == K_U64:
        if tv is int and 0 <= v <= 0xFFFFFFFFFFFFFFFF:
            return slot.fixed + U64.pack(v)
    elif kind == K_I64:
        if tv is int and -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
            return slot.fixed + I64.pack(v)
    elif kind == K_GROUP:
        b = BINDINGS.get(tv)
        if b is not None and b.generation == GENERATION[0]:
            d: dict[str, Any] = v.__dict__
            if "_raw" not in d and not d.get("additional_avps"):
                return encode_avp(slot.code, slot.flagbits >> 24, slot.vendor,
                                  encode_fresh(d, b))
    result: bytes = slot.spec.encode_one(v)   # other types, Avp values and every error
    return result


def encode_fresh(d: dict[str, Any], b: Binding) -> bytes:
    """The AVPs of an instance built from attributes (not from bytes), in encoding order."""
    slots = b.enc_slots
    positions: list[int] = []
    for k, v in d.items():
        slot = slots.get(k)
        if slot is not None and v is not None:
            positions.append(slot.pos)
    positions.sort()
    order = b.order
    parts: list[bytes] = []
    for pos in positions:
        slot = order[pos]
        v = d[slot.name]
        if type(v) is list:
            for item in v:
                if item is not None:
                    parts.append(_encode_value(slot, item))
        else:
            parts.append(_encode_value(slot, v))
    return b"".join(parts)


class GroupedInit:
    """What a grouped class's ``__init__`` needs (see ``generator.grouped_avp``)."""
    cls_name: str
    names: tuple[str, ...]
    name_set: frozenset[str]
    list_fields: tuple[str, ...]
    eager: tuple[tuple[str, Any], ...]

    def __init__(self, cls_name: str, names: tuple[str, ...], list_fields: tuple[str, ...],
                 eager: tuple[tuple[str, Any], ...]) -> None:
        self.cls_name = cls_name
        self.names = names
        self.name_set = frozenset(names) | {"avp_def"}
        self.list_fields = list_fields
        self.eager = eager


def init_grouped(d: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 g: GroupedInit) -> None:
    """Body of a grouped class's ``__init__``: positional and keyword attributes."""
    if args:
        names = g.names
        if len(args) > len(names):
            raise TypeError(f"{g.cls_name}() takes at most {len(names)} "
                            f"positional arguments ({len(args)} given)")
        for i in range(len(args)):
            d[names[i]] = args[i]
    if kwargs:
        name_set = g.name_set
        for k, v in kwargs.items():
            if k not in name_set:
                raise TypeError(f"{g.cls_name}() got an unexpected keyword argument '{k}'")
            if k != "avp_def":
                d[k] = v
    for k in g.list_fields:
        if k in d and d[k] is None:   # None for a list member means "none": reads []
            del d[k]
    for k, v in g.eager:
        if k not in d:
            d[k] = v
