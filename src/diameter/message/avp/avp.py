"""AVP classes: one per data type, python-diameter compatible.

An ``Avp`` holds its code, flags, vendor id and encoded ``payload``; the
``value`` property of each subclass converts between the payload and a Python
value. Grouped AVPs decode their members only when ``value`` is first read.
"""
from __future__ import annotations

from typing import Any, TypeVar

from ...codec import objects as _core
from ...codec import types as _t
from ...codec.errors import AvpDecodeError, AvpEncodeError, DecodeError, UnknownAvpError
from ...codec.wire import encode_avp, scan_avps
from .tables import (AVP_DICTIONARY, AVP_VENDOR_DICTIONARY, AvpInfo, enum_label, register_entry,
                     vendor_name)

__all__ = [
    "Avp", "AvpAddress", "AvpEnumerated", "AvpFloat32", "AvpFloat64", "AvpGrouped",
    "AvpInteger32", "AvpInteger64", "AvpOctetString", "AvpTime", "AvpUnsigned32",
    "AvpUnsigned64", "AvpUtf8String", "get_avp_dictionary_entry", "register",
    "AvpDecodeError", "AvpEncodeError",
]


class Avp:
    """A single AVP of any type; the type subclasses convert ``value``.

    Build AVPs with :meth:`Avp.new` (type, name and M flag from the dictionary)
    or decode them with :meth:`Avp.from_bytes`.
    """
    __slots__ = ("code", "flags", "payload", "name", "_vendor_id", "__weakref__")

    avp_flag_vendor = 0x80
    avp_flag_mandatory = 0x40
    avp_flag_private = 0x20
    type_name = "OctetString"

    def __init__(self, code: int = 0, vendor_id: int = 0, payload: bytes = b"",
                 flags: int = 0) -> None:
        self.code = code
        self.flags = flags
        self.payload = payload
        self._vendor_id = 0
        self.vendor_id = vendor_id
        entry = get_avp_dictionary_entry(code, vendor_id)
        self.name = entry["name"] if entry is not None else "Unknown"

    # -- construction -----------------------------------------------------
    @classmethod
    def new(cls, avp_code: int, vendor_id: int = 0, value: Any = None,
            is_mandatory: bool | None = None, is_private: bool | None = None) -> Any:
        """Create an AVP of the dictionary's type for (code, vendor), optionally with a value.

        Raises ``UnknownAvpError`` (a ``ValueError``) when the dictionary does not know
        the (code, vendor) pair, ``AvpEncodeError`` when the value does not fit the type.
        """
        entry = get_avp_dictionary_entry(avp_code, vendor_id)
        if entry is None:
            raise UnknownAvpError(f"AVP code {avp_code} with vendor {vendor_id} is unknown")
        avp_type = entry["type"]
        avp = avp_type.__new__(avp_type)
        avp.code = avp_code
        avp.payload = b""
        avp._vendor_id = vendor_id
        avp.flags = 0x80 if vendor_id else 0
        avp.name = entry["name"]
        mandatory = entry.get("mandatory") if is_mandatory is None else is_mandatory
        if mandatory:
            avp.flags |= 0x40
        if is_private:
            avp.flags |= 0x20
        if value is not None:
            try:
                if isinstance(avp, AvpGrouped) and not isinstance(value, list):
                    value = [value]
                avp.value = value
            except AvpEncodeError as e:
                raise AvpEncodeError(
                    f"failed to set value of AVP {avp.name} ({avp_code}) to {value!r}: {e}"
                ) from None
        return avp

    @classmethod
    def from_bytes(cls, avp_data: bytes) -> Any:
        """Decode the first AVP in ``avp_data`` (further bytes are ignored)."""
        data = bytes(avp_data)
        try:
            if len(data) < 8:
                raise AvpDecodeError("truncated AVP header", 0)
            length = int.from_bytes(data[5:8], "big")
            end = min(len(data), (length + 3) & ~3)
            if end < length:
                raise AvpDecodeError(f"AVP length {length} overruns the {len(data)} bytes given",
                                     0, int.from_bytes(data[0:4], "big"))
            entries = scan_avps(data, 0, end)
        except DecodeError as e:
            if isinstance(e, AvpDecodeError):
                raise
            raise AvpDecodeError(str(e), e.offset, e.avp_code) from None
        return _avp_from_entry(data, entries[0])

    @classmethod
    def from_avp(cls, another_avp: Avp) -> Any:
        """A deep copy of another AVP."""
        return Avp.from_bytes(another_avp.as_bytes())

    # -- encoding ---------------------------------------------------------
    def as_bytes(self) -> bytes:
        """The AVP on the wire: header, payload and zero padding."""
        payload = self._payload_for_encode()
        if not isinstance(payload, (bytes, bytearray)):
            raise AvpEncodeError(f"{self.name} payload {payload!r} is not bytes")
        return encode_avp(self.code, self.flags, self._vendor_id, payload)

    def as_packed(self, packer: Any) -> Any:
        """Append the encoded AVP to a python-diameter style ``Packer``."""
        packer._parts.append(self.as_bytes())
        return packer

    def _payload_for_encode(self) -> bytes:
        return self.payload

    # -- flags and properties ----------------------------------------------
    @property
    def vendor_id(self) -> int:
        return self._vendor_id

    @vendor_id.setter
    def vendor_id(self, value: int) -> None:
        if value:
            self.flags |= 0x80
        else:
            self.flags &= ~0x80
        self._vendor_id = value

    @property
    def is_vendor(self) -> bool:
        return self._vendor_id != 0

    @property
    def is_mandatory(self) -> bool:
        return bool(self.flags & 0x40)

    @is_mandatory.setter
    def is_mandatory(self, value: bool) -> None:
        self.flags = self.flags | 0x40 if value else self.flags & ~0x40

    @property
    def is_private(self) -> bool:
        return bool(self.flags & 0x20)

    @is_private.setter
    def is_private(self, value: bool) -> None:
        self.flags = self.flags | 0x20 if value else self.flags & ~0x20

    @property
    def length(self) -> int:
        """Length of header and payload, without padding (the AVP Length field)."""
        return (12 if self._vendor_id or self.flags & 0x80 else 8) + len(self._payload_for_encode())

    @property
    def value(self) -> Any:
        return self.payload

    @value.setter
    def value(self, new_value: Any) -> None:
        self.payload = new_value

    # -- presentation -----------------------------------------------------
    def _flags(self) -> list[str]:
        return [f if self.flags & bit else "-" for f, bit in (("V", 0x80), ("M", 0x40), ("P", 0x20))]

    def __str__(self) -> str:
        try:
            own = self.value
        except DecodeError:
            own = "(invalid)"
        val = ""
        if not isinstance(own, list):
            val = f", Val: {own}"
            label = enum_label(self.code, self._vendor_id, own)
            if label is not None:
                val += f" ({label})"
        vnd = f", Vnd: {vendor_name(self._vendor_id)}" if self._vendor_id else ""
        return (f"{self.name} <Code: 0x{self.code:02x}, Flags: 0x{self.flags:02x} "
                f"({''.join(self._flags())}), Length: {self.length}{vnd}{val}>")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Avp):
            return NotImplemented
        return (self.code == other.code and self._vendor_id == other._vendor_id
                and self.flags == other.flags
                and self._payload_for_encode() == other._payload_for_encode())

    __hash__ = None  # type: ignore[assignment]


