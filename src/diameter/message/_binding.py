"""Binding between Python attributes and AVPs, for typed messages and grouped classes.

A class lists its attributes in ``avp_def`` (python-diameter's ``AvpGenDef``
tuples). Instances decoded from bytes keep the bytes and decode an attribute
only when it is first read. Encoding an instance that came from bytes copies
the original bytes of every AVP whose attribute was not changed, in the
original order, so an unmodified message re-encodes byte for byte; changed
attributes are encoded in place of their first occurrence.
"""
from __future__ import annotations

from functools import partial
from typing import Any, overload

from ..codec import assemble as _assemble
from ..codec import typed as core
from ..codec import typed_encode as _typed_encode
from ..codec.errors import AvpDecodeError, AvpEncodeError
from ..codec.wire import LIMITS, avp_header, encode_avp, scan_avps, scan_index
from .avp.avp import Avp, _avp_from_entry, get_avp_dictionary_entry
from .avp.dictionary import AVP_TYPE_NAMES
from ..codec.types import CODECS

_FIXED_SIZES = {"Integer32": 4, "Integer64": 8, "Unsigned32": 4, "Unsigned64": 8,
                "Float32": 4, "Float64": 8, "Enumerated": 4, "Time": 4}
GENERATION = core.GENERATION   # bumped by the dictionary when an entry changes


class Spec:
    """How one attribute maps to one AVP (code, vendor)."""
    __slots__ = ("name", "code", "vendor", "key", "flagbits", "is_required", "type_class",
                 "decode", "encode", "fixed_hdr", "type_name", "avp_name", "pos")

    def encode_one(self, value: Any) -> bytes:
        tc = self.type_class
        if tc is not None:
            if isinstance(value, Avp):
                return value.as_bytes()
            if not hasattr(value, "avp_def"):
                raise AvpEncodeError(
                    f"attribute `{self.name}` needs a {tc.__name__} instance, got {value!r}")
            payload = encode_body(value)
        else:
            try:
                payload = self.encode(value)
            except AvpEncodeError as e:
                raise AvpEncodeError(f"failed to encode attribute `{self.name}` "
                                     f"({self.avp_name}): {e}") from None
            fixed = self.fixed_hdr
            if fixed is not None:
                return fixed + payload
        return encode_avp(self.code, self.flagbits >> 24, self.vendor, payload)

    def decode_at(self, buf: bytes, entry: tuple, depth: int = 0) -> Any:
        tc = self.type_class
        if tc is not None:
            if depth >= LIMITS.max_depth:
                raise AvpDecodeError(f"AVP nesting deeper than {LIMITS.max_depth} levels",
                                     entry[3], self.code, self.vendor)
            obj = tc._from_raw(buf, entry[4], entry[5])
            obj.__dict__["_depth"] = depth + 1
            return obj
        try:
            return self.decode(buf, entry[4], entry[5])
        except AvpDecodeError as e:
            raise AvpDecodeError(f"attribute `{self.name}` ({self.avp_name}): {e}", e.offset,
                                 self.code, self.vendor, e.result_code) from None


Binding = core.Binding
_MISS = core.MISS
_attr_get = core.attr_get
_encode_fresh = _typed_encode.encode_fresh
EAGER = core.EAGER


_KINDS = {"OctetString": core.K_OCTETS, "DiameterIdentity": core.K_OCTETS,
          "IPFilterRule": core.K_OCTETS, "QoSFilterRule": core.K_OCTETS,
          "UTF8String": core.K_UTF8, "DiameterURI": core.K_UTF8,
          "Unsigned32": core.K_U32, "Integer32": core.K_I32, "Enumerated": core.K_I32,
          "Unsigned64": core.K_U64, "Integer64": core.K_I64}


def _key(code: int, vendor: int) -> int:
    return code | (vendor << 32)


