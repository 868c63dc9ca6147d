"""The codec core: message header, AVP framing and value codecs.

Standard library only. The message API in :mod:`diameter.message` sits on top.
The hot loops (:mod:`.frame`, :mod:`.typed_slot`, :mod:`.typed`, :mod:`.typed_memo`, :mod:`.typed_encode`,
:mod:`.objects`, :mod:`.grammar`, :mod:`.assemble`) may be compiled extensions (mypyc); set ``DIAMETER_PURE_PYTHON=1``
to run their Python source even where the extensions are installed.
"""
from .source_switch import use_source as _use_source

_COMPILED_MODULES = ("frame", "objects", "typed_slot", "typed", "typed_memo", "typed_encode", "grammar",
                     "assemble")   # setup.py compiles these

_use_source(__name__, __file__, _COMPILED_MODULES)

from .errors import (AvpDecodeError,  # noqa: E402 (after the pure-Python switch) AvpEncodeError, ConversionError, DecodeError,
                     DiameterError, EncodeError, MessageDecodeError, MessageTooLarge,
                     UnknownAvpError)
from .wire import LIMITS, Limits, message_length, scan_avps, unpack_header  # noqa: E402

__all__ = [
    "AvpDecodeError", "AvpEncodeError", "ConversionError", "DecodeError", "DiameterError",
    "EncodeError", "MessageDecodeError", "MessageTooLarge", "UnknownAvpError", "LIMITS",
    "Limits", "message_length", "scan_avps", "unpack_header",
]
