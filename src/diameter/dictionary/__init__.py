"""The Diameter dictionary: data files, generator, and run-time loading.

Run-time extension (see docs/dictionary.md):

- :func:`load_wireshark` reads a Wireshark XML file or folder into a
  :class:`Dictionary`;
- :func:`load_toml_and_register` does the same for files in the package's TOML format;
- :func:`register_dictionary` installs a :class:`Dictionary` in the running
  codec (:func:`install` returns the counts); :func:`load_and_register` does both;
- :func:`empty_runtime` empties the running dictionary for a ``with`` block,
  :func:`saved_runtime` undoes run-time additions when the block ends;
- ``diameter.message.avp.register(code, name, type_cls, vendor, mandatory)``
  (python-diameter's) adds a single AVP.

The names load lazily: importing the codec (which reads the generated tables
of this package) does not import the XML and TOML readers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import (InstallStats, empty_runtime, install, load_toml, load_toml_and_register,
                          saved_runtime)
    from .source import Dictionary, DictionaryDataError
    from .wireshark import (WiresharkDictionaryError, load_and_register, load_wireshark,
                            register_dictionary)

_LAZY = {
    "Dictionary": "source", "DictionaryDataError": "source",
    "WiresharkDictionaryError": "wireshark", "load_wireshark": "wireshark",
    "load_and_register": "wireshark", "register_dictionary": "wireshark",
    "InstallStats": "runtime", "empty_runtime": "runtime", "install": "runtime",
    "saved_runtime": "runtime", "load_toml": "runtime", "load_toml_and_register": "runtime",
}

__all__ = ["Dictionary", "DictionaryDataError", "InstallStats", "WiresharkDictionaryError",
           "empty_runtime", "install", "load_and_register", "load_toml", "load_toml_and_register",
           "load_wireshark",
           "register_dictionary", "saved_runtime"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f".{module}", __name__), name)
