"""The running AVP dictionary, built from the generated tables.

The tables themselves are in :mod:`.tables` (re-exported here):
``AVP_DICTIONARY`` (vendor 0) and ``AVP_VENDOR_DICTIONARY`` (vendor -> code ->
entry) keep python-diameter's shape: ``{"name", "type", "mandatory", "vendor"}``.
Entries can be added at run time with :func:`register_entry` (python-diameter's
``avp.register``) or from Wireshark XML files (:mod:`diameter.dictionary.wireshark`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ...codec.typed import GENERATION
from ...dictionary import runtime as _runtime
from .avp import (Avp, AvpAddress, AvpFloat32, AvpFloat64, AvpGrouped, AvpInteger32,
                  AvpInteger64, AvpOctetString, AvpTime, AvpUnsigned32, AvpUnsigned64,
                  AvpUtf8String, register)
from .tables import (AVP_DICTIONARY, AVP_FLAG_RULES, AVP_TYPE_NAMES, AVP_VENDOR_DICTIONARY,
                     ENUMS, NAME_INDEX, VENDOR_NAMES, AvpInfo, enum_label, register_entry,
                     vendor_name)

try:
    from ...dictionary import tables as _tables
except ImportError:  # before the first generation
    _tables = None

if TYPE_CHECKING:
    from ...dictionary.source import Dictionary


# python-diameter's type mapping: DiameterIdentity, IPFilterRule and QoSFilterRule are
# OctetString (bytes), DiameterURI is UTF8String (str), Enumerated is Integer32.
TYPE_CLASSES: dict[str, type[Avp]] = {
    "OctetString": AvpOctetString, "Integer32": AvpInteger32, "Integer64": AvpInteger64,
    "Unsigned32": AvpUnsigned32, "Unsigned64": AvpUnsigned64, "Float32": AvpFloat32,
    "Float64": AvpFloat64, "Grouped": AvpGrouped, "Address": AvpAddress, "Time": AvpTime,
    "UTF8String": AvpUtf8String, "DiameterIdentity": AvpOctetString,
    "DiameterURI": AvpUtf8String, "Enumerated": AvpInteger32,
    "IPFilterRule": AvpOctetString, "QoSFilterRule": AvpOctetString,
}

def _load() -> None:
    if _tables is None:
        return
    for vid, (display, _const) in _tables.VENDORS.items():
        VENDOR_NAMES[vid] = display
    classes = TYPE_CLASSES
    for code, vendor, name, type_name, must, may, must_not in _tables.AVPS:
        entry: AvpInfo = {"name": name, "type": classes[type_name], "mandatory": "M" in must}
        if vendor:
            entry["vendor"] = vendor
            AVP_VENDOR_DICTIONARY.setdefault(vendor, {})[code] = entry
        else:
            AVP_DICTIONARY[code] = entry
        AVP_TYPE_NAMES[(vendor, code)] = type_name
        AVP_FLAG_RULES[(vendor, code)] = (must, may, must_not)
    ENUMS.update(_tables.ENUMS)


_load()

_RUNNING: tuple[dict[Any, Any], ...] = (AVP_DICTIONARY, AVP_VENDOR_DICTIONARY, AVP_TYPE_NAMES,
                                        AVP_FLAG_RULES, ENUMS, VENDOR_NAMES)


class _RunningAvpTables:
    """These tables as part of the running dictionary (:mod:`diameter.dictionary.runtime`)."""

    def install(self, d: Dictionary, context: Dictionary | None) -> None:
        for vid, v in d.vendors.items():
            VENDOR_NAMES[vid] = v.name
        for a in d.avps.values():
            cls = TYPE_CLASSES.get(a.type, TYPE_CLASSES["OctetString"])
            register_entry(a.code, a.name, cls, a.vendor, a.mandatory, a.type)
            AVP_FLAG_RULES[a.key] = (a.must, a.may, a.must_not)
            if a.enum:
                ENUMS[a.key] = dict(a.enum)

    def snapshot(self) -> object:
        return ([dict(table) for table in _RUNNING],
                {vendor: dict(codes) for vendor, codes in AVP_VENDOR_DICTIONARY.items()})

    def restore(self, state: object) -> None:
        tables, vendor_codes = cast("tuple[list[dict[Any, Any]], dict[int, dict[int, AvpInfo]]]",
                                    state)
        for table, content in zip(_RUNNING, tables):
            table.clear()
            table.update(content)
        AVP_VENDOR_DICTIONARY.clear()
        AVP_VENDOR_DICTIONARY.update(vendor_codes)

    def clear(self) -> None:
        for table in _RUNNING:
            table.clear()


_runtime.attach(_RunningAvpTables())


_NAME_GENERATION = [-1]


def _name_index() -> dict[str, list[tuple[int, int]]]:
    if _NAME_GENERATION[0] != GENERATION[0]:     # the running dictionary changed
        NAME_INDEX.clear()
        _NAME_GENERATION[0] = GENERATION[0]
    if not NAME_INDEX:
        idx: dict[str, list[tuple[int, int]]] = {}
        for vendor, codes in [(0, AVP_DICTIONARY), *AVP_VENDOR_DICTIONARY.items()]:
            for code, entry in codes.items():
                idx.setdefault(entry["name"].lower(), []).append((code, vendor))
        for code, vendor, alt in getattr(_tables, "AVP_ALT_NAMES", ()):
            keys = idx.setdefault(alt.lower(), [])
            if (code, vendor) not in keys:
                keys.append((code, vendor))
        NAME_INDEX.update(idx)
    return NAME_INDEX


def avp_by_name(name: str, vendor: int | None = None) -> tuple[int, int]:
    """``(code, vendor)`` of an AVP by its name or another spelling of it (case-insensitive).

    Other spellings are those of a vendor's own documents, e.g. Huawei's ``MO-MSC-Addr``
    for ``MO-MSC-Address``. ``vendor`` picks among AVPs of the same name.
    Raises ``KeyError`` for an unknown name, ``ValueError`` for an ambiguous one.
    """
    found = _name_index().get(name.strip().lower(), [])
    if vendor is not None:
        found = [k for k in found if k[1] == vendor]
    if not found:
        raise KeyError(f"no AVP named {name!r}" + (f" for vendor {vendor}" if vendor else ""))
    if len(found) > 1:
        raise ValueError(f"AVP name {name!r} is ambiguous: {sorted(found)}; give the vendor")
    return found[0]



__all__ = ["AVP_DICTIONARY", "AVP_FLAG_RULES", "AVP_TYPE_NAMES", "AVP_VENDOR_DICTIONARY",
           "ENUMS", "VENDOR_NAMES", "TYPE_CLASSES", "AvpInfo", "avp_by_name", "enum_label",
           "register", "register_entry", "vendor_name"]
