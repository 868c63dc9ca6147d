"""Attribute definitions that map Python attributes to AVPs (python-diameter API).

``AvpGenDef`` tuples list, for a typed message or grouped class, which
attribute holds which AVP. :func:`grouped_avp` turns a class into a dataclass
that decodes its members lazily when built from bytes.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, dataclass_transform

from ...codec import assemble as _assemble
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


_PARAMS: list[Any] = []


def _dataclass_params() -> Any:
    """The ``__dataclass_params__`` of ``dataclass(init=False)``, taken from a real one."""
    if not _PARAMS:
        @dataclasses.dataclass(init=False)
        class _Probe:
            pass
        _PARAMS.append(_Probe.__dataclass_params__)  # type: ignore[attr-defined]
    return _PARAMS[0]


def _dc_repr(self: Any) -> str:
    inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
    return f"{type(self).__qualname__}({inner})"


def _dc_eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = [f.name for f in dataclasses.fields(self)]
    return [getattr(self, n) for n in names] == [getattr(other, n) for n in names]


def _make_dataclass(cls: Any) -> None:
    """What ``dataclasses.dataclass(cls, init=False)`` does for a grouped class, minus the
    per-class ``exec`` of generated methods (611 classes: most of the import time).

    ``dataclasses.fields``, ``asdict``, ``is_dataclass`` and ``replace`` work as before;
    ``__repr__`` and ``__eq__`` are shared functions with the same results.
    """
    all_fields: dict[str, dataclasses.Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        base_fields = base.__dict__.get("__dataclass_fields__")
        if base_fields:
            all_fields.update(base_fields)
    own = cls.__dict__.get("__annotations__", {})
    for name, ann in own.items():
        ann_s = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
        if "ClassVar" in ann_s:
            continue
        default = cls.__dict__.get(name, dataclasses.MISSING)
        if isinstance(default, dataclasses.Field):
            f = default
        else:
            f = dataclasses.field(default=default)
        f.name = name
        f.type = ann
        is_initvar = "InitVar" in ann_s
        f._field_type = (dataclasses._FIELD_INITVAR if is_initvar  # type: ignore[attr-defined]
                         else dataclasses._FIELD)  # type: ignore[attr-defined]
        if f.default_factory is not dataclasses.MISSING and name in cls.__dict__:
            delattr(cls, name)
        all_fields[name] = f
    cls.__dataclass_fields__ = all_fields
    cls.__dataclass_params__ = _dataclass_params()
    cls.__repr__ = _dc_repr
    cls.__eq__ = _dc_eq
    cls.__hash__ = None
    field_kind = dataclasses._FIELD  # type: ignore[attr-defined]
    setattr(cls, "__match_args__", tuple(  # noqa: B010 (mypy refuses the plain assignment)
        n for n, f in all_fields.items() if getattr(f, "_field_type", None) is field_kind))


_C = TypeVar("_C", bound=type)
_G = TypeVar("_G")


if TYPE_CHECKING:
    def new_grouped(cls: type[_G], kwargs: dict[str, Any]) -> _G:
        """``cls(**kwargs)`` for a :func:`grouped_avp` class, without the Python frame of its
        generated ``__init__`` (the general call when the class has another ``__init__``)."""
else:
    new_grouped = _assemble.new_grouped   # compiled with the codec core




@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def grouped_avp(cls: _C) -> _C:
    """Make ``cls`` a grouped-AVP dataclass with lazy decoding.

    Fields default to ``None`` (list fields to a new list) without storing the
    default on the instance, so an instance decoded from bytes only decodes the
    members that are read.
    """
    from .._binding import install_attrs
    klass: Any = cls
    _make_dataclass(klass)
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    list_fields = tuple(f.name for f in fields if f.default_factory is not dataclasses.MISSING)
    eager = tuple((f.name, f.default) for f in fields
                  if f.default is not dataclasses.MISSING and f.default is not None)
    for f in fields:
        if f.name in cls.__dict__:
            delattr(cls, f.name)

    spec = _assemble.GroupedInit(cls.__name__, names, list_fields, eager)
    init = _assemble.init_grouped

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self.__dict__, args, kwargs, spec)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    klass.__init__ = __init__
    klass._grouped_init = (__init__, spec)

    def _from_raw(of: Any, buf: bytes, start: int, end: int) -> Any:
        obj = of.__new__(of)
        obj.__dict__["_raw"] = (buf, start, end)
        return obj

    klass._from_raw = classmethod(_from_raw)
    if "__init_subclass__" not in klass.__dict__:
        def __init_subclass__(sub: Any, **kwargs: Any) -> None:
            super(klass, sub).__init_subclass__(**kwargs)
            _new_names(sub)
        klass.__init_subclass__ = classmethod(__init_subclass__)
    install_attrs(cls)
    return cls


def _new_names(sub: Any) -> None:
    """A subclass of a grouped class reads the ``avp_def`` names it adds as None from the
    start (grouped classes have no ``__getattr__`` to answer them), also when it is not
    decorated itself; names its own body declares are left to its decorator."""
    from .._binding import install_names
    own = sub.__dict__.get("__annotations__", {})
    install_names(sub, [n for n in (getattr(gd, "attr_name", None) for gd in getattr(sub, "avp_def", ()) or ())
                        if n and n not in own and n not in sub.__dict__])
