"""Encoding typed instances built from attributes: whole messages and grouped AVPs.

The encoding half of :mod:`.typed`: :func:`encode_fresh` gives the AVPs of an instance
built from attributes (not from bytes), :func:`encode_message` and :func:`encode_with_avps`
a whole typed message, with a per-slot memo for values that repeat from one message to
the next. Each returns ``None`` where the message layer's general encoder must answer.
Compiled by mypyc with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Final

from .errors import AvpEncodeError
from .frame import PADDING, encode_avp
from .objects import MessageHeader
from .typed import BINDINGS, GENERATION, K_GROUP, K_I32, K_I64, K_OCTETS, K_U32, K_U64, K_UTF8, Binding, Slot
from .typed_memo import equal as _equal
from .typed_memo import remember_group as _remember_group
from .typed_memo import same_group as _same_group

MEMO_MAX: Final = 256
"""Whole AVPs up to this size are remembered per slot with their value: an attribute that
keeps its value from one message to the next (Origin-Host, Auth-Application-Id...) is
encoded once."""
MEMO_MISSES: Final = 4
"""Scalar memo misses in a row after which a slot's memo is replaced only now and then."""
MEMO_RETRY: Final = 64
"""After MEMO_MISSES misses in a row, the memo is replaced on one encoding in this many."""


def _avp(slot: Slot, payload: bytes) -> bytes:
    """The whole AVP of ``slot`` around ``payload`` (``frame.encode_avp`` with the slot's header).

    The header (with the Vendor-Id) of the last length is kept in the slot: a value that
    changes but keeps its length (Session-Id, a group) costs no ``to_bytes``."""
    n = len(payload)
    if n > 0xFFFFF3:   # 24-bit length, 12-byte header
        raise AvpEncodeError(f"AVP {slot.code}: a payload of {n} bytes overflows the AVP length")
    last = slot.head    # (one tuple, replaced whole: consistent when threads race)
    if last is not None and last[0] == n:
        head = last[1]
    else:
        head = (slot.hword | (n + slot.hlen)).to_bytes(8, "big")
        if slot.hlen == 12:
            head = b"%b%b" % (head, slot.vtail)
        slot.head = (n, head)
    if n & 3:
        return b"%b%b%b" % (head, payload, PADDING[n & 3])
    return b"%b%b" % (head, payload)


def _encode_scalar(slot: Slot, v: Any, tv: type) -> bytes | None:
    """A scalar kind's AVP for a value of its plain type; None for anything else."""
    kind = slot.kind
    if kind == K_OCTETS:
        if tv is bytes:
            return _avp(slot, v)
    elif kind == K_UTF8:
        if tv is str:
            s: str = v      # typed: mypyc's own UTF-8 encoder, no method call
            try:
                p = s.encode("utf-8")
            except UnicodeEncodeError:
                return None
            return _avp(slot, p)
    elif tv is int:     # typed before the range checks: native comparisons
        n: int = v
        if kind == K_U32:
            if 0 <= n <= 0xFFFFFFFF:
                return b"%b%b" % (slot.fixed, n.to_bytes(4, "big"))
        elif kind == K_I32:
            if -0x80000000 <= n <= 0x7FFFFFFF:
                return b"%b%b" % (slot.fixed, n.to_bytes(4, "big", signed=True))
        elif kind == K_U64:
            if 0 <= n <= 0xFFFFFFFFFFFFFFFF:
                return b"%b%b" % (slot.fixed, n.to_bytes(8, "big"))
        elif kind == K_I64:
            if -0x8000000000000000 <= n <= 0x7FFFFFFFFFFFFFFF:
                return b"%b%b" % (slot.fixed, n.to_bytes(8, "big", signed=True))
    return None


