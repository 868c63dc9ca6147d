"""The running AVP dictionary's tables, filled by :mod:`.dictionary`.

``AVP_DICTIONARY`` (vendor 0) and ``AVP_VENDOR_DICTIONARY`` (vendor -> code ->
entry) keep python-diameter's shape: ``{"name", "type", "mandatory", "vendor"}``.
Here with the functions that read and write one entry and need no Avp class, so
that the Avp classes (:mod:`.avp`) and the dictionary that fills the tables with
those classes (:mod:`.dictionary`) both import them without importing each other.
"""
from __future__ import annotations

import typing

from ...codec.typed import GENERATION

if typing.TYPE_CHECKING:
    from .avp import Avp


class AvpInfo(typing.TypedDict):
    name: str
    type: type[Avp]
    mandatory: typing.NotRequired[bool]
    vendor: typing.NotRequired[int]


AVP_DICTIONARY: dict[int, AvpInfo] = {}
AVP_VENDOR_DICTIONARY: dict[int, dict[int, AvpInfo]] = {}
# (vendor, code) -> the specification's type name (DiameterIdentity, Enumerated...)
AVP_TYPE_NAMES: dict[tuple[int, int], str] = {}
# (vendor, code) -> (must, may, must_not) flag rules, e.g. ("M", "P", "V")
AVP_FLAG_RULES: dict[tuple[int, int], tuple[str, str, str]] = {}
ENUMS: dict[tuple[int, int], dict[int, str]] = {}
VENDOR_NAMES: dict[int, str] = {0: "None"}


def enum_label(code: int, vendor: int, value: object) -> str | None:
    """The name of an Enumerated value, or None."""
    names = ENUMS.get((vendor, code))
    if names is None:
        return None
    return names.get(value)  # type: ignore[call-overload]


def vendor_name(vendor: int) -> str:
    """Display name of a vendor id (the id itself when unknown)."""
    return VENDOR_NAMES.get(vendor) or str(vendor)


NAME_INDEX: dict[str, list[tuple[int, int]]] = {}
"""AVP name (lower case) -> [(code, vendor)], built on demand by ``dictionary.avp_by_name``."""


def register_entry(code: int, name: str, type_cls: type[Avp], vendor: int = 0,
                   mandatory: bool | None = None, type_name: str | None = None) -> None:
    """Add or replace the definition of (vendor, code)."""
    entry: AvpInfo = {"name": name, "type": type_cls, "mandatory": bool(mandatory)}
    if vendor:
        entry["vendor"] = vendor
        AVP_VENDOR_DICTIONARY.setdefault(vendor, {})[code] = entry
    else:
        AVP_DICTIONARY[code] = entry
    AVP_TYPE_NAMES[(vendor, code)] = type_name or getattr(type_cls, "type_name", "OctetString")
    GENERATION[0] += 1
    NAME_INDEX.clear()
