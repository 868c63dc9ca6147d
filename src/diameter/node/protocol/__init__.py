"""Sans-IO Diameter node core: no sockets, no asyncio, time is passed in.

Every object here consumes bytes/messages plus a ``now`` timestamp and returns
bytes to send and events to act on, so each state, timer and error path can be
driven deterministically from tests.

The per-message state (:mod:`.framing`, :mod:`.watchdog`, :mod:`.dedup`,
:mod:`.pending`, :mod:`.connection`) may be compiled extensions (mypyc, like the
codec core); ``DIAMETER_PURE_PYTHON=1`` runs their Python source instead.
"""
import os as _os
import sys as _sys

_COMPILED_MODULES = ("framing", "watchdog", "dedup", "pending", "connection")   # setup.py compiles these

if _os.environ.get("DIAMETER_PURE_PYTHON") and __name__ + ".framing" not in _sys.modules:
    import importlib.util as _ilu
    from typing import Any as _Any
    for _name in _COMPILED_MODULES:   # in import order: each one's imports find the others
        _spec: _Any = _ilu.spec_from_file_location(
            f"{__name__}.{_name}", _os.path.join(_os.path.dirname(__file__), _name + ".py"))
        _mod = _ilu.module_from_spec(_spec)
        _sys.modules[_spec.name] = _mod
        _spec.loader.exec_module(_mod)

from .constants import (CMD_CAPABILITIES_EXCHANGE,  # noqa: E402 (after the pure-Python switch) CMD_DEVICE_WATCHDOG, CMD_DISCONNECT_PEER,
                        BASE_COMMANDS, FLAG_REQUEST, FLAG_PROXYABLE, FLAG_ERROR, FLAG_RETRANSMIT,
                        AVP_ACCT_APPLICATION_ID, AVP_AUTH_APPLICATION_ID, AVP_DESTINATION_HOST,
                        AVP_DESTINATION_REALM, AVP_DISCONNECT_CAUSE, AVP_ERROR_MESSAGE,
                        AVP_ERROR_REPORTING_HOST, AVP_FAILED_AVP, AVP_FIRMWARE_REVISION,
                        AVP_HOST_IP_ADDRESS, AVP_INBAND_SECURITY_ID, AVP_ORIGIN_HOST,
                        AVP_ORIGIN_REALM, AVP_ORIGIN_STATE_ID, AVP_PRODUCT_NAME, AVP_PROXY_INFO,
                        AVP_REDIRECT_HOST, AVP_REDIRECT_HOST_USAGE, AVP_REDIRECT_MAX_CACHE_TIME,
                        AVP_RESULT_CODE, AVP_ROUTE_RECORD, AVP_SESSION_ID, AVP_SUPPORTED_VENDOR_ID,
                        AVP_VENDOR_ID, AVP_VENDOR_SPECIFIC_APPLICATION_ID, APP_COMMON, APP_RELAY,
                        INBAND_NO_SECURITY, INBAND_TLS, DISCONNECT_REBOOTING, DISCONNECT_BUSY,
                        DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU, REDIRECT_DONT_CACHE,
                        REDIRECT_ALL_SESSION, REDIRECT_ALL_REALM, REDIRECT_REALM_AND_APPLICATION,
                        REDIRECT_ALL_APPLICATION, REDIRECT_ALL_HOST, REDIRECT_ALL_USER,
                        DIAMETER_SUCCESS, DIAMETER_LIMITED_SUCCESS, DIAMETER_COMMAND_UNSUPPORTED,
                        DIAMETER_UNABLE_TO_DELIVER, DIAMETER_REALM_NOT_SERVED, DIAMETER_TOO_BUSY,
                        DIAMETER_LOOP_DETECTED, DIAMETER_REDIRECT_INDICATION,
                        DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_INVALID_HDR_BITS,
                        DIAMETER_INVALID_AVP_BITS, DIAMETER_UNKNOWN_PEER,
                        DIAMETER_UNABLE_TO_COMPLY, DIAMETER_INVALID_MESSAGE_LENGTH,
                        DIAMETER_NO_COMMON_APPLICATION, DIAMETER_NO_COMMON_SECURITY,
                        DIAMETER_ELECTION_LOST, DIAMETER_MISSING_AVP, DIAMETER_UNSUPPORTED_VERSION,
                        DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_CER_SIZE)
from .framing import FrameDecoder, FramingError, parse_header  # noqa: E402

__all__ = [
    "CMD_CAPABILITIES_EXCHANGE", "CMD_DEVICE_WATCHDOG", "CMD_DISCONNECT_PEER", "BASE_COMMANDS",
    "FLAG_REQUEST", "FLAG_PROXYABLE", "FLAG_ERROR", "FLAG_RETRANSMIT",
    "AVP_ACCT_APPLICATION_ID", "AVP_AUTH_APPLICATION_ID", "AVP_DESTINATION_HOST",
    "AVP_DESTINATION_REALM", "AVP_DISCONNECT_CAUSE", "AVP_ERROR_MESSAGE",
    "AVP_ERROR_REPORTING_HOST", "AVP_FAILED_AVP", "AVP_FIRMWARE_REVISION",
    "AVP_HOST_IP_ADDRESS", "AVP_INBAND_SECURITY_ID", "AVP_ORIGIN_HOST", "AVP_ORIGIN_REALM",
    "AVP_ORIGIN_STATE_ID", "AVP_PRODUCT_NAME", "AVP_PROXY_INFO", "AVP_REDIRECT_HOST",
    "AVP_REDIRECT_HOST_USAGE", "AVP_REDIRECT_MAX_CACHE_TIME", "AVP_RESULT_CODE",
    "AVP_ROUTE_RECORD", "AVP_SESSION_ID", "AVP_SUPPORTED_VENDOR_ID", "AVP_VENDOR_ID",
    "AVP_VENDOR_SPECIFIC_APPLICATION_ID", "APP_COMMON", "APP_RELAY", "INBAND_NO_SECURITY",
    "INBAND_TLS", "DISCONNECT_REBOOTING", "DISCONNECT_BUSY",
    "DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU", "REDIRECT_DONT_CACHE", "REDIRECT_ALL_SESSION",
    "REDIRECT_ALL_REALM", "REDIRECT_REALM_AND_APPLICATION", "REDIRECT_ALL_APPLICATION",
    "REDIRECT_ALL_HOST", "REDIRECT_ALL_USER", "DIAMETER_SUCCESS", "DIAMETER_LIMITED_SUCCESS",
    "DIAMETER_COMMAND_UNSUPPORTED", "DIAMETER_UNABLE_TO_DELIVER", "DIAMETER_REALM_NOT_SERVED",
    "DIAMETER_TOO_BUSY", "DIAMETER_LOOP_DETECTED", "DIAMETER_REDIRECT_INDICATION",
    "DIAMETER_APPLICATION_UNSUPPORTED", "DIAMETER_INVALID_HDR_BITS",
    "DIAMETER_INVALID_AVP_BITS", "DIAMETER_UNKNOWN_PEER", "DIAMETER_UNABLE_TO_COMPLY",
    "DIAMETER_INVALID_MESSAGE_LENGTH", "DIAMETER_NO_COMMON_APPLICATION",
    "DIAMETER_NO_COMMON_SECURITY", "DIAMETER_ELECTION_LOST", "DIAMETER_MISSING_AVP",
    "DIAMETER_UNSUPPORTED_VERSION", "DEFAULT_MAX_MESSAGE_SIZE", "DEFAULT_MAX_CER_SIZE",
    "FrameDecoder", "FramingError", "parse_header"
]
