"""The codec's hot loops: AVP scanning and group decoding.

Plain, fully typed Python. It runs as is, and the same file compiles with
mypyc into an extension module (see ``docs/performance.md``); :data:`COMPILED`
tells which one is running. Where the fastest code differs between the two
(``struct`` calls interpreted, byte indexing compiled) both variants are here
and chosen at run time.
"""
from __future__ import annotations

from struct import Struct
from typing import Any, Final

from .errors import AvpDecodeError, MessageDecodeError, MessageTooLarge

Entry = tuple[int, int, int, int, int, int]
"""(code, vendor, flags, avp_start, payload_start, payload_end) of one AVP."""

# slot kinds: how fill() turns a payload into an attribute value
K_OCTETS: Final = 0
K_UTF8: Final = 1
K_U32: Final = 2
K_I32: Final = 3
K_U64: Final = 4
K_I64: Final = 5
K_CALL: Final = 6      # decoder(buf, start, end)
K_GROUP: Final = 7     # a grouped class, instantiated lazily over the payload


_U32X2: Final = Struct(">II")
_U32X3: Final = Struct(">III")
_U32: Final = Struct(">I")
_I32: Final = Struct(">i")
_U64: Final = Struct(">Q")
_I64: Final = Struct(">q")
_ZEROS: Final = b"\x00\x00\x00\x00"


def _length_error(length: int, pos: int, code: int, vendor_bit: bool) -> AvpDecodeError:
    if length < (12 if vendor_bit else 8):
        what = "too short for a vendor AVP" if vendor_bit else "shorter than its header"
        return AvpDecodeError(f"AVP length {length} {what}", pos, code, result_code=5014)
    return AvpDecodeError(f"AVP length {length} overruns its container", pos, code,
                          result_code=5014)


def _probe() -> None:
    pass


COMPILED: Final = type(_probe).__name__ != "function"


def scan(buf: bytes, start: int, end: int) -> list[Entry]:
    """Locate the AVPs in ``buf[start:end]``; check lengths and padding."""
    if COMPILED:
        return _scan_indexed(buf, start, end)
    return _scan_struct(buf, start, end)


def _scan_struct(buf: bytes, start: int, end: int) -> list[Entry]:
    out: list[Entry] = []
    unpack2 = _U32X2.unpack_from
    pos = start
    while pos < end:
        if end - pos < 8:
            raise AvpDecodeError("truncated AVP header", pos)
        code, fl = unpack2(buf, pos)
        length = fl & 0xFFFFFF
        pe = pos + length
        if fl & 0x80000000:
            if length < 12 or pe > end:
                raise _length_error(length, pos, code, True)
            vendor = _U32.unpack_from(buf, pos + 8)[0]
            ps = pos + 12
        else:
            if length < 8 or pe > end:
                raise _length_error(length, pos, code, False)
            vendor = 0
            ps = pos + 8
        if length & 3:
            nxt = pe + 4 - (length & 3)
            if nxt > end:
                raise AvpDecodeError("AVP padding missing", pe, code, vendor)
            if buf[pe:nxt] != _ZEROS[:nxt - pe]:
                raise AvpDecodeError("non-zero AVP padding", pe, code, vendor)
        else:
            nxt = pe
        out.append((code, vendor, fl >> 24, pos, ps, pe))
        pos = nxt
    return out


