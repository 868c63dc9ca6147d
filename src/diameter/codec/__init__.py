"""The codec core: message header, AVP framing and value codecs.

Standard library only. The message API in :mod:`diameter.message` sits on top.
:mod:`.core` may be a compiled extension (mypyc); set ``DIAMETER_PURE_PYTHON=1``
to run its Python source even where the extension is installed.
"""
import os as _os
import sys as _sys

if _os.environ.get("DIAMETER_PURE_PYTHON") and __name__ + ".core" not in _sys.modules:
    import importlib.util as _ilu
    from typing import Any as _Any
    _spec: _Any = _ilu.spec_from_file_location(
        __name__ + ".core", _os.path.join(_os.path.dirname(__file__), "core.py"))
    _core = _ilu.module_from_spec(_spec)
    _sys.modules[_spec.name] = _core
    _spec.loader.exec_module(_core)

from .errors import (AvpDecodeError, AvpEncodeError, ConversionError, DecodeError,
                     DiameterError, EncodeError, MessageDecodeError, MessageTooLarge,
                     UnknownAvpError)
from .wire import LIMITS, Limits, message_length, scan_avps, unpack_header

__all__ = [
    "AvpDecodeError", "AvpEncodeError", "ConversionError", "DecodeError", "DiameterError",
    "EncodeError", "MessageDecodeError", "MessageTooLarge", "UnknownAvpError", "LIMITS",
    "Limits", "message_length", "scan_avps", "unpack_header",
]