def _encode_value(slot: Slot, v: Any) -> bytes:
    kind = slot.kind
    tv = type(v)
    if kind <= K_I64:
        m = slot.memo
        if m is not None:
            mv = m[0]
            if mv is v or (type(mv) is tv and _equal(mv, v, tv)):   # the very object: a constant
                slot.misses = 0
                return m[1]
        r = _encode_scalar(slot, v, tv)
        if r is not None:
            if len(r) <= MEMO_MAX:
                # a value that changed MEMO_MISSES times in a row (Session-Id, CC-Request-Number)
                # is remembered once every MEMO_RETRY encodings only: no pair allocated and
                # freed per message for a memo that never hits
                n = slot.misses + 1
                slot.misses = n
                if n <= MEMO_MISSES or n % MEMO_RETRY == 0:
                    slot.memo = (v, r)
            return r
    elif kind == K_GROUP:
        gm = slot.memo      # (its key holds no "_raw" and no custom AVPs: d with them differs)
        if gm is not None:
            # checked before the binding's look-up: a memo of this class and generation
            # was made with its binding current
            key: tuple[Any, ...] = gm[0]
            if key[0] is tv and _same_group(key, tv, v.__dict__):
                return gm[1]
        b = BINDINGS.get(tv)
        if b is not None and b.generation == GENERATION[0]:
            d: dict[str, Any] = v.__dict__
            if "_raw" not in d and not d.get("additional_avps"):
                r = _avp(slot, encode_fresh(d, b))
                if len(r) <= MEMO_MAX:
                    _remember_group(slot, tv, d, r)
                return r
    result: bytes = slot.spec.encode_one(v)   # other types, Avp values and every error
    return result


SHAPES_MAX: Final = 64
"""Shapes remembered per binding (:class:`Shape`); the table starts over past this."""


class Shape:
    """What encoding needs of the instance dicts with one tuple of keys, in that order.

    Instances of a class built the same way get their attributes set in the same order,
    so their dicts have the same keys: the slots to encode, in encoding order, and where
    each value sits among the dict's values are worked out once per key tuple (no
    per-message look-up and sort of the attributes).
    """
    keys: tuple[Any, ...]
    slots: list[Slot]       # the keys that are attributes, in encoding order
    index: list[int]        # position of each one's value in list(d.values())
    rank: list[int]         # the other way round: each key's place in ``slots`` (-1: none)
    unknown: list[Any]      # the keys no AVP stands for ("header", typos...)
    known_ok: Any           # the names set that held every ``unknown`` key (None: not checked)

    def __init__(self, keys: tuple[Any, ...], b: Binding) -> None:
        slots = b.enc_slots
        found: list[tuple[int, int, Slot]] = []
        unknown: list[Any] = []
        for i in range(len(keys)):
            k = keys[i]
            slot = slots.get(k)
            if slot is not None:
                found.append((slot.pos, i, slot))
            else:
                unknown.append(k)
        found.sort()
        self.keys = keys
        self.slots = [t[2] for t in found]
        self.index = [t[1] for t in found]
        self.rank = [-1] * len(keys)
        for j in range(len(found)):
            self.rank[found[j][1]] = j
        self.unknown = unknown
        self.known_ok = None

    def knows(self, known: frozenset[str]) -> bool:
        """Whether every key that is no attribute is in ``known`` (a message's names)."""
        if self.known_ok is known:
            return True
        for k in self.unknown:
            if k not in known:
                return False
        self.known_ok = known
        return True


def shape_of(d: dict[str, Any], b: Binding) -> Shape:
    """The :class:`Shape` of instance dict ``d`` of a class whose binding is ``b`` (instances
    built from attributes: a bytes-backed one's keys vary with what was read).

    The binding's last shape is tried first (a tuple comparison: attribute names are
    mostly the very same string objects); then the table of shapes."""
    new_keys = tuple(d)
    last: Any = b.last_shape
    if last is not None:
        sh: Shape = last
        if sh.keys == new_keys:     # item by item, the same string objects at once
            return sh
    shapes = b.shapes
    found = shapes.get(new_keys)
    if found is None:
        sh = Shape(new_keys, b)
        if len(shapes) >= SHAPES_MAX:
            shapes.clear()
        shapes[new_keys] = sh
    else:
        sh = found
    b.last_shape = sh
    return sh


def _encode_shape(values: list[Any], sh: Shape) -> bytes:
    """The AVPs of the attributes of an instance dict (its values and shape), in encoding order."""
    slots = sh.slots
    index = sh.index
    parts: list[bytes] = []
    for j in range(len(slots)):
        v = values[index[j]]
        if v is None:
            continue
        slot = slots[j]
        if type(v) is list:
            for item in v:
                if item is not None:
                    parts.append(_encode_value(slot, item))
        else:
            parts.append(_encode_value(slot, v))
    return b"".join(parts)