def _compile(cls: type, grouped: bool) -> Binding:
    import dataclasses
    b = Binding()
    b.grouped = grouped
    b.generation = GENERATION[0]
    for gd in getattr(cls, "avp_def", ()) or ():
        if not hasattr(gd, "attr_name") or gd.attr_name in b.by_name:
            continue
        entry = get_avp_dictionary_entry(gd.avp_code, gd.vendor_id)
        s = Spec()
        s.name = gd.attr_name
        s.code = gd.avp_code
        s.vendor = gd.vendor_id
        s.key = _key(gd.avp_code, gd.vendor_id)
        s.is_required = gd.is_required
        s.type_class = gd.type_class
        if entry is not None:
            type_name = AVP_TYPE_NAMES.get((gd.vendor_id, gd.avp_code)) or getattr(
                entry["type"], "type_name", "OctetString")
            mandatory = bool(entry.get("mandatory"))
            s.avp_name = entry["name"]
        else:
            type_name = "Grouped" if gd.type_class is not None else "OctetString"
            mandatory = False
            s.avp_name = f"AVP {gd.avp_code}/{gd.vendor_id}"
        # The dictionary's M rule wins over python-diameter's per-attribute overrides
        # (it cleared M on Origin-Host/Realm in CCR/CCA, against RFC 6733).
        if gd.is_mandatory:
            mandatory = True
        flags = (0x80 if gd.vendor_id else 0) | (0x40 if mandatory else 0)
        s.flagbits = flags << 24
        s.type_name = type_name
        if gd.type_class is None:
            s.decode, s.encode = CODECS.get(type_name, CODECS["OctetString"])
            size = _FIXED_SIZES.get(type_name)
            if size is not None:
                s.fixed_hdr = avp_header(gd.avp_code, flags, gd.vendor_id, size)
            else:
                s.fixed_hdr = None
        else:
            s.decode = s.encode = None
            s.fixed_hdr = None
        s.pos = len(b.ordered)
        b.by_name[s.name] = s
        b.by_key.setdefault(s.key, s)
        b.ordered.append(s)
    # RFC 6733 3.2/8.8: a fixed-position Session-Id comes first, whatever the avp_def order
    sid = b.by_key.get(263)
    if sid is not None and not grouped and b.ordered[0] is not sid:
        b.ordered.remove(sid)
        b.ordered.insert(0, sid)
        for i, spec in enumerate(b.ordered):
            spec.pos = i
    table: dict[int, core.Slot] = {}
    order: list[core.Slot] = []
    for spec in b.ordered:
        if spec.type_class is not None:
            slot = core.Slot(spec.name, core.K_GROUP, spec.type_class, False, spec.key)
        else:
            kind = _KINDS.get(spec.type_name, core.K_CALL)
            if CODECS.get(spec.type_name) != (spec.decode, spec.encode):
                kind = core.K_CALL
            slot = core.Slot(spec.name, kind, spec.decode, False, spec.key)
        slot.flagbits = spec.flagbits
        slot.fixed = spec.fixed_hdr or b""
        slot.pos = spec.pos
        slot.spec = spec
        slot.finish()
        order.append(slot)
        table.setdefault(spec.key, slot)
    b.fill_table = table
    b.order = order
    b.enc_slots = {slot.name: slot for slot in order}
    if grouped:
        b.list_names = frozenset(
            f.name for f in dataclasses.fields(cls)
            if f.default_factory is not dataclasses.MISSING and f.name != "additional_avps")
    else:
        names: set[str] = set()
        for klass in reversed(cls.__mro__):
            names.update(klass.__dict__.get("attr_lists", ()))
        b.list_names = frozenset(names)
    for slot in order:
        slot.is_list = slot.name in b.list_names
    b.names = frozenset(slot.name for slot in table.values())
    b.slots = {slot.name: slot for slot in table.values()}
    return b


def binding_of(cls: type) -> Binding:
    b = cls.__dict__.get("_binding")
    if b is None or b.generation != GENERATION[0]:
        b = _compile(cls, "__dataclass_fields__" in cls.__dict__ or
                     hasattr(cls, "__dataclass_fields__"))
        cls._binding = b
        core.BINDINGS[cls] = b
        install_names(cls, (*b.by_name, *b.list_names, *(("additional_avps",) if b.grouped else ())))
    return b


def raw_index(obj: Any) -> dict[int, list[tuple]]:
    """(code|vendor<<32) -> entries, for an instance backed by bytes."""
    d = obj.__dict__
    idx = d.get("_raw_index")
    if idx is None:
        entries = d.get("_raw_entries")
        if entries is None:
            entries, idx = scan_index(*d["_raw"])
            d["_raw_entries"] = entries
        else:
            idx = {}
            for e in entries:
                k = e[0] | (e[1] << 32)
                lst = idx.get(k)
                if lst is None:
                    idx[k] = [e]
                else:
                    lst.append(e)
        d["_raw_index"] = idx
    return idx