_FAST_GETTERS = {"OctetString": _core.value_octets, "UTF8String": _core.value_utf8,
                 "Unsigned32": _core.value_u32, "Integer32": _core.value_i32,
                 "Unsigned64": _core.value_u64, "Integer64": _core.value_i64}


def _typed(type_name: str, doc: str) -> type[Avp]:
    decode, encode = _t.CODECS[type_name]

    def getter(self: Avp) -> Any:
        p = self.payload
        try:
            return decode(p, 0, len(p))
        except AvpDecodeError as e:
            raise AvpDecodeError(f"{self.name} value {p!r}: {e}", None, self.code,
                                 self._vendor_id, e.result_code) from None
        except TypeError:
            raise AvpDecodeError(f"{self.name} payload {p!r} is not bytes", None,
                                 self.code, self._vendor_id) from None

    def setter(self: Avp, new_value: Any) -> None:
        try:
            self.payload = encode(new_value)
        except AvpEncodeError as e:
            raise AvpEncodeError(f"{self.name}: {e}") from None

    return type(f"Avp{type_name}", (Avp,), {
        "__slots__": (), "__doc__": doc, "type_name": type_name,
        "value": property(_FAST_GETTERS.get(type_name, getter), setter, doc=doc)})


AvpOctetString = _typed("OctetString", "Arbitrary bytes.")
AvpInteger32 = _typed("Integer32", "A signed 32-bit integer.")
AvpInteger64 = _typed("Integer64", "A signed 64-bit integer.")
AvpUnsigned32 = _typed("Unsigned32", "An unsigned 32-bit integer.")
AvpUnsigned64 = _typed("Unsigned64", "An unsigned 64-bit integer.")
AvpFloat32 = _typed("Float32", "A 32-bit IEEE 754 float.")
AvpFloat64 = _typed("Float64", "A 64-bit IEEE 754 float.")
AvpUtf8String = _typed("UTF8String", "A UTF-8 string, as ``str``.")
AvpUtf8String.__name__ = AvpUtf8String.__qualname__ = "AvpUtf8String"
AvpTime = _typed("Time", "NTP seconds as a ``datetime`` (2036 rollover handled, RFC 2030).")
AvpAddress = _typed("Address", "(family, text): IPv4, IPv6, E.164 or raw hex for other families.")
AvpEnumerated = AvpInteger32
"""Enumerated is an Integer32 (python-diameter: an alias, kept so)."""

