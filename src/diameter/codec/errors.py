"""Typed errors of the codec.

Every error the package raises for bad input or bad values derives from
:class:`DiameterError`. Decoding errors carry the byte ``offset`` in the
message (or AVP buffer) where the problem was found and, when known, the
``avp_code`` and ``vendor_id`` of the AVP being decoded.
"""
from __future__ import annotations


class DiameterError(Exception):
    """Base class of every error raised by the diameter package."""


class DecodeError(DiameterError):
    """Bytes that are not a valid Diameter message or AVP."""

    def __init__(self, message: str, offset: int | None = None,
                 avp_code: int | None = None, vendor_id: int | None = None,
                 result_code: int = 5014) -> None:
        parts = [message]
        if avp_code is not None:
            parts.append(f"avp_code={avp_code}" + (f" vendor_id={vendor_id}" if vendor_id else ""))
        if offset is not None:
            parts.append(f"offset={offset}")
        super().__init__(" ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})")
        self.offset = offset
        self.avp_code = avp_code
        self.vendor_id = vendor_id
        # The RFC 6733 Result-Code a peer should answer with for this problem.
        self.result_code = result_code


class EncodeError(DiameterError, ValueError):
    """A value that cannot be encoded."""


class ConversionError(DecodeError):
    """Raised where python-diameter raised ``packer.ConversionError``."""


class MessageDecodeError(ConversionError):
    """A malformed message header or body."""


class AvpDecodeError(ConversionError):
    """An AVP whose header or payload cannot be decoded."""


class AvpEncodeError(EncodeError):
    """An AVP value that its type cannot encode."""


class MessageTooLarge(MessageDecodeError):
    """A message longer than the configured maximum size."""


class UnknownAvpError(DiameterError, ValueError):
    """An AVP (code, vendor) that the dictionary does not know."""
