"""The codec core: message header, AVP framing and value codecs.

Standard library only. The message API in :mod:`diameter.message` sits on top.
"""
from .errors import (AvpDecodeError, AvpEncodeError, ConversionError, DecodeError,
                     DiameterError, EncodeError, MessageDecodeError, MessageTooLarge,
                     UnknownAvpError)
from .wire import LIMITS, Limits, message_length, scan_avps, unpack_header

__all__ = [
    "AvpDecodeError", "AvpEncodeError", "ConversionError", "DecodeError", "DiameterError",
    "EncodeError", "MessageDecodeError", "MessageTooLarge", "UnknownAvpError", "LIMITS",
    "Limits", "message_length", "scan_avps", "unpack_header",
]