def _fresh(obj: Any, b: Binding, name: str) -> Any:
    """The value of attribute ``name`` as decoded from the instance's bytes."""
    d = obj.__dict__
    buf = d["_raw"][0]
    if name == "additional_avps":
        return [_avp_from_entry(buf, e, d.get("_depth", 0)) for e in core.entries_of(d) if
                (e[0] | (e[1] << 32)) not in b.by_key]
    spec = b.by_name[name]
    occ = raw_index(obj).get(spec.key)
    depth = d.get("_depth", 0)
    if name in b.list_names:
        return [spec.decode_at(buf, e, depth) for e in occ] if occ else []
    if not occ:
        return None
    return spec.decode_at(buf, occ[-1], depth)


def lazy_getattr(self: Any, name: str) -> Any:
    """What an :class:`codec.typed.Attr` of a typed class reads: decode on first read, None when absent.

    Typed classes have no ``__getattr__`` (CPython 3.11 would not specialise any
    attribute access on their instances): every name answered here has a class
    attribute (:func:`install_attrs`, again when a binding is compiled).
    """
    if EAGER[0]:
        value = _attr_get(self, name)
        if value is not _MISS:
            return value
    if name[0] == "_":
        raise AttributeError(name)
    cls = type(self)
    b = cls.__dict__.get("_binding")
    if b is None or b.generation != GENERATION[0]:
        b = binding_of(cls)
        if EAGER[0]:
            return lazy_getattr(self, name)
    d = self.__dict__
    spec = b.by_name.get(name)
    if spec is not None:
        raw = d.get("_raw")
        if raw is not None:
            # a value that does not decode (raises here), or a second name for one AVP
            idx = d.get("_raw_index") or raw_index(self)
            occ = idx.get(spec.key)
            if name in b.list_names:
                value = [spec.decode_at(raw[0], e, d.get("_depth", 0)) for e in occ] if occ else []
            elif occ:
                value = spec.decode_at(raw[0], occ[-1], d.get("_depth", 0))
            else:
                value = None
            d[name] = value
            return value
        if name in b.list_names:
            value = []
            d[name] = value
            return value
        return None
    if name == "additional_avps" and b.grouped:
        if "_raw" in d:
            raw_index(self)
            value = _fresh(self, b, name)
        else:
            value = []
        d[name] = value
        return value
    if name in b.list_names:
        # python-diameter sets a few list attributes that map to no AVP
        value = []
        d[name] = value
        return value
    raise AttributeError(f"{cls.__name__} has no attribute {name}")


core.SLOW[0] = lazy_getattr


class IdentityAttr:
    """A DiameterIdentity attribute: accepts ``str`` (encoded to ASCII) as well as ``bytes``.

    Reads return what is stored, ``bytes`` for every value set or decoded, as
    python-diameter does. A data descriptor, used for identity attributes only.
    """
    def __init__(self, name: str, doc: str) -> None:
        self.inner = core.Attr(name, doc)
        self.name = name
        self.__doc__ = doc

    @overload
    def __get__(self, obj: None, owner: Any = None) -> IdentityAttr: ...
    @overload
    def __get__(self, obj: object, owner: Any = None) -> bytes | None: ...

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        v = obj.__dict__.get(self.name, _ABSENT)   # not try/except: unset attributes are common
        if v is _ABSENT:
            return self.inner.__get__(obj, owner)
        return v

    def __set__(self, obj: Any, value: str | bytes | None) -> None:
        obj.__dict__[self.name] = _ENCODE_IDENTITY(value) if type(value) is str else value

    def __delete__(self, obj: Any) -> None:
        del obj.__dict__[self.name]

    def __repr__(self) -> str:
        return self.__doc__ or f"<attribute {self.name}>"


_ENCODE_IDENTITY = CODECS["DiameterIdentity"][1]
_ABSENT = object()
_IDENTITY_CLASSES: dict[str, type[IdentityAttr]] = {}


