"""Message API behaviour: byte-exact re-encoding, edits in place, errors, nesting limit."""
import struct

import pytest

from diameter.codec import LIMITS
from diameter.codec.errors import AvpDecodeError, DecodeError, MessageDecodeError
from diameter.codec.wire import encode_avp, pack_header
from diameter.message import Message, UndefinedMessage, constants as c, dump
from diameter.message.avp import Avp, AvpGrouped
from diameter.message.commands import CreditControlRequest


def wire(code, body, flags=0x80, app=0):
    return pack_header(1, 20 + len(body), flags, code, app, 1, 2) + body


def test_unknown_command_and_avps_roundtrip_and_attribute_view():
    body = (encode_avp(c.AVP_SESSION_ID, 0x40, 0, b"s;1")
            + encode_avp(99999, 0xE0, 4242, b"\x01\x02\x03")
            + encode_avp(c.AVP_ORIGIN_HOST, 0x40, 0, b"h"))
    data = wire(0xABCDE, body)
    msg = Message.from_bytes(data)
    assert isinstance(msg, UndefinedMessage)
    assert msg.session_id == "s;1"
    assert msg.as_bytes() == data
    assert "Unknown" in dump(msg)


def test_changed_attribute_is_reencoded_in_place_others_untouched():
    ccr = CreditControlRequest()
    ccr.session_id = "a;1"
    ccr.origin_host = b"h"
    ccr.origin_realm = b"r"
    ccr.cc_request_number = 1
    ccr.append_avp(Avp(7777, 99, b"xyz", 0x80))
    data = ccr.as_bytes()
    msg = Message.from_bytes(data)
    msg.cc_request_number = 2
    out = msg.as_bytes()
    assert len(out) == len(data)
    again = Message.from_bytes(out)
    assert again.cc_request_number == 2
    assert [a.code for a in again.avps] == [a.code for a in Message.from_bytes(data).avps]


def test_origin_host_carries_m_bit_in_ccr():
    ccr = CreditControlRequest()
    ccr.origin_host = b"h"
    avp = [a for a in ccr.avps if a.code == c.AVP_ORIGIN_HOST][0]
    assert avp.is_mandatory


def test_malformed_nested_avp_raises_typed_error_when_read():
    inner = struct.pack(">II", c.AVP_SUBSCRIPTION_ID_TYPE, 0x40000000 | 40)
    body = encode_avp(c.AVP_SUBSCRIPTION_ID, 0x40, 0, inner)
    msg = Message.from_bytes(wire(c.CMD_CREDIT_CONTROL, body, app=4))
    with pytest.raises(AvpDecodeError):
        _ = msg.subscription_id[0].subscription_id_type


def test_nesting_deeper_than_limit():
    payload = encode_avp(c.AVP_SESSION_ID, 0x40, 0, b"x")
    for _ in range(LIMITS.max_depth + 2):
        payload = encode_avp(c.AVP_PROXY_INFO, 0x40, 0, payload)
    msg = Message.from_bytes(wire(0xABCDE, payload))
    avp = msg.avps[0]
    with pytest.raises(AvpDecodeError, match="nesting"):
        while isinstance(avp, AvpGrouped):
            avp = avp.value[0]


@pytest.mark.parametrize("data", [b"", b"\x01\x00\x00", b"\x02" + b"\x00" * 19,
                                  wire(257, b"")[:-1], wire(257, b"\x00\x00\x00\x01\x00\x00")])
def test_bad_messages(data):
    with pytest.raises(DecodeError):
        Message.from_bytes(data)


def test_from_bytes_typed_error_is_conversion_error_family():
    from diameter.message.packer import ConversionError
    with pytest.raises(ConversionError):
        Message.from_bytes(b"\x01\x00\x00\x18" + b"\x00" * 16)
    assert issubclass(MessageDecodeError, ConversionError)


def test_session_id_is_encoded_first_whatever_the_attribute_order():
    from diameter.message.commands import UserAuthorizationRequest
    uar = UserAuthorizationRequest()
    uar.origin_host = b"h"
    uar.session_id = "s;1"
    assert Message.from_bytes(uar.as_bytes()).avps[0].code == c.AVP_SESSION_ID