def _frame(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int, int, int]:
    """The AVP at ``pos``: (code, flags, vendor, payload_start, payload_end, next_pos)."""
    if end - pos < 8:
        raise AvpDecodeError("truncated AVP header", pos)
    code = (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
    flags = buf[pos + 4]
    length = (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]
    pe = pos + length
    if flags & 0x80:
        if length < 12 or pe > end:
            raise _length_error(length, pos, code, True)
        vendor = ((buf[pos + 8] << 24) | (buf[pos + 9] << 16) | (buf[pos + 10] << 8)
                  | buf[pos + 11])
        ps = pos + 12
    else:
        if length < 8 or pe > end:
            raise _length_error(length, pos, code, False)
        vendor = 0
        ps = pos + 8
    nxt = (pe + 3) & ~3
    if nxt != pe:
        if nxt > end:
            raise AvpDecodeError("AVP padding missing", pe, code, vendor)
        p = pe
        while p < nxt:
            if buf[p]:
                raise AvpDecodeError("non-zero AVP padding", pe, code, vendor)
            p += 1
    return code, flags, vendor, ps, pe, nxt


def _scan_indexed(buf: bytes, start: int, end: int) -> list[Entry]:
    out: list[Entry] = []
    pos = start
    while pos < end:
        code, flags, vendor, ps, pe, nxt = _frame(buf, pos, end)
        out.append((code, vendor, flags, pos, ps, pe))
        pos = nxt
    return out


def check(buf: bytes, start: int, end: int) -> None:
    """Check the framing of the AVPs in ``buf[start:end]`` (the errors of :func:`scan`)."""
    if not COMPILED:
        _scan_struct(buf, start, end)
        return
    pos = start
    while pos < end:
        pos = _frame(buf, pos, end)[5]


def _u32(buf: bytes, p: int) -> int:
    if COMPILED:
        return (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]
    return int(_U32.unpack_from(buf, p)[0])


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
        n = _u32(buf, ps)
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
        n = (_u32(buf, ps) << 32) | _u32(buf, ps + 4)
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
        code, flags, vendor, ps, pe, nxt = _frame(buf, pos, end)
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


class Limits:
    """Decoder limits; change the attributes of :data:`LIMITS` to tune them."""
    max_message_size: int
    max_depth: int

    def __init__(self, max_message_size: int = 1 << 20, max_depth: int = 16) -> None:
        self.max_message_size = max_message_size
        self.max_depth = max_depth


LIMITS: Final = Limits()
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


# -- AVP objects (python-diameter's Avp classes) --------------------------------------

class AvpTables:
    """The running dictionary as the Avp constructors see it (set by the message layer)."""
    base: dict[int, Any]               # code -> entry, vendor 0
    vendors: dict[int, dict[int, Any]]  # vendor -> code -> entry
    plain: Any                         # Avp
    grouped: Any                       # AvpGrouped

    def __init__(self) -> None:
        self.base = {}
        self.vendors = {}
        self.plain = None
        self.grouped = None


AVP_TABLES: Final = AvpTables()


def _make_avp(t: AvpTables, buf: bytes, code: int, vendor: int, flags: int, ps: int, pe: int,
              depth: int) -> Any:
    info: Any = None
    if vendor == 0:
        info = t.base.get(code)
    else:
        vd = t.vendors.get(vendor)
        if vd is not None:
            info = vd.get(code)
    if info is None:
        cls: Any = t.plain
        name = "Unknown"
    else:
        cls = info["type"]
        name = info["name"]
    avp = cls.__new__(cls)
    avp.code = code
    avp.flags = flags
    avp._vendor_id = vendor
    avp.payload = buf[ps:pe]
    avp.name = name
    if isinstance(avp, t.grouped):
        avp._avps = None
        avp._depth = depth
    return avp


def make_avps(buf: bytes, entries: list[Entry], depth: int) -> list[Any]:
    """Avp objects (of the dictionary's classes) for located AVPs; payloads are copied."""
    t = AVP_TABLES
    return [_make_avp(t, buf, e[0], e[1], e[2], e[4], e[5], depth) for e in entries]


def scan_avp_objects(buf: bytes, start: int, end: int, depth: int) -> list[Any]:
    """``make_avps(buf, scan(buf, start, end), depth)`` in one pass."""
    if not COMPILED:
        return make_avps(buf, _scan_struct(buf, start, end), depth)
    t = AVP_TABLES
    out: list[Any] = []
    pos = start
    while pos < end:
        code, flags, vendor, ps, pe, nxt = _frame(buf, pos, end)
        out.append(_make_avp(t, buf, code, vendor, flags, ps, pe, depth))
        pos = nxt
    return out


def grouped_value(avp: Any) -> list[Any]:
    """``AvpGrouped.value``: the member Avp objects, decoded on first read."""
    avps: list[Any] | None = getattr(avp, "_avps", None)
    if avps is not None:
        return avps
    p = avp.payload
    if not isinstance(p, bytes):
        if isinstance(p, bytearray):
            p = bytes(p)
        else:
            raise AvpDecodeError(f"{avp.name} payload {p!r} is not bytes", None, avp.code)
    depth: int = getattr(avp, "_depth", 0) + 1
    try:
        avps = scan_avp_objects(p, 0, len(p), depth)
    except AvpDecodeError as e:
        raise AvpDecodeError(
            f"{avp.name} grouped value does not contain a valid group of AVPs: {e}",
            e.offset, e.avp_code or avp.code, e.vendor_id, e.result_code) from None
    if depth > LIMITS.max_depth:
        raise AvpDecodeError(f"AVP nesting deeper than {LIMITS.max_depth} levels",
                             None, avp.code, avp._vendor_id, result_code=5014)
    avp._avps = avps
    return avps


def _payload(avp: Any) -> bytes:
    p = avp.payload
    if isinstance(p, bytes):
        return p
    if isinstance(p, bytearray):
        return bytes(p)
    raise AvpDecodeError(f"{avp.name} payload {p!r} is not bytes", None, avp.code,
                         avp._vendor_id)


def _bad_size(avp: Any, p: bytes, kind: str, size: int) -> AvpDecodeError:
    return AvpDecodeError(f"{avp.name} value {p!r}: {kind} payload of {len(p)} bytes, "
                          f"expected {size}", None, avp.code, avp._vendor_id, 5014)


def value_octets(avp: Any) -> bytes:
    """``value`` of OctetString-like Avp classes."""
    return _payload(avp)


def value_utf8(avp: Any) -> str:
    """``value`` of AvpUtf8String."""
    p = _payload(avp)
    try:
        return p.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AvpDecodeError(f"{avp.name} value {p!r}: invalid UTF-8: {e}", None, avp.code,
                             avp._vendor_id, 5004) from None


def value_u32(avp: Any) -> int:
    """``value`` of AvpUnsigned32."""
    p = _payload(avp)
    if len(p) != 4:
        raise _bad_size(avp, p, "Unsigned32", 4)
    return _u32(p, 0)


def value_i32(avp: Any) -> int:
    """``value`` of AvpInteger32 (and Enumerated)."""
    p = _payload(avp)
    if len(p) != 4:
        raise _bad_size(avp, p, "Integer32", 4)
    n = _u32(p, 0)
    return n - 0x100000000 if n >= 0x80000000 else n


def value_u64(avp: Any) -> int:
    """``value`` of AvpUnsigned64."""
    p = _payload(avp)
    if len(p) != 8:
        raise _bad_size(avp, p, "Unsigned64", 8)
    return (_u32(p, 0) << 32) | _u32(p, 4)


def value_i64(avp: Any) -> int:
    """``value`` of AvpInteger64."""
    p = _payload(avp)
    if len(p) != 8:
        raise _bad_size(avp, p, "Integer64", 8)
    n = (_u32(p, 0) << 32) | _u32(p, 4)
    return n - 0x10000000000000000 if n >= 0x8000000000000000 else n


# -- encoding typed instances built from attributes -----------------------------------

_PAD: Final = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


def _framed(slot: Slot, payload: bytes) -> bytes:
    n = len(payload)
    if slot.vendor:
        head = _U32X3.pack(slot.code, slot.flagbits | (n + 12), slot.vendor)
    else:
        head = _U32X2.pack(slot.code, slot.flagbits | (n + 8))
    return head + payload + _PAD[n & 3]


def _encode_value(slot: Slot, v: Any) -> bytes:
    kind = slot.kind
    tv = type(v)
    if kind == K_OCTETS:
        if tv is bytes:
            return _framed(slot, v)
    elif kind == K_UTF8:
        if tv is str:
            try:
                return _framed(slot, v.encode("utf-8"))
            except UnicodeEncodeError:
                pass
    elif kind == K_U32:
        if tv is int and 0 <= v <= 0xFFFFFFFF:
            return slot.fixed + _U32.pack(v)
    elif kind == K_I32:
        if tv is int and -0x80000000 <= v <= 0x7FFFFFFF:
            return slot.fixed + _I32.pack(v)
    elif kind == K_U64:
        if tv is int and 0 <= v <= 0xFFFFFFFFFFFFFFFF:
            return slot.fixed + _U64.pack(v)
    elif kind == K_I64:
        if tv is int and -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
            return slot.fixed + _I64.pack(v)
    elif kind == K_GROUP:
        b = BINDINGS.get(tv)
        if b is not None and b.generation == GENERATION[0]:
            d: dict[str, Any] = v.__dict__
            if "_raw" not in d and not d.get("additional_avps"):
                return _framed(slot, encode_fresh(d, b))
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


# -- whole messages ---------------------------------------------------------------------

class MessageTypes:
    """How :func:`decode_message` picks and builds message classes (set by the message layer)."""
    by_application: dict[tuple[int, int], Any]   # (application, code) -> command class
    by_code: dict[int, Any]                      # code -> command class
    undefined: Any                               # UndefinedMessage
    defined: Any                                 # DefinedMessage
    header: Any                                  # MessageHeader
    default_factory: Any                         # DefinedMessage.type_factory's function
    cache: dict[int, Any]                        # (app, code, R) key -> (command, class)
    resolve: Any                                 # (app, code) -> class or None, on a miss

    def __init__(self) -> None:
        self.by_application = {}
        self.by_code = {}
        self.resolve = None
        self.undefined = None
        self.defined = None
        self.header = None
        self.default_factory = None
        self.cache = {}


MESSAGE_TYPES: Final = MessageTypes()


def _header(t: MessageTypes, version: int, length: int, flags: int, code: int, app: int,
            hbh: int, e2e: int) -> Any:
    cls: Any = t.header
    h = cls.__new__(cls)
    h.version = version
    h.length = length
    h.length_header = 20
    h.command_flags = flags
    h.command_code = code
    h.application_id = app
    h.hop_by_hop_identifier = hbh
    h.end_to_end_identifier = e2e
    return h


def header_error(version: int, length: int, size: int) -> None:
    """Raise the error for a header whose version or length field is wrong."""
    if version != 1:
        raise MessageDecodeError(f"unsupported version {version}", 0, result_code=5011)
    if length > LIMITS.max_message_size:
        raise MessageTooLarge(
            f"message length {length} above the maximum {LIMITS.max_message_size}", 1)
    if length != size:
        raise MessageDecodeError(
            f"message length field {length} does not match the {size} bytes given", 1,
            result_code=5015)
    if length & 3 or length < 20:
        raise MessageDecodeError(f"invalid message length {length}", 1, result_code=5015)


def decode_message(data: bytes, plain_msg: bool) -> Any:
    """``Message.from_bytes``: check the header, locate the AVPs, build the typed message."""
    size = len(data)
    if size < 20:
        raise MessageDecodeError(f"message shorter than its header ({size} bytes)", 0)
    version = data[0]
    length = (data[1] << 16) | (data[2] << 8) | data[3]
    if version != 1 or length != size or length & 3 or length > LIMITS.max_message_size:
        header_error(version, length, size)
    flags = data[4]
    code = (data[5] << 16) | (data[6] << 8) | data[7]
    app = _u32(data, 8)
    hbh = _u32(data, 12)
    e2e = _u32(data, 16)
    entries: list[Entry] | None = None
    if COMPILED:
        check(data, 20, length)     # entries are built when needed
    else:
        entries = scan(data, 20, length)
    t = MESSAGE_TYPES
    key = (app << 25) | (code << 1) | (1 if flags & 0x80 else 0)
    hit: Any = None if plain_msg else t.cache.get(key)
    msg_type: Any
    if hit is not None and (t.by_application.get((app, code)) or t.by_code.get(code)) is hit[0]:
        msg_type = hit[1]
    else:
        cmd: Any = t.by_application.get((app, code)) or t.by_code.get(code)
        if cmd is None and t.resolve is not None:   # a command module not imported yet
            cmd = t.resolve(app, code)
        if cmd is None:
            msg_type = t.undefined
        elif plain_msg:
            msg_type = cmd
        elif getattr(cmd.type_factory, "__func__", None) is t.default_factory:
            msg_type = (cmd._request_cls if flags & 0x80 else cmd._answer_cls) or cmd
            t.cache[key] = (cmd, msg_type)
        else:
            msg_type = cmd.type_factory(
                _header(t, version, length, flags, code, app, hbh, e2e)) or cmd
    msg = msg_type.__new__(msg_type)
    d: dict[str, Any] = msg.__dict__
    d["header"] = _header(t, version, length, flags, code, app, hbh, e2e)
    d["_raw"] = (data, 20, length)
    if entries is not None:
        d["_raw_entries"] = entries
    if plain_msg or not isinstance(msg, t.defined) or not msg_type.avp_def:
        d["_avps"] = None
        d["_plain"] = True
    else:
        d["_additional_avps"] = []
    return msg


# -- grammar validation fast path -----------------------------------------------------

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

    def __init__(self, info: Any) -> None:
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


def grammar_ok(buf: bytes, start: int, end: int, g: Any, rules: Any, cache: dict[int, VInfo],
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
            code, flags, vendor, ps, pe, nxt = _frame(buf, pos, end)
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