def identity_attr(name: str, doc: str) -> IdentityAttr:
    """An :class:`IdentityAttr` whose ``__set__`` is the codec's compiled setter.

    Python calls a data descriptor's ``__set__`` looked up on its type; a ``partial``
    there (not a method: it is called without the descriptor) holds the attribute's
    name, so each name has its own subclass (cached: one per identity attribute name).
    """
    klass = _IDENTITY_CLASSES.get(name)
    if klass is None:
        klass = type("IdentityAttr", (IdentityAttr,), {
            "__slots__": (), "__module__": __name__, "__qualname__": "IdentityAttr",
            "__set__": partial(_set_identity, name, _ENCODE_IDENTITY)})
        _IDENTITY_CLASSES[name] = klass
    return klass(name, doc)


_set_identity = _assemble.set_identity


def _attr_doc(gd: Any) -> tuple[str, str]:
    """("Origin-Host (AVP 264): DiameterIdentity", type name) for help()."""
    entry = get_avp_dictionary_entry(gd.avp_code, gd.vendor_id)
    avp_name = entry["name"] if entry is not None else "AVP"
    type_name = AVP_TYPE_NAMES.get((gd.vendor_id, gd.avp_code)) or (
        "Grouped" if gd.type_class is not None else "OctetString")
    where = f"AVP {gd.avp_code}" + (f", vendor {gd.vendor_id}" if gd.vendor_id else "")
    kind = f"grouped {gd.type_class.__name__}" if gd.type_class is not None else type_name
    return f"{avp_name} ({where}): {kind}", type_name


def install_attrs(cls: type) -> None:
    """Give ``cls`` a lazy class attribute (:class:`codec.typed.Attr`) for each attribute in avp_def.

    Each shows its AVP name, code and type in ``help()``; DiameterIdentity attributes
    (:class:`IdentityAttr`) also accept ``str``.
    """
    for gd in getattr(cls, "avp_def", ()) or ():
        name = getattr(gd, "attr_name", None)
        if not name or name[0] == "_":
            continue
        current = getattr(cls, name, None)
        if current is None or isinstance(current, (core.Attr, IdentityAttr)):
            doc, type_name = _attr_doc(gd)
            if type_name == "DiameterIdentity":
                setattr(cls, name, identity_attr(name, doc))
            else:
                setattr(cls, name, core.Attr(name, doc))
    if "__dataclass_fields__" in cls.__dict__:      # grouped: list fields, additional_avps
        import dataclasses
        install_names(cls, [f.name for f in dataclasses.fields(cls)
                             if f.default_factory is not dataclasses.MISSING])
    else:                                           # messages: attr_lists without an AVP
        install_names(cls, [n for k in cls.__mro__ for n in k.__dict__.get("attr_lists", ())])


def install_names(cls: type, names: Any) -> None:
    """A :class:`codec.typed.Attr` for each of ``names`` that ``cls`` has no attribute for."""
    for name in names:
        if name and name[0] != "_" and getattr(cls, name, None) is None:
            setattr(cls, name, core.Attr(name, name))


def _same(v: Any, s: Any, grouped: bool, is_list: bool) -> bool:
    """Whether value ``v`` is still the decoded value ``s`` (deeply, for groups)."""
    if is_list:
        if type(v) is not list or len(v) != len(s):
            return False
        for x, y in zip(v, s):
            if x is not y or (grouped and not is_clean(x)):
                return False
        return True
    return v is s and (not grouped or is_clean(v))


def is_clean(obj: Any) -> bool:
    """Whether a bytes-backed instance still encodes to its original bytes."""
    d = getattr(obj, "__dict__", None)
    if d is None or "_raw" not in d:
        return False
    b = binding_of(type(obj))
    if _plainly_clean(d, b):
        return True
    changed, extras_changed = _changes(obj, b, d)
    return not changed and not extras_changed and not d.get("_additional_avps")


_INTERNAL_KEYS = frozenset({"header", "_additional_avps", "_raw", "_raw_entries", "_st",
                            "_depth", "_raw_index"})