def _encode_items(d: dict[str, Any], sh: Shape) -> bytes | None:
    """:func:`_encode_shape` of a dict whose keys are those of ``sh`` (of the same length),
    in one pass over its items; None as soon as a key is not the very object of ``sh``'s
    (the general look-up must answer, with ``==`` on the names)."""
    keys = sh.keys
    rank = sh.rank
    slots = sh.slots
    parts: list[bytes] = [b""] * len(slots)
    i = 0
    for k, v in d.items():
        if k is not keys[i]:
            return None
        j = rank[i]
        i += 1
        if j < 0 or v is None:
            continue
        slot = slots[j]
        if type(v) is list:
            lst: list[Any] = v
            if len(lst) == 1:
                item = lst[0]
                if item is not None:
                    parts[j] = _encode_value(slot, item)
            else:
                parts[j] = b"".join([_encode_value(slot, item) for item in lst if item is not None])
        else:
            parts[j] = _encode_value(slot, v)
    return b"".join(parts)


def _last_body(d: dict[str, Any], b: Binding) -> bytes | None:
    """The AVPs of ``d`` when its keys are those of the binding's last shape (the very
    objects, in order: instances built the same way), else None."""
    last: Any = b.last_shape
    if last is None:
        return None
    sh: Shape = last
    if len(sh.keys) != len(d):
        return None
    return _encode_items(d, sh)


def encode_fresh(d: dict[str, Any], b: Binding) -> bytes:
    """The AVPs of an instance built from attributes (not from bytes), in encoding order."""
    body = _last_body(d, b)
    if body is not None:
        return body
    sh = shape_of(d, b)
    return _encode_shape(list(d.values()), sh)


def encode_message(d: dict[str, Any], b: Binding, known: frozenset[str]) -> bytes | None:
    """A whole typed message built from attributes: header and AVPs; sets ``header.length``.

    None when the message layer's general path must answer: not the current
    binding, bytes behind the message, custom AVPs, an attribute no AVP stands
    for (``known``: the names a message may hold), header fields out of range.
    """
    if d.get("_additional_avps"):
        return None
    return _encode_whole(d, b, known, b"")


AVP_BASE: Final[list[Any]] = [None, None, None]
"""The message layer's ``Avp`` class, its ``as_bytes`` and ``_payload_for_encode``: AVP objects
that keep them are encoded here (:func:`avps_wire`)."""


def avps_wire(avps: list[Any]) -> bytes | None:
    """The AVPs on the wire, one after the other, as ``Avp.as_bytes`` gives each; None when
    one is not an ``Avp`` encoded the base way (a subclass with its own encoding, a payload
    that is not bytes): ``as_bytes`` must answer then."""
    base = AVP_BASE
    cls: Any = base[0]
    if cls is None:
        return None
    parts: list[bytes] = []
    for a in avps:
        t: Any = type(a)
        if not isinstance(a, cls) or t.as_bytes is not base[1] or t._payload_for_encode is not base[2]:
            return None
        p = a.payload
        if type(p) is not bytes:
            return None
        code: Any = a.code
        flags: Any = a.flags
        vendor: Any = a._vendor_id
        n = len(p)
        if (type(code) is int and type(flags) is int and type(vendor) is int
                and 0 <= code <= 0xFFFFFFFF and 0 <= flags <= 0xFF and 0 <= vendor <= 0xFFFFFFFF
                and n <= 0xFFFFF3):
            c: int = code
            f: int = flags
            v: int = vendor
            if v or f & 0x80:   # frame.encode_avp's bytes, without its struct call
                w: int = (c << 32) | ((f | 0x80) << 24) | (n + 12)
                parts.append(b"%b%b%b%b" % (w.to_bytes(8, "big"), v.to_bytes(4, "big"), p, PADDING[n & 3]))
            else:
                w = (c << 32) | (f << 24) | (n + 8)
                parts.append(b"%b%b%b" % (w.to_bytes(8, "big"), p, PADDING[n & 3]))
        else:   # out of range: encode_avp raises what as_bytes raises
            parts.append(encode_avp(code, flags, vendor, p))
    return b"".join(parts)


