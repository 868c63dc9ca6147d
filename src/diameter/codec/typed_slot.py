"""One attribute of a typed class: its slot, its scalar decoding, and reading it alone.

The lowest part of :mod:`.typed` (which re-exports these names): the :class:`Slot` of each
(code, vendor) key of a typed class, the payload decoding of its scalar kinds, the
:class:`FillState` a bytes-backed instance keeps of what was decoded, and :func:`read_one`,
the first reads of a scalar attribute decoded alone (:func:`last_at` finds its AVP in the
bytes). Compiled by mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_extensions import i64

from .errors import AvpDecodeError
from .frame import COMPILED, FRAMED, Entry, frame_at, sound, u32_at

# slot kinds: how fill() turns a payload into an attribute value
K_OCTETS: Final = 0
K_UTF8: Final = 1
K_U32: Final = 2
K_I32: Final = 3
K_U64: Final = 4
K_I64: Final = 5
K_CALL: Final = 6      # decoder(buf, start, end)
K_GROUP: Final = 7     # a grouped class, instantiated lazily over the payload


class _Miss:
    pass


MISS: Final = _Miss()
"""Returned by :func:`attr_get` when the slow path must answer."""


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
    hword: int          # code << 32 | flags << 24 of the header (V bit set when vendored)
    vtail: bytes        # the Vendor-Id field, b"" without the V bit
    hlen: int           # header length: 8 or 12
    memo: tuple[Any, bytes] | None   # (value, whole AVP) last encoded for a scalar kind
    misses: int         # scalar memo misses in a row (a value that changes every message)
    head: tuple[int, bytes] | None   # (payload length, AVP header) last made by the encoder

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
        self.memo = None
        self.misses = 0
        self.finish()

    def finish(self) -> None:
        """Derive the header fields from ``code``, ``vendor`` and ``flagbits`` (after setting them)."""
        fb = self.flagbits
        self.memo = None
        self.misses = 0
        self.head = None
        if self.vendor or fb & 0x80000000:
            fb |= 0x80000000
            self.vtail = self.vendor.to_bytes(4, "big")
            self.hlen = 12
        else:
            self.vtail = b""
            self.hlen = 8
        self.hword = (self.code << 32) | fb


def _scalar(buf: bytes, kind: int, ps: int, pe: int) -> Any:
    """The value of a scalar kind's payload ``buf[ps:pe]``; :data:`MISS` when it does not decode."""
    if kind == K_OCTETS:
        return buf[ps:pe]
    if kind == K_UTF8:
        try:
            return buf[ps:pe].decode("utf-8")
        except UnicodeDecodeError:
            return MISS
    if kind == K_U32 or kind == K_I32:
        if pe - ps != 4:
            return MISS
        n = u32_at(buf, ps)
        if kind == K_I32 and n >= 0x80000000:
            n -= 0x100000000
        return n
    if kind == K_U64 or kind == K_I64:
        if pe - ps != 8:
            return MISS
        n = (u32_at(buf, ps) << 32) | u32_at(buf, ps + 4)
        if kind == K_I64 and n >= 0x8000000000000000:
            n -= 0x10000000000000000
        return n
    return MISS


class FillState:
    """What :func:`fill_dict` leaves in an instance's ``__dict__`` under ``_st``."""
    snap: dict[str, Any]          # attribute -> value as decoded
    snapl: dict[str, tuple[Any, ...]]       # list attribute -> its items as decoded
    redo: list[str]               # present but undecodable: the slow path raises
    defer: set[str]               # costly types, decoded on first read
    partial: bool                 # only ``snap``'s attributes were decoded (by read_one)

    def __init__(self, snap: dict[str, Any], snapl: dict[str, tuple[Any, ...]], redo: list[str],
                 defer: set[str]) -> None:
        self.snap = snap
        self.snapl = snapl
        self.redo = redo
        self.defer = defer
        self.partial = False


_NO_SNAPL: Final[dict[str, tuple[Any, ...]]] = {}
_NO_REDO: Final[list[str]] = []
_NO_DEFER: Final[set[str]] = set()
"""The empty ``snapl``, ``redo`` and ``defer`` of every partial :class:`FillState` (never written)."""


