"""Attribute definitions that map Python attributes to AVPs (python-diameter API).

``AvpGenDef`` tuples list, for a typed message or grouped class, which
attribute holds which AVP. :func:`grouped_avp` turns a class into a dataclass
that decodes its members lazily when built from bytes.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, NamedTuple, Protocol

from ...codec import core as _core
from .avp import Avp

logger = logging.getLogger("diameter.avp")

__all__ = ["AvpGenDef", "AvpGenType", "AvpGenerator", "generate_avps_from_defs", "grouped_avp"]


class AvpGenDef(NamedTuple):
    """One attribute: its name, AVP code and vendor, and how it is encoded."""
    attr_name: str
    avp_code: int
    vendor_id: int = 0
    is_required: bool = False
    is_mandatory: bool | None = None
    type_class: type | None = None


AvpGenType = tuple[AvpGenDef, ...]


class AvpGenerator(Protocol):
    """Anything with an ``avp_def`` tuple: typed messages and grouped classes."""
    avp_def: AvpGenType


def generate_avps_from_defs(obj: Any, strict: bool = False) -> list[Avp]:
    """Build the list of AVPs an object's attributes describe.

    With ``strict``, a required attribute that is not set raises ``ValueError``.
    """
    from .._binding import binding_of, encode_body
    from ...codec.wire import scan_avps
    from .avp import make_avps
    if not hasattr(obj, "avp_def"):
        return []
    for spec in binding_of(type(obj)).ordered:
        if spec.is_required and getattr(obj, spec.name, None) is None:
            msg = f"mandatory AVP attribute `{spec.name}` is not set"
            if strict:
                raise ValueError(msg)
            logger.debug(msg)
    body = encode_body(obj)
    return make_avps(body, scan_avps(body, 0, len(body)), 0)


def grouped_avp(cls: type) -> type:
    """Make ``cls`` a grouped-AVP dataclass with lazy decoding.

    Fields default to ``None`` (list fields to a new list) without storing the
    default on the instance, so an instance decoded from bytes only decodes the
    members that are read.
    """
    from .._binding import install_attrs, lazy_getattr
    cls = dataclasses.dataclass(cls, init=False)
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    list_fields = tuple(f.name for f in fields if f.default_factory is not dataclasses.MISSING)
    eager = tuple((f.name, f.default) for f in fields
                  if f.default is not dataclasses.MISSING and f.default is not None)
    for f in fields:
        if f.name in cls.__dict__:
            delattr(cls, f.name)

    spec = _core.GroupedInit(cls.__name__, names, list_fields, eager)
    init = _core.init_grouped

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self.__dict__, args, kwargs, spec)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = __init__
    cls.__getattr__ = lazy_getattr

    def _from_raw(klass: type, buf: bytes, start: int, end: int) -> Any:
        obj = klass.__new__(klass)
        obj.__dict__["_raw"] = (buf, start, end)
        return obj

    cls._from_raw = classmethod(_from_raw)
    install_attrs(cls)
    return cls