for _cls in (AvpOctetString, AvpInteger32, AvpInteger64, AvpUnsigned32, AvpUnsigned64,
             AvpFloat32, AvpFloat64, AvpUtf8String, AvpTime, AvpAddress):
    _cls.__module__ = __name__


class AvpGrouped(Avp):
    """A Grouped AVP; ``value`` is the list of member AVPs, decoded on first read."""
    __slots__ = ("_avps", "_depth")
    type_name = "Grouped"

    def __init__(self, code: int = 0, vendor_id: int = 0, payload: bytes = b"",
                 flags: int = 0) -> None:
        super().__init__(code, vendor_id, payload, flags)
        self._avps = None

    def _set_value(self, new_value: list[Avp]) -> None:
        if not isinstance(new_value, list):
            raise AvpEncodeError(f"{self.name} value {new_value!r} is not a list of AVPs")
        parts = []
        for a in new_value:
            if not isinstance(a, Avp):
                raise AvpEncodeError(f"{self.name} member {a!r} is not an AVP")
            parts.append(a.as_bytes())
        self._avps = new_value
        self.payload = b"".join(parts)

    value = property(_core.grouped_value, _set_value,
                     doc="The member AVPs, decoded from the payload on first read.")

    def _payload_for_encode(self) -> bytes:
        avps = getattr(self, "_avps", None)
        if avps is None:
            return self.payload
        return b"".join(a.as_bytes() for a in avps)


def _avp_from_entry(buf: bytes, entry: tuple[int, int, int, int, int, int],
                    depth: int = 0) -> Any:
    """The Avp object of one located AVP (see ``codec.objects.make_avps``)."""
    return _core.make_avps(buf, [entry], depth)[0]


_AnyAvpType = TypeVar("_AnyAvpType", bound=Avp)

_core.AVP_TABLES.base = AVP_DICTIONARY
_core.AVP_TABLES.vendors = AVP_VENDOR_DICTIONARY
_core.AVP_TABLES.plain = Avp
_core.AVP_TABLES.grouped = AvpGrouped
make_avps = _core.make_avps


def _lookup(code: int, vendor: int) -> AvpInfo | None:
    if vendor == 0:
        return AVP_DICTIONARY.get(code)
    v = AVP_VENDOR_DICTIONARY.get(vendor)
    return v.get(code) if v is not None else None


def get_avp_dictionary_entry(avp_code: int, vendor_id: int = 0) -> AvpInfo | None:
    """The dictionary entry ``{"name", "type", "mandatory", "vendor"}`` for (code, vendor)."""
    return _lookup(avp_code, vendor_id)


def register(avp: int, name: str, type_cls: type[Avp], vendor: int | None = None,
             mandatory: bool | None = None) -> None:
    """Add or replace one AVP definition in the running dictionary."""
    register_entry(avp, name, type_cls, vendor or 0, mandatory)
