"""Building typed messages and grouped AVPs from attributes: the constructors' hot parts.

The compiled half of ``DefinedMessage.__init__``, ``Message.to_answer``, the grouped
classes' ``__init__``, the ``add_*`` helpers of the command classes and the setter of
DiameterIdentity attributes (``diameter.message``). Each function does what the message
layer's general code does for the common case, reading the class attributes on every
call (a class changed at run time, e.g. a patched ``__post_init__``, is honoured), and
returns ``None``/``False`` when that general code must answer instead. Compiled by mypyc
with the rest of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, Callable, Final

from .frame import u32_at
from .objects import MessageHeader, raw_bytes

_OBJECT_NEW: Final[Any] = object.__new__


def init_fresh(d: dict[str, Any], cls: Any, no_post_init: Any) -> bool:
    """``DefinedMessage.__init__()`` without arguments: the header from the class's code,
    application and R/P bits, the attribute defaults; False when the class has a
    ``__post_init__`` (the general code calls it)."""
    if cls.__post_init__ is not no_post_init:
        return False
    flags = 0
    if cls.header_flags_request:
        flags = 0x80
    if cls.header_flags_proxyable:
        flags |= 0x40
    d["header"] = MessageHeader(1, 0, flags, cls.code or 0, cls.default_application_id or 0, 0, 0)
    d["_additional_avps"] = []
    defaults = cls.attr_defaults
    if defaults:
        d.update(defaults)
    return True


def new_answer(answer_cls: Any, rd: dict[str, Any], defined_init: Any, no_post_init: Any) -> Any:
    """``to_answer``'s answer: ``answer_cls`` over a header from the request's (``rd``: its
    instance dict; a decoded request's header not read yet is read from its bytes): same code,
    application and ids, P bit kept, built as ``DefinedMessage.__init__`` would; None when the
    general code must answer (another ``__init__``, ``__new__`` or a ``__post_init__``, a
    header that is not a ``MessageHeader``)."""
    if (answer_cls.__init__ is not defined_init or answer_cls.__post_init__ is not no_post_init
            or answer_cls.__new__ is not _OBJECT_NEW):
        return None
    h: Any = rd.get("header")
    if h is None:
        buf = raw_bytes(rd)
        if buf is None:
            return None
        hdr = MessageHeader(buf[0], 0, buf[4] & 0x40, (buf[5] << 16) | (buf[6] << 8) | buf[7],
                            u32_at(buf, 8), u32_at(buf, 12), u32_at(buf, 16))
    elif isinstance(h, MessageHeader):
        req: MessageHeader = h
        hdr = MessageHeader(req.version, 0, req.command_flags & 0x40, req.command_code,
                            req.application_id, req.hop_by_hop_identifier,
                            req.end_to_end_identifier)
    else:
        return None
    ans = _OBJECT_NEW(answer_cls)
    d: dict[str, Any] = ans.__dict__
    d["header"] = hdr
    d["_additional_avps"] = []
    code = answer_cls.code
    if code:
        hdr.command_code = code
    defaults = answer_cls.attr_defaults
    if defaults:
        d.update(defaults)
    return ans


def new_grouped(cls: Any, kwargs: dict[str, Any], owned: bool = False, names: Any = None) -> Any:
    """``cls(**kwargs)`` for a grouped class, its generated ``__init__`` run here (the
    general call when the class has another ``__init__`` or ``__new__``). ``owned``: the
    caller made ``kwargs`` for this call and drops it: it becomes the instance's dict
    (no copy into a new one). ``names``: a frozenset holding every key ``kwargs`` may
    have, none of its values None (an ``add_*`` helper's): when the class has all of
    them (checked once per class), the keywords are not checked one by one."""
    found: Any = getattr(cls, "_grouped_init", None)
    if type(found) is not tuple or len(found) != 2:
        return cls(**kwargs)
    pair: tuple[Any, Any] = found
    spec: Any = pair[1]
    if cls.__init__ is not pair[0] or cls.__new__ is not _OBJECT_NEW or not isinstance(spec, GroupedInit):
        return cls(**kwargs)
    obj = _OBJECT_NEW(cls)
    if owned and "avp_def" not in kwargs:
        g: GroupedInit = spec
        if names is not None and (g.known is names or _knows(g, names)):
            nones = False
        else:
            nones = _check_kwargs(kwargs, g)
        obj.__dict__ = kwargs
        _finish_grouped(kwargs, spec, nones)
    else:
        init_grouped(obj.__dict__, (), kwargs, spec)
    return obj


def append_to(msg: Any, name: str, item: Any) -> None:
    """Append ``item`` to the list attribute ``name`` of ``msg`` (created when unset)."""
    d: dict[str, Any] = msg.__dict__
    current = d.get(name)
    if current is None:
        if "_raw" in d:     # decoded: the list may still be in the bytes
            current = getattr(msg, name, None)
            if current is not None:
                current.append(item)
                return
        setattr(msg, name, [item])
    else:
        current.append(item)


def add_grouped(msg: Any, name: str, cls: Any, kwargs: dict[str, Any]) -> None:
    """The ``add_*`` helpers: ``cls(**kwargs)`` appended to the list attribute ``name``
    (``kwargs``: made by the helper for this call, the group's dict then)."""
    append_to(msg, name, new_grouped(cls, kwargs, True))


def set_identity(name: str, encode: Callable[[Any], bytes], obj: Any, value: Any) -> None:
    """A DiameterIdentity attribute's setter: ``str`` is stored encoded (``encode``: the
    DiameterIdentity encoder, for anything but ASCII text), anything else as given."""
    d: dict[str, Any] = obj.__dict__
    if type(value) is str:
        s: str = value
        if s.isascii():
            d[name] = s.encode("ascii")
        else:
            d[name] = encode(value)
    else:
        d[name] = value


def add_mscc(msg: Any, cls: Any, granted_service_unit: Any, requested_service_unit: Any,
             used_service_unit: Any, tariff_change_usage: Any, service_identifier: Any,
             rating_group: Any, g_s_u_pool_reference: Any, validity_time: Any,
             result_code: Any, final_unit_indication: Any, avp: Any) -> None:
    """``add_multiple_services_credit_control``: a ``cls`` (Multiple-Services-Credit-Control)
    from the arguments given (None: left out; ``used_service_unit`` and
    ``service_identifier`` take one value or a list), appended to the message."""
    kw: dict[str, Any] = {}
    if granted_service_unit is not None:
        kw["granted_service_unit"] = granted_service_unit
    if requested_service_unit is not None:
        kw["requested_service_unit"] = requested_service_unit
    if used_service_unit is not None:
        kw["used_service_unit"] = (used_service_unit if isinstance(used_service_unit, list)
                                   else [used_service_unit])
    if tariff_change_usage is not None:
        kw["tariff_change_usage"] = tariff_change_usage
    if service_identifier is not None:
        kw["service_identifier"] = (service_identifier if isinstance(service_identifier, list)
                                    else [service_identifier])
    if rating_group is not None:
        kw["rating_group"] = rating_group
    if g_s_u_pool_reference is not None:
        kw["g_s_u_pool_reference"] = g_s_u_pool_reference
    if validity_time is not None:
        kw["validity_time"] = validity_time
    if result_code is not None:
        kw["result_code"] = result_code
    if final_unit_indication is not None:
        kw["final_unit_indication"] = final_unit_indication
    if avp:
        kw["additional_avps"] = list(avp)
    append_to(msg, "multiple_services_credit_control", new_grouped(cls, kw, True, MSCC_NAMES))


MSCC_NAMES: Final = frozenset({
    "granted_service_unit", "requested_service_unit", "used_service_unit", "tariff_change_usage",
    "service_identifier", "rating_group", "g_s_u_pool_reference", "validity_time", "result_code",
    "final_unit_indication", "additional_avps"})
"""The keys :func:`add_mscc` may give a Multiple-Services-Credit-Control."""


def _knows(g: GroupedInit, names: frozenset[str]) -> bool:
    """Whether the class of ``g`` has every name of ``names`` (remembered when it has)."""
    if names <= g.name_set:
        g.known = names
        return True
    return False


class GroupedInit:
    """What a grouped class's ``__init__`` needs (see ``generator.grouped_avp``)."""
    cls_name: str
    names: tuple[str, ...]
    name_set: frozenset[str]
    list_fields: tuple[str, ...]
    eager: tuple[tuple[str, Any], ...]
    known: frozenset[str] | None    # a names set found within ``name_set`` (see new_grouped)

    def __init__(self, cls_name: str, names: tuple[str, ...], list_fields: tuple[str, ...],
                 eager: tuple[tuple[str, Any], ...]) -> None:
        self.cls_name = cls_name
        self.names = names
        self.name_set = frozenset(names) | {"avp_def"}
        self.list_fields = list_fields
        self.eager = eager
        self.known = None


def init_grouped(d: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 g: GroupedInit) -> None:
    """Body of a grouped class's ``__init__``: positional and keyword attributes."""
    # None for a list member means "none" (reads []): dropped below; on a new instance (an
    # empty dict) only when one of the values given is None
    nones = len(d) > 0
    if args:
        names = g.names
        if len(args) > len(names):
            raise TypeError(f"{g.cls_name}() takes at most {len(names)} "
                            f"positional arguments ({len(args)} given)")
        for i in range(len(args)):
            v = args[i]
            if v is None:
                nones = True
            d[names[i]] = v
    if kwargs:
        if _check_kwargs(kwargs, g):
            nones = True    # (avp_def=None too: the pass below then finds nothing more)
        if "avp_def" in kwargs:
            for k, v in kwargs.items():
                if k != "avp_def":
                    d[k] = v
        else:
            d.update(kwargs)    # what setting each in turn does, in one call
    _finish_grouped(d, g, nones)


def _check_kwargs(kwargs: dict[str, Any], g: GroupedInit) -> bool:
    """Raise the TypeError of a keyword the class does not have; whether a value is None."""
    nones = False
    name_set = g.name_set
    for k, v in kwargs.items():
        if k not in name_set:
            raise TypeError(f"{g.cls_name}() got an unexpected keyword argument '{k}'")
        if v is None:
            nones = True
    return nones


def _finish_grouped(d: dict[str, Any], g: GroupedInit, nones: bool) -> None:
    """A list member set to None dropped (``nones``: some value is None), the eager defaults."""
    if nones:
        for k in g.list_fields:
            if k in d and d[k] is None:
                del d[k]
    for k, v in g.eager:
        if k not in d:
            d[k] = v
