"""The codec core: message header, AVP framing and value codecs.

Standard library only. The message API in :mod:`diameter.message` sits on top.
The hot loops (:mod:`.frame`, :mod:`.typed`, :mod:`.objects`, :mod:`.grammar`)
may be compiled extensions (mypyc); set ``DIAMETER_PURE_PYTHON=1`` to run their
Python source even where the extensions are installed.
"""
import os as _os
import sys as _sys

_COMPILED_MODULES = ("frame", "objects", "typed", "grammar")   # setup.py compiles these

if _os.environ.get("DIAMETER_PURE_PYTHON") and __name__ + ".frame" not in _sys.modules:
    import importlib.util as _ilu
    from typing import Any as _Any
    for _name in _COMPILED_MODULES:   # in import order: each one's imports find the others
        _spec: _Any = _ilu.spec_from_file_location(
            f"{__name__}.{_name}", _os.path.join(_os.path.dirname(__file__), _name + ".py"))
        _mod = _ilu.module_from_spec(_spec)
        _sys.modules[_spec.name] = _mod
        _spec.loader.exec_module(_mod)

from .errors import (AvpDecodeError,  # noqa: E402 (after the pure-Python switch) AvpEncodeError, ConversionError, DecodeError,
                     DiameterError, EncodeError, MessageDecodeError, MessageTooLarge,
                     UnknownAvpError)
from .wire import LIMITS, Limits, message_length, scan_avps, unpack_header  # noqa: E402

__all__ = [
    "AvpDecodeError", "AvpEncodeError", "ConversionError", "DecodeError", "DiameterError",
    "EncodeError", "MessageDecodeError", "MessageTooLarge", "UnknownAvpError", "LIMITS",
    "Limits", "message_length", "scan_avps", "unpack_header",
]
