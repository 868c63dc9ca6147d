"""Diameter messages: python-diameter 0.9.0's message API over a fast codec.

``Message.from_bytes`` decodes bytes into the typed command class,
``as_bytes`` encodes, ``dump`` renders a message as text.
"""
from __future__ import annotations

from ..codec.errors import (AvpDecodeError, AvpEncodeError, ConversionError, DecodeError,
                            DiameterError, EncodeError, MessageDecodeError)
from . import constants
from ._base import DefinedMessage, Message, MessageHeader, UndefinedMessage, UnknownAttributeWarning
from .avp import Avp, AvpGrouped

__all__ = [
    "Message", "MessageHeader", "DefinedMessage", "UndefinedMessage", "Avp", "AvpGrouped",
    "dump", "constants", "DiameterError", "DecodeError", "EncodeError", "ConversionError",
    "MessageDecodeError", "AvpDecodeError", "AvpEncodeError", "UnknownAttributeWarning",
]


def _dump_avps(avps: list[Avp], indent: str) -> list[str]:
    lines = []
    for a in avps:
        lines.append(f"{indent}{a}")
        if isinstance(a, AvpGrouped):
            try:
                members = a.value
            except DecodeError as e:
                lines.append(f"{indent}  (undecodable group: {e})")
                continue
            lines.extend(_dump_avps(members, indent + "  "))
    return lines


def dump(msg: Message) -> str:
    """A readable, indented text rendering of a message and all its AVPs.

    Shows AVP names, codes (hex), flags (V, M, P), lengths, vendor names,
    values and Enumerated value names from the dictionary; unknown AVPs read
    "Unknown".
    """
    return "\n".join([str(msg), *_dump_avps(msg.avps, "  ")]) + "\n"


try:  # the generated command package gives the command registries their (lazy) index
    from . import commands as _commands  # noqa: F401,E402
except ImportError:  # before the first generation
    pass
