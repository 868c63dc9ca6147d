"""A partial fill state (scalar attributes read alone) shares its empty ``snapl``, ``redo``
and ``defer`` (``codec.typed``): whatever is read or set next, they stay empty."""
import datetime

from diameter.codec import typed
from diameter.message import Message
from diameter.message.commands import CreditControlRequest


def _wire() -> bytes:
    ccr = CreditControlRequest()
    ccr.session_id = "s;1;2"
    ccr.origin_host = b"host"
    ccr.origin_realm = b"realm"
    ccr.destination_realm = b"dest"
    ccr.cc_request_type = 2
    ccr.cc_request_number = 7
    ccr.event_timestamp = datetime.datetime(2024, 5, 1, 12, 0, 0)
    ccr.add_subscription_id(0, "41780000001")
    return ccr.as_bytes()


def _shared_are_empty() -> bool:
    return not typed._NO_SNAPL and not typed._NO_REDO and not typed._NO_DEFER


def test_partial_reads_then_whole_decoding_leave_the_shared_empties_empty():
    wire = _wire()
    for follow in ("list", "deferred", "set", "many"):
        msg = Message.from_bytes(wire)
        b = typed.BINDINGS.get(type(msg))
        if b is not None:
            b.partial_score = 0     # first reads of the class read alone again
        assert msg.session_id == "s;1;2"
        assert msg.cc_request_number == 7
        st = msg.__dict__.get("_st")
        if typed.COMPILED:      # the compiled build reads scalars alone
            assert st is not None and st.partial and st.snapl is typed._NO_SNAPL
        if follow == "list":
            assert [s.subscription_id_data for s in msg.subscription_id] == ["41780000001"]
        elif follow == "deferred":
            assert msg.event_timestamp == datetime.datetime(2024, 5, 1, 12, 0, 0)
        elif follow == "set":
            msg.user_name = "added"
            msg.subscription_id.clear()
        else:
            for name in ("origin_host", "origin_realm", "destination_realm", "cc_request_type",
                         "service_context_id", "user_name", "destination_host", "auth_application_id",
                         "termination_cause", "requested_action"):
                getattr(msg, name)
        assert Message.from_bytes(msg.as_bytes()).cc_request_number == 7
        assert _shared_are_empty(), follow
        st = msg.__dict__.get("_st")
        assert st is None or st.partial or st.snapl is not typed._NO_SNAPL
