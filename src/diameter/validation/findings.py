"""Typed validation findings, one class per RFC 6733 Result-Code."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ValidationError", "AvpUnsupported", "InvalidAvpValue", "MissingAvp", "AvpNotAllowed",
    "AvpOccursTooManyTimes", "UnsupportedVersion", "InvalidAvpLength",
    "InvalidMessageLength", "CommandUnsupported", "InvalidHdrBits", "InvalidAvpBits",
    "RESULT_CODE_NAMES",
]

RESULT_CODE_NAMES = {
    3001: "DIAMETER_COMMAND_UNSUPPORTED",
    3008: "DIAMETER_INVALID_HDR_BITS",
    3009: "DIAMETER_INVALID_AVP_BITS",
    5001: "DIAMETER_AVP_UNSUPPORTED",
    5004: "DIAMETER_INVALID_AVP_VALUE",
    5005: "DIAMETER_MISSING_AVP",
    5008: "DIAMETER_AVP_NOT_ALLOWED",
    5009: "DIAMETER_AVP_OCCURS_TOO_MANY_TIMES",
    5011: "DIAMETER_UNSUPPORTED_VERSION",
    5014: "DIAMETER_INVALID_AVP_LENGTH",
    5015: "DIAMETER_INVALID_MESSAGE_LENGTH",
}


@dataclass(frozen=True)
class ValidationError:
    """One problem found in a message.

    ``avp`` is the encoded AVP that goes into the answer's Failed-AVP (a copy of
    the offending AVP, or for a missing AVP an example with a zero-filled
    payload); ``path`` lists ``(code, vendor, flags)`` of the grouped AVPs the
    offending AVP sits in, outermost first. ``offset`` is the byte offset in
    the message when known.
    """
    message: str
    code: int | None = None
    vendor: int | None = None
    avp: bytes | None = None
    path: tuple[tuple[int, int, int], ...] = ()
    offset: int | None = None
    result_code: int = field(default=0, init=False)

    #: True for the 3xxx protocol errors, answered with the E bit set.
    protocol_error = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "result_code", type(self).RESULT_CODE)

    RESULT_CODE = 0

    @property
    def result_name(self) -> str:
        return RESULT_CODE_NAMES.get(self.result_code, str(self.result_code))

    def __str__(self) -> str:
        where = ""
        if self.code is not None:
            where = f" [AVP {self.code}" + (f"/{self.vendor}" if self.vendor else "") + "]"
        return f"{self.result_code} {self.result_name}{where}: {self.message}"


def _kind(name: str, code: int, doc: str, protocol: bool = False) -> type[ValidationError]:
    cls = type(name, (ValidationError,), {"RESULT_CODE": code, "protocol_error": protocol,
                                          "__doc__": doc, "__module__": __name__})
    return dataclass(frozen=True)(cls)


CommandUnsupported = _kind("CommandUnsupported", 3001,
                           "The command code is not known for any application.", True)
InvalidHdrBits = _kind("InvalidHdrBits", 3008,
                       "Header flags invalid or inconsistent with the command.", True)
InvalidAvpBits = _kind("InvalidAvpBits", 3009,
                       "AVP flags inconsistent with the AVP's definition.", True)
AvpUnsupported = _kind("AvpUnsupported", 5001, "An unknown AVP with the M bit set.")
InvalidAvpValue = _kind("InvalidAvpValue", 5004, "An AVP whose data is not a valid value.")
MissingAvp = _kind("MissingAvp", 5005, "A required AVP is absent.")
AvpNotAllowed = _kind("AvpNotAllowed", 5008,
                      "An AVP the grammar does not allow (here or at this position).")
AvpOccursTooManyTimes = _kind("AvpOccursTooManyTimes", 5009,
                              "An AVP occurs more often than the grammar allows.")
UnsupportedVersion = _kind("UnsupportedVersion", 5011, "Header version is not 1.")
InvalidAvpLength = _kind("InvalidAvpLength", 5014,
                         "An AVP length that is inconsistent with the message or type.")
InvalidMessageLength = _kind("InvalidMessageLength", 5015, "A bad message length.")

BY_RESULT_CODE: dict[int, type[ValidationError]] = {
    c.RESULT_CODE: c for c in (CommandUnsupported, InvalidHdrBits, InvalidAvpBits,
                               AvpUnsupported, InvalidAvpValue, MissingAvp, AvpNotAllowed,
                               AvpOccursTooManyTimes, UnsupportedVersion, InvalidAvpLength,
                               InvalidMessageLength)}