def encode_with_avps(d: dict[str, Any], b: Binding, known: frozenset[str]) -> bytes | None:
    """:func:`encode_message` of a message with custom AVPs (``append_avp``: e.g. echoed
    request AVPs) after its attributes, in one pass; None when the general path must answer."""
    extras: Any = d.get("_additional_avps")
    if type(extras) is not list:
        return None
    tail = avps_wire(extras)
    if tail is None:
        return None
    return _encode_whole(d, b, known, tail)


KNOWN_NAMES: Final[list[Any]] = [None]
"""The message layer's dict of typed message class -> the names its instances may hold
(an attribute outside them goes the general way, which warns): :func:`encode_typed`'s."""


def encode_typed(msg: Any) -> bytes | None:
    """``DefinedMessage.as_bytes`` for an instance of a class with a binding and known names:
    :func:`encode_message`, or :func:`encode_with_avps` when it has custom AVPs (and no bytes
    behind it); None when the message layer's own code must answer."""
    names: Any = KNOWN_NAMES[0]
    if names is None:
        return None
    cls = type(msg)
    b = BINDINGS.get(cls)
    if b is None:
        return None
    found: Any = names.get(cls)
    if found is None:
        return None
    known: frozenset[str] = found
    d: dict[str, Any] = msg.__dict__
    extras: Any = d.get("_additional_avps")
    if not extras:
        return _encode_whole(d, b, known, b"")
    if "_raw" in d:
        return None
    return encode_with_avps(d, b, known)


AS_BYTES: Final[list[Any]] = [None]
"""The message layer's ``DefinedMessage.as_bytes`` (:func:`message_bytes` skips its frame)."""


def message_bytes(msg: Any) -> Any:
    """``msg.as_bytes()``: for a class that keeps ``DefinedMessage.as_bytes``, its first step
    (:func:`encode_typed`) straight from here, without the method's Python frame."""
    f: Any = AS_BYTES[0]
    if f is not None and getattr(type(msg), "as_bytes", None) is f:
        out = encode_typed(msg)
        if out is not None:
            return out
    return msg.as_bytes()


def _encode_whole(d: dict[str, Any], b: Binding, known: frozenset[str], tail: bytes) -> bytes | None:
    if b.generation != GENERATION[0] or "_raw" in d or "_plain" in d:
        return None
    last: Any = b.last_shape
    if last is not None:
        lsh: Shape = last
        if len(lsh.keys) != len(d) or not lsh.knows(known):
            last = None
    hd: Any = d.get("header")
    if not isinstance(hd, MessageHeader):
        return None
    h: MessageHeader = hd
    version = h.version
    flags = h.command_flags
    code = h.command_code
    app = h.application_id
    hbh = h.hop_by_hop_identifier
    e2e = h.end_to_end_identifier
    if not (0 <= version <= 0xFF and 0 <= flags <= 0xFF and 0 <= code <= 0xFFFFFF
            and 0 <= app <= 0xFFFFFFFF and 0 <= hbh <= 0xFFFFFFFF and 0 <= e2e <= 0xFFFFFFFF):
        return None
    body: bytes | None = None
    if last is not None:    # the keys of the last shape (which knows them): one pass
        body = _encode_items(d, last)
    if body is None:
        sh = shape_of(d, b)
        if not sh.knows(known):
            return None
        body = _encode_shape(list(d.values()), sh)
    length = 20 + len(body) + len(tail)
    if length > 0xFFFFFF:
        return None
    h.length = length
    w1: int = (version << 56) | (length << 32) | (flags << 24) | code
    w2: int = (app << 32) | hbh
    w3: int = e2e
    last1 = b.head1     # version, length, flags, code: those of the last message, mostly
    if last1 is not None and last1[0] == w1:
        h1 = last1[1]
    else:
        h1 = w1.to_bytes(8, "big")
        b.head1 = (w1, h1)
    if tail:
        return b"%b%b%b%b%b" % (h1, w2.to_bytes(8, "big"), w3.to_bytes(4, "big"), body, tail)
    return b"%b%b%b%b" % (h1, w2.to_bytes(8, "big"), w3.to_bytes(4, "big"), body)
