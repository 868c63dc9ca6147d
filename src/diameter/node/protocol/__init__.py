"""Sans-IO Diameter node core: no sockets, no asyncio, time is passed in.

Every object here consumes bytes/messages plus a ``now`` timestamp and returns
bytes to send and events to act on, so each state, timer and error path can be
driven deterministically from tests.
"""
from .constants import *  # noqa: F401
from .framing import FrameDecoder, FramingError, parse_header  # noqa: F401