def last_at(buf: bytes, code: int, vendor: int, start: int, end: int, framed: bool = False) -> int:
    """Where the last AVP ``code``/``vendor`` of ``buf[start:end]`` starts: -1 when there is
    none, -2 when the framing of any AVP there is not sound (:func:`frame_at` would raise);
    i64 byte reads compiled. ``framed``: the framing is known sound: not checked again."""
    if not (0 <= code <= 0xFFFFFFFF and 0 <= vendor <= 0xFFFFFFFF and 0 <= start <= end <= len(buf)):
        return -2
    if not framed and not sound(buf, start, end):
        return -2
    c: i64 = code
    v: i64 = vendor
    p: i64 = start
    e: i64 = end
    found: i64 = -1
    c3: i64 = c & 0xFF
    while p < e:
        l0: i64 = buf[p + 5]
        l1: i64 = buf[p + 6]
        l2: i64 = buf[p + 7]
        length: i64 = (l0 << 16) | (l1 << 8) | l2
        if length < 8:
            return -2       # only when ``framed`` was wrongly claimed: no endless loop
        nxt: i64 = (p + length + 3) & ~3
        b3: i64 = buf[p + 3]
        if b3 != c3:        # the code's low byte first: the other bytes of most AVPs unread
            p = nxt
            continue
        b0: i64 = buf[p]
        b1: i64 = buf[p + 1]
        b2: i64 = buf[p + 2]
        if ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) == c:
            flags: i64 = buf[p + 4]
            vend: i64 = 0
            if flags & 0x80:
                v0: i64 = buf[p + 8]
                v1: i64 = buf[p + 9]
                v2: i64 = buf[p + 10]
                v3: i64 = buf[p + 11]
                vend = (v0 << 24) | (v1 << 16) | (v2 << 8) | v3
            if vend == v:
                found = p
        p = nxt
    return found


def read_one(d: dict[str, Any], slot: Slot, st: FillState | None = None, raw: Any = None) -> Any:
    """A scalar attribute of a bytes-backed instance not decoded yet, decoded alone: its
    last occurrence (as :func:`fill` takes it) kept in ``d`` under a partial
    :class:`FillState` (``st``, the instance's, when other attributes were read so; the
    next read of a list or group fills the rest), None when absent; :data:`MISS` when
    only :func:`fill_dict` can tell (a value that does not decode). ``raw``: ``d["_raw"]``."""
    rw: tuple[bytes, int, int]
    if raw is None:     # (not one conditional expression: it boxes the tuple again)
        rw = d["_raw"]
    else:
        rw = raw
    buf = rw[0]
    key = slot.key
    ps = -1
    pe = -1
    entries: list[Entry] | None = None if COMPILED else d.get("_raw_entries")
    if entries is not None:     # interpreted: the located AVPs when there are (no dict
        for e in entries:       # look-up compiled: last_at finds the same AVP in the bytes)
            if (e[0] | (e[1] << 32)) == key:
                ps = e[4]
                pe = e[5]
    elif COMPILED:
        # a whole message the validation fast path or the decoder has just checked
        framed = buf is FRAMED[0] and rw[1] == 20 and rw[2] == len(buf)
        at = last_at(buf, slot.code, slot.vendor, rw[1], rw[2], framed)
        if at == -2:
            return MISS
        if at >= 0:     # its framing is sound (checked now or before)
            q: i64 = at
            ps = q + (12 if buf[q + 4] & 0x80 else 8)
            pe = q + ((buf[q + 5] << 16) | (buf[q + 6] << 8) | buf[q + 7])
    else:
        pos = rw[1]
        end = rw[2]
        try:
            while pos < end:
                code, _flags, vendor, s, t, nxt = frame_at(buf, pos, end)
                if (code | (vendor << 32)) == key:
                    ps = s
                    pe = t
                pos = nxt
        except AvpDecodeError:
            return MISS
    if ps < 0:
        return None
    value = _scalar(buf, slot.kind, ps, pe)
    if value is MISS:
        return MISS
    name = slot.name
    if st is None:
        # a partial state's snapl, redo and defer stay empty (fill_dict makes a whole
        # state before anything is added): shared, not allocated per message
        st = FillState({name: value}, _NO_SNAPL, _NO_REDO, _NO_DEFER)
        st.partial = True
        d["_st"] = st
    else:
        st.snap[name] = value
    d[name] = value
    return value
