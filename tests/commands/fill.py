"""Build instances of every typed command with every attribute set."""
from __future__ import annotations

import datetime
import importlib
import inspect
import pkgutil
from typing import Any

import diameter.message.commands as commands_pkg
from diameter.message._base import DefinedMessage
from diameter.message._binding import binding_of
from diameter.message.avp.dictionary import ENUMS

MAX_DEPTH = 3

# AVPs whose content Wireshark dissects further: values its sub-dissectors accept
# (3GPP TS 29.061, 29.272, 29.274, 23.040 formats), by AVP name.
SPECIFIC: dict[str, Any] = {
    "User-Name": "001010123456789",                       # an IMSI where S6a/S6d expects one
    "3GPP-IMSI-MCC-MNC": "00101",
    "3GPP-SGSN-MCC-MNC": "00101",
    "RAI": "00f1100001ff",
    "Visited-PLMN-Id": bytes.fromhex("00f110"),
    "Group-PLMN-Id": bytes.fromhex("00f110"),
    "3GPP-User-Location-Info": bytes.fromhex("0000f11000010001"),   # CGI
    "3GPP-TWAN-Identifier": b"\x00\x04ssid",
    "TMGI": bytes.fromhex("00000100f110"),
    "MBMS-Service-Area": bytes.fromhex("000001"),
    "User-Equipment-Info-Value": bytes.fromhex("5302180000000010"),  # IMEISV
    "Presence-Reporting-Area-Elements-List": bytes(6),
    # Wireshark types Login-IP-Host as a raw IPAddress (4 or 16 bytes), RFC 7155 as an
    # Address (family + address): a 16-byte Address (family 0x2001) reads well as both.
    "Login-IP-Host": (0x2001, "0db8000000000000000000000001"),
    "EAP-Payload": b"\x02\x01\x00\x09\x01user",              # EAP-Response/Identity
    "EAP-Reissued-Payload": b"\x02\x01\x00\x09\x01user",
}

# SM-RP-UI holds an SMS TPDU (3GPP TS 23.040) whose type Wireshark takes from the command.
_SMS_SUBMIT = bytes.fromhex("01000b911487000000f1000000")
_SMS_DELIVER = bytes.fromhex("040b911487000000f10000421020304050000000")
BY_COMMAND: dict[tuple[str, str], Any] = {
    ("MOForwardShortMessage", "SM-RP-UI"): _SMS_SUBMIT,
    ("MTForwardShortMessage", "SM-RP-UI"): _SMS_DELIVER,
}

SCALARS: dict[str, Any] = {
    "UTF8String": "text",
    "DiameterIdentity": b"host.example.net",
    "DiameterURI": "aaa://host.example.net:3868;transport=tcp",
    "OctetString": b"\x01\x02\x03\x04",
    "IPFilterRule": b"permit out ip from any to any",
    "QoSFilterRule": b"permit out ip from any to any",
    "Unsigned32": 1,
    "Unsigned64": 1,
    "Integer32": 1,
    "Integer64": 1,
    "Float32": 1.5,
    "Float64": 1.5,
    "Address": (1, "10.0.0.1"),
    "Time": datetime.datetime(2024, 1, 2, 3, 4, 5),
}


def message_classes() -> list[type]:
    """Every Request and Answer class of ``diameter.message.commands``, module by module."""
    out: list[type] = []
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for name, obj in sorted(vars(mod).items()):
            if (inspect.isclass(obj) and issubclass(obj, DefinedMessage)
                    and obj.__module__ == mod.__name__
                    and (name.endswith("Request") or name.endswith("Answer"))):
                out.append(obj)
    return out


def value_for(spec: Any, depth: int, command: str = "") -> Any:
    """A value of the right Python type for one attribute's AVP."""
    if spec.type_class is not None:
        return filled(spec.type_class, depth + 1, command)
    if (command, spec.avp_name) in BY_COMMAND:
        return BY_COMMAND[(command, spec.avp_name)]
    if spec.type_name == "Enumerated":
        names = ENUMS.get((spec.vendor, spec.code))
        return min(names) if names else 0
    if spec.avp_name in SPECIFIC:
        return SPECIFIC[spec.avp_name]
    return SCALARS[spec.type_name]


def type_conflict(spec: Any) -> bool:
    """An attribute bound to a grouped class while the dictionary types its AVP otherwise.

    Such an attribute can only encode a grouped payload under a non-grouped AVP
    (invalid on the wire); filled() leaves it unset and the test lists them.
    """
    return spec.type_class is not None and spec.type_name != "Grouped"


def filled(cls: type, depth: int = 0, command: str = "") -> Any:
    """An instance of a message or grouped class with every attribute set.

    Lists get one element (attributes with a type_conflict() stay unset); grouped members are filled recursively up to
    MAX_DEPTH levels (deeper grouped members stay empty instances).
    """
    obj = cls()
    if not command and hasattr(cls, "code"):
        command = cls.__name__.removesuffix("Request").removesuffix("Answer")
    if depth > MAX_DEPTH:
        return obj
    b = binding_of(cls)
    for spec in b.ordered:
        if type_conflict(spec):
            continue
        v = value_for(spec, depth, command)
        setattr(obj, spec.name, [v] if spec.name in b.list_names else v)
    return obj
