"""RFC 4006 credit-control sessions on the Diameter node.

* :mod:`diameter.cc.types` - value types (Units, Grant, CCRequest, CCResult, enums);
* :mod:`diameter.cc.server_core`, :mod:`diameter.cc.client_core`, :mod:`diameter.cc.event_core`
  (with :mod:`diameter.cc.actions` and :mod:`diameter.cc.quota`) - sans-IO state machines
  (events and ``now`` in, messages and deadlines out);
* :mod:`diameter.cc.wire`, :mod:`diameter.cc.fastwire`, :mod:`diameter.cc.encode` - CCR/CCA to and
  from the value types;
* :mod:`diameter.cc.server` - ``CreditControlServer`` on an asyncio ``DiameterNode``;
* :mod:`diameter.cc.client` - ``CreditControlClient`` (sessions and one-shot events);
* :mod:`diameter.cc.threaded` - the same for the python-diameter-style threaded ``Node``.

The AVP readers (:mod:`.fastwire`, :mod:`.ccr_walk`) and the server's state machine
(:mod:`.server_core`) may be a compiled extension (mypyc, like the codec core);
``DIAMETER_PURE_PYTHON=1`` runs their Python source. See docs/credit-control.md.
"""
from __future__ import annotations

from diameter.codec.source_switch import use_source as _use_source

_COMPILED_MODULES = ("fastwire", "ccr_walk", "server_core")   # setup.py compiles these

_use_source(__name__, __file__, _COMPILED_MODULES)

# the imports below come after the pure-Python switch
from .actions import ClientState, Decision, Notice, NoticeKind, Outcome, SessionStateError  # noqa: E402
from .client import CCEvent, CCSession, CreditControlClient  # noqa: E402
from .server import CreditControlHandler, CreditControlServer, UnknownSession  # noqa: E402
from .server_core import ServerCore, ServerSession, ServerState  # noqa: E402
from .types import (CCFH, DDFH, CCAnswer, CCRequest, CCResult, FinalUnit, FinalUnitAction, Grant, Money,  # noqa: E402
                    MsccRequest, ReportingReason, RequestedAction, RequestType, Units)

__all__ = ["CCFH", "DDFH", "CCAnswer", "CCEvent", "CCRequest", "CCResult", "CCSession", "ClientState",
           "CreditControlClient", "CreditControlHandler", "CreditControlServer", "Decision", "FinalUnit",
           "FinalUnitAction", "Grant", "Money", "MsccRequest", "Notice", "NoticeKind", "Outcome",
           "ReportingReason", "RequestType", "RequestedAction", "ServerCore", "ServerSession", "ServerState",
           "SessionStateError", "Units", "UnknownSession"]