def _plainly_clean(d: dict, b: Binding) -> bool:
    """A quick sufficient test for :func:`is_clean` (False: ask :func:`_changes`).

    True when no custom AVP was added and the attributes in ``d`` are exactly the
    decoded snapshot's, each a scalar (not grouped) still holding the very object
    decoded; a list of scalars must also hold the very items decoded, in order.
    """
    if d.get("_additional_avps"):
        return False
    st = d.get("_st")
    if st is None:
        return d.keys() <= _INTERNAL_KEYS
    snap = st.snap
    if d.keys() - _INTERNAL_KEYS != snap.keys():
        return False
    plain = _PLAIN_NAMES.get(b)
    if plain is None:
        plain = _plain_names(b)
    for name, s in snap.items():
        if d[name] is not s:
            return False
        if name not in plain:
            if name not in b.list_names or b.by_name[name].type_class is not None:
                return False
            items = st.snapl.get(name)
            if items is None or type(s) is not list or len(s) != len(items):
                return False
            for x, y in zip(s, items):
                if x is not y:
                    return False
    return True


_PLAIN_NAMES: dict[Binding, frozenset[str]] = {}


def _plain_names(b: Binding) -> frozenset[str]:
    """The attributes of ``b`` holding one scalar (not a list, not grouped)."""
    names = frozenset(spec.name for spec in b.ordered
                      if spec.type_class is None and spec.name not in b.list_names)
    if len(_PLAIN_NAMES) > 4096:     # bindings are per class and generation: bounded anyway
        _PLAIN_NAMES.clear()
    _PLAIN_NAMES[b] = names
    return names


def _changes(obj: Any, b: Binding, d: dict) -> tuple[dict[int, Spec], bool]:
    by_name = b.by_name
    st = d.get("_st")
    snap = st.snap if st is not None else {}
    snapl = st.snapl if st is not None else {}
    changed: dict[int, Spec] = {}
    extras_changed = False
    for name, v in list(d.items()):
        spec = by_name.get(name)
        if spec is not None:
            s = snapl.get(name, snap)
            if s is not snap:
                if _same(v, s, spec.type_class is not None, True):
                    continue
            elif name in snap:
                if _same(v, snap[name], spec.type_class is not None, False):
                    continue
            elif v == _fresh(obj, b, name):
                continue
            changed[spec.key] = spec
        elif name == "additional_avps" and b.grouped:
            raw_index(obj)
            if v != _fresh(obj, b, name):
                extras_changed = True
    return changed, extras_changed


def encode_body(obj: Any) -> bytes:
    """The encoded AVPs of a typed message or grouped instance."""
    cls = type(obj)
    b = binding_of(cls)
    d = obj.__dict__
    extras = d.get("_additional_avps")
    raw = d.get("_raw")
    if raw is None:
        body = _encode_fresh(d, b)
        if b.grouped:
            extras = d.get("additional_avps")
        if extras:
            body += b"".join(_avp_bytes(avp) for avp in extras)
        return body
    buf, start, end = raw
    changed, extras_changed = _changes(obj, b, d)
    if not changed and not extras and not extras_changed:
        return buf[start:end] if (start or end != len(buf)) else buf
    entries = d.get("_raw_entries") or scan_avps(buf, start, end)
    parts = []
    done: set[int] = set()
    for e in entries:
        k = e[0] | (e[1] << 32)
        spec = changed.get(k)
        if spec is None:
            if extras_changed and k not in b.by_key:
                continue
            s, pe = e[3], e[5]
            parts.append(buf[s:pe + (-(pe - s) & 3)])
        elif k not in done:
            done.add(k)
            parts.append(_encode_attr(spec, d.get(spec.name)))
    for k, spec in changed.items():
        if k not in done:
            parts.append(_encode_attr(spec, d.get(spec.name)))
    if extras_changed:
        for avp in d["additional_avps"]:
            parts.append(_avp_bytes(avp))
    if extras:
        for avp in extras:
            parts.append(_avp_bytes(avp))
    return b"".join(parts)


def _encode_attr(spec: Spec, v: Any) -> bytes:
    if v is None:
        return b""
    if type(v) is list:
        return b"".join(spec.encode_one(item) for item in v if item is not None)
    return spec.encode_one(v)


def _avp_bytes(avp: Any) -> bytes:
    if not isinstance(avp, Avp):
        raise AvpEncodeError(f"{avp!r} is not an Avp instance")
    return avp.as_bytes()
