"""Grammar validation of Diameter messages and RFC 6733 error answers.

``validate(msg_or_bytes)`` returns typed findings (:mod:`.findings`), each with
the Result-Code RFC 6733 assigns; ``error_answer(request, finding, ...)`` builds
the answer that reports one. See docs/validation.md.
"""
from .answer import error_answer, failed_avp
from .check import example_avp, validate
from .findings import (RESULT_CODE_NAMES, AvpNotAllowed, AvpOccursTooManyTimes, AvpUnsupported,
                       CommandUnsupported, InvalidAvpBits, InvalidAvpLength, InvalidAvpValue,
                       InvalidHdrBits, InvalidMessageLength, MissingAvp, UnsupportedVersion,
                       ValidationError)
from .rules import Grammar, RuleSet, default_rules

__all__ = [
    "validate", "error_answer", "failed_avp", "example_avp", "RuleSet", "Grammar",
    "default_rules", "ValidationError", "AvpNotAllowed", "AvpOccursTooManyTimes",
    "AvpUnsupported", "CommandUnsupported", "InvalidAvpBits", "InvalidAvpLength",
    "InvalidAvpValue", "InvalidHdrBits", "InvalidMessageLength", "MissingAvp",
    "UnsupportedVersion", "RESULT_CODE_NAMES",
]
