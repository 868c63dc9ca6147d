"""Messages as JSON-ready dicts and back, byte for byte (see docs/json.md).

``to_dict(msg)`` / ``to_json(msg)`` accept a ``Message`` or its bytes;
``from_dict(d)`` / ``from_json(s)`` return the decoded ``Message`` whose
``as_bytes()`` equals the original bytes. Values the JSON shape cannot
carry exactly (undecodable payloads, unknown AVPs, NaN floats...) are kept as
``"raw"`` hex, so nothing is lost.
"""
from __future__ import annotations

import datetime
import json
import math
import socket
import struct
from typing import TYPE_CHECKING, Any, cast

from .codec.errors import DecodeError, DiameterError
from .codec.frame import HEADER
from .codec.types import NTP_ERA1_OFFSET as _NTP_ERA1
from .codec.types import NTP_UNIX_OFFSET as _NTP_UNIX
from .codec.wire import LIMITS, encode_avp, scan_avps, unpack_header
from .dictionary import tables as _tables
from .dictionary import runtime as _runtime
from .message.avp import dictionary as _avpdict

if TYPE_CHECKING:
    from .dictionary.source import Dictionary

__all__ = ["to_dict", "to_json", "from_dict", "from_json", "JsonFormatError", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_NUMBERS = {"Integer32": ">i", "Integer64": ">q", "Unsigned32": ">I", "Unsigned64": ">Q",
            "Enumerated": ">i", "Float32": ">f", "Float64": ">d"}
_TEXT = ("UTF8String", "DiameterURI", "DiameterIdentity", "IPFilterRule", "QoSFilterRule")
_HDR_FLAGS = (("request", 0x80), ("proxyable", 0x40), ("error", 0x20), ("retransmit", 0x10))
_AVP_FLAGS = (("vendor", 0x80), ("mandatory", 0x40), ("private", 0x20))
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# Command and application names shown in the JSON view; run-time additions go
# here too (diameter.dictionary.runtime.install, through _RunningNames).
COMMAND_NAMES: dict[int, str] = {}
for _code, _app, _name, _flags, _abbr in _tables.COMMANDS:
    COMMAND_NAMES.setdefault(_code, _name)
APPLICATION_NAMES: dict[int, str] = {a[0]: a[1] for a in _tables.APPLICATIONS}


class _RunningNames:
    """The names above as part of the running dictionary (:mod:`diameter.dictionary.runtime`)."""

    def install(self, d: Dictionary, context: Dictionary | None) -> None:
        for app in d.applications.values():
            APPLICATION_NAMES[app.id] = app.name
        for c in d.commands:
            COMMAND_NAMES[c.code] = c.name

    def snapshot(self) -> object:
        return dict(COMMAND_NAMES), dict(APPLICATION_NAMES)

    def restore(self, state: object) -> None:
        commands, applications = cast("tuple[dict[int, str], dict[int, str]]", state)
        self.clear()
        COMMAND_NAMES.update(commands)
        APPLICATION_NAMES.update(applications)

    def clear(self) -> None:
        COMMAND_NAMES.clear()
        APPLICATION_NAMES.clear()


_runtime.attach(_RunningNames())


class JsonFormatError(DiameterError, ValueError):
    """A dict or JSON text that does not describe a Diameter message."""


# -- message -> dict ---------------------------------------------------------

def to_dict(msg: Any) -> dict[str, Any]:
    """The dict form of a message (a ``Message`` or its bytes); see docs/json.md."""
    data = bytes(msg) if isinstance(msg, (bytes, bytearray, memoryview)) else msg.as_bytes()
    version, length, flags, code, app, hbh, e2e = unpack_header(data)
    header = {
        "version": version, "length": length,
        "flags": _flags_dict(flags, _HDR_FLAGS, 0x0F),
        "command_code": code, "command_name": COMMAND_NAMES.get(code),
        "application_id": app, "application_name": APPLICATION_NAMES.get(app),
        "hop_by_hop_identifier": hbh, "end_to_end_identifier": e2e,
    }
    return {"format": FORMAT_VERSION, "header": header,
            "avps": _avps_to_list(data, 20, length, 0)}


def to_json(msg: Any, indent: int | None = 2) -> str:
    """``to_dict`` as JSON text."""
    return json.dumps(to_dict(msg), indent=indent, ensure_ascii=False)


def _flags_dict(flags: int, names: tuple[tuple[str, int], ...], reserved: int) -> dict[str, Any]:
    out: dict[str, Any] = {n: bool(flags & b) for n, b in names}
    out["reserved"] = flags & reserved
    return out


def _avps_to_list(buf: bytes, start: int, end: int, depth: int) -> list[dict[str, Any]]:
    return [_avp_to_dict(buf, e, depth) for e in scan_avps(buf, start, end)]


def _avp_to_dict(buf: bytes, e: tuple[int, int, int, int, int, int], depth: int) -> dict[str, Any]:
    code, vendor, flags, _s, ps, pe = e
    vk = (vendor, code)
    type_name = _avpdict.AVP_TYPE_NAMES.get(vk)
    entry = (_avpdict.AVP_DICTIONARY.get(code) if vendor == 0 else
             _avpdict.AVP_VENDOR_DICTIONARY.get(vendor, {}).get(code))
    d: dict[str, Any] = {
        "name": entry["name"] if entry else "Unknown", "code": code, "vendor_id": vendor,
        "vendor": _avpdict.VENDOR_NAMES.get(vendor) if vendor else None,
        "flags": _flags_dict(flags, _AVP_FLAGS, 0x1F), "type": type_name,
    }
    payload = buf[ps:pe]
    if type_name == "Grouped" and depth + 1 < LIMITS.max_depth:
        try:
            d["avps"] = _avps_to_list(buf, ps, pe, depth + 1)
            return d
        except DecodeError:
            pass
    elif type_name is not None:
        try:
            value = _value_to_json(type_name, payload)
        except (DecodeError, ValueError, OverflowError, OSError, struct.error):
            value = None
        if value is not None and _value_from_json(type_name, value) == payload:
            d["value"] = value
            if type_name == "Enumerated":
                names = _avpdict.ENUMS.get(vk)
                d["enum"] = names.get(value) if names else None
            return d
    d["raw"] = payload.hex()
    return d


def _value_to_json(type_name: str, payload: bytes) -> Any:
    fmt = _NUMBERS.get(type_name)
    if fmt is not None:
        value = struct.unpack(fmt, payload)[0]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    if type_name == "OctetString":
        return payload.hex()
    if type_name in _TEXT:
        return payload.decode("utf-8")
    if type_name == "Time":
        (seconds,) = struct.unpack(">I", payload)
        unix = seconds + _NTP_ERA1 if seconds < 0x80000000 else seconds - _NTP_UNIX
        return (_EPOCH + datetime.timedelta(seconds=unix)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if type_name == "Address":
        family = int.from_bytes(payload[:2], "big")
        if family == 1 and len(payload) == 6:
            return socket.inet_ntop(socket.AF_INET, payload[2:])
        if family == 2 and len(payload) == 18:
            return socket.inet_ntop(socket.AF_INET6, payload[2:])
        return None
    return None


# -- dict -> message ----------------------------------------------------------

def from_dict(d: dict[str, Any]) -> Any:
    """The message a ``to_dict`` dict describes (decoded, typed class when known)."""
    from .message import Message
    return Message.from_bytes(dict_to_bytes(d))


def from_json(text: str | bytes) -> Any:
    """``from_dict`` of JSON text."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise JsonFormatError(f"not JSON: {e}") from None
    return from_dict(d)


def dict_to_bytes(d: dict[str, Any]) -> bytes:
    """The wire bytes a ``to_dict`` dict describes (``header.length`` is recomputed)."""
    try:
        h = d["header"]
        flags = _flags_from(h.get("flags", {}), _HDR_FLAGS)
        body = b"".join(_avp_from_dict(a, 0) for a in d.get("avps", []))
        return HEADER.pack((int(h.get("version", 1)) << 24) | (20 + len(body)),
                            (flags << 24) | int(h["command_code"]),
                            int(h.get("application_id", 0)),
                            int(h.get("hop_by_hop_identifier", 0)),
                            int(h.get("end_to_end_identifier", 0))) + body
    except JsonFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, struct.error, OverflowError) as e:
        raise JsonFormatError(f"not a message dict: {type(e).__name__}: {e}") from None


def _flags_from(f: dict[str, Any], names: tuple[tuple[str, int], ...]) -> int:
    flags = int(f.get("reserved", 0))
    for n, bit in names:
        if f.get(n):
            flags |= bit
    return flags


def _avp_from_dict(a: dict[str, Any], depth: int) -> bytes:
    if depth >= LIMITS.max_depth:
        raise JsonFormatError("AVPs nested too deep")
    code = int(a["code"])
    vendor = int(a.get("vendor_id", 0))
    flags = _flags_from(a.get("flags", {"vendor": bool(vendor), "mandatory": False}), _AVP_FLAGS)
    if vendor and not flags & 0x80:
        raise JsonFormatError(f"AVP {code}: vendor_id {vendor} without the vendor flag")
    if "raw" in a:
        payload = bytes.fromhex(a["raw"])
    elif "avps" in a:
        payload = b"".join(_avp_from_dict(m, depth + 1) for m in a["avps"])
    elif "value" in a:
        type_name = a.get("type") or _avpdict.AVP_TYPE_NAMES.get((vendor, code))
        if type_name is None:
            raise JsonFormatError(f"AVP {code}/{vendor}: unknown type, give 'raw' hex")
        payload = _value_from_json(type_name, a["value"])
    else:
        raise JsonFormatError(f"AVP {code}/{vendor}: needs 'value', 'avps' or 'raw'")
    return encode_avp(code, flags, vendor, payload)


def _value_from_json(type_name: str, value: Any) -> bytes:
    fmt = _NUMBERS.get(type_name)
    if fmt is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise JsonFormatError(f"{type_name} value {value!r} is not a number")
        return struct.pack(fmt, value)
    if type_name == "OctetString":
        return bytes.fromhex(value)
    if type_name in _TEXT:
        if not isinstance(value, str):
            raise JsonFormatError(f"{type_name} value {value!r} is not a string")
        return value.encode("utf-8")
    if type_name == "Time":
        dt = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        unix = int((dt - _EPOCH).total_seconds())
        seconds = unix - _NTP_ERA1 if unix >= _NTP_ERA1 else unix + _NTP_UNIX
        return struct.pack(">I", seconds)
    if type_name == "Address":
        for family, af in ((1, socket.AF_INET), (2, socket.AF_INET6)):
            try:
                return family.to_bytes(2, "big") + socket.inet_pton(af, value)
            except OSError:
                continue
        raise JsonFormatError(f"Address {value!r} is not IPv4 or IPv6 text; give 'raw' hex")
    raise JsonFormatError(f"type {type_name!r} has no JSON value form; give 'raw' hex")
