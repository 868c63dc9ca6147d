"""AVP types, the run-time dictionary and the attribute generator (python-diameter API)."""
from __future__ import annotations

from . import avp, errors, generator
from .avp import (Avp, AvpAddress, AvpEnumerated, AvpFloat32, AvpFloat64, AvpGrouped,
                  AvpInteger32, AvpInteger64, AvpOctetString, AvpTime, AvpUnsigned32,
                  AvpUnsigned64, AvpUtf8String, get_avp_dictionary_entry, register)
from .dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY, VENDOR_NAMES as VENDORS, avp_by_name
from .errors import AvpDecodeError, AvpEncodeError

__all__ = [
    "avp", "errors", "generator", "Avp", "AvpAddress", "AvpEnumerated", "AvpFloat32",
    "AvpFloat64", "AvpGrouped", "AvpInteger32", "AvpInteger64", "AvpOctetString", "AvpTime",
    "AvpUnsigned32", "AvpUnsigned64", "AvpUtf8String", "get_avp_dictionary_entry", "register",
    "AVP_DICTIONARY", "AVP_VENDOR_DICTIONARY", "VENDORS", "avp_by_name", "AvpDecodeError", "AvpEncodeError",
]
