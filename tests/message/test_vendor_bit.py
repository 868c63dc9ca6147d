"""An AVP read with the V bit keeps its Vendor-Id field when re-encoded, Vendor-Id 0 included."""
from __future__ import annotations

import struct

from diameter.message import Message
from diameter.message.avp import Avp
from diameter.node.protocol import avps as A

V_ZERO_KNOWN = struct.pack("!IIII", 1, 0x80 << 24 | 16, 0, 7)        # User-Name, V bit, Vendor-Id 0
V_ZERO_UNKNOWN = struct.pack("!IIII", 99999, 0x80 << 24 | 16, 0, 8)  # an unknown AVP, V bit, Vendor-Id 0


def test_avp_with_v_bit_and_vendor_zero_round_trips():
    for raw in (V_ZERO_KNOWN, V_ZERO_UNKNOWN):
        avp = Avp.from_bytes(raw)
        assert avp.flags & 0x80 and avp.vendor_id == 0
        assert avp.length == 16
        assert avp.as_bytes() == raw


def test_message_with_v_bit_vendor_zero_avp_keeps_it_when_rebuilt():
    avps = [A.text(263, "s;1"), A.text(264, "h"), A.text(296, "r"), A.text(283, "r"), A.u32(258, 4)]
    data = A.message(0x80, 272, 4, 1, 1, avps + [V_ZERO_KNOWN, V_ZERO_UNKNOWN])
    msg = Message.from_bytes(data)
    msg.origin_host = b"other"
    assert V_ZERO_KNOWN in msg.as_bytes() and V_ZERO_UNKNOWN in msg.as_bytes()
    copy = Message()  # AVPs moved one by one into another message (a proxy does this)
    copy.header.command_code, copy.header.application_id = 272, 4
    for a in msg.avps:
        copy.append_avp(a)
    out = copy.as_bytes()
    assert V_ZERO_KNOWN in out and V_ZERO_UNKNOWN in out
