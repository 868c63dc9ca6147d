"""Header and AVP framing: valid input and every kind of malformed input."""
import struct

import pytest

from diameter.codec import LIMITS, scan_avps, unpack_header
from diameter.codec.errors import (AvpDecodeError, DecodeError, DiameterError,
                                   MessageDecodeError, MessageTooLarge)
from diameter.codec.wire import avp_header, encode_avp, pack_header


def avp(code, payload, flags=0x40, vendor=0):
    return encode_avp(code, flags, vendor, payload)


def msg(body, flags=0x80, code=257, app=0, hbh=1, e2e=2, version=1, length=None):
    n = 20 + len(body) if length is None else length
    return pack_header(version, n, flags, code, app, hbh, e2e) + body


def test_header_fields_roundtrip():
    body = avp(264, b"host.example")
    data = msg(body, flags=0xC0 | 0x10, code=272, app=4, hbh=0xDEADBEEF, e2e=0xCAFEBABE)
    assert unpack_header(data) == (1, len(data), 0xD0, 272, 4, 0xDEADBEEF, 0xCAFEBABE)


def test_reserved_header_bits_are_kept():
    data = msg(b"", flags=0x8F)
    assert unpack_header(data)[2] == 0x8F


def test_24_bit_command_code_and_length():
    data = msg(b"", code=0xFFFFFF)
    assert unpack_header(data)[3] == 0xFFFFFF


@pytest.mark.parametrize("data,fragment", [
    (b"", "shorter than its header"),
    (b"\x01\x00\x00\x14" + b"\x00" * 10, "shorter than its header"),
])
def test_truncated_header(data, fragment):
    with pytest.raises(MessageDecodeError, match=fragment) as e:
        unpack_header(data)
    assert e.value.offset == 0


def test_version_must_be_1():
    with pytest.raises(MessageDecodeError, match="version") as e:
        unpack_header(msg(b"", version=2))
    assert e.value.result_code == 5011


def test_length_must_match_bytes():
    data = msg(avp(1, b"abcd"))
    with pytest.raises(MessageDecodeError, match="does not match"):
        unpack_header(data + b"\x00\x00\x00\x00")
    with pytest.raises(MessageDecodeError, match="does not match"):
        unpack_header(data[:-4])


def test_length_must_be_multiple_of_4():
    data = msg(b"\x00\x00", length=22)
    with pytest.raises(MessageDecodeError, match="invalid message length"):
        unpack_header(data)


def test_maximum_message_size():
    old = LIMITS.max_message_size
    LIMITS.max_message_size = 64
    try:
        with pytest.raises(MessageTooLarge):
            unpack_header(msg(avp(1, b"x" * 100)))
    finally:
        LIMITS.max_message_size = old


def test_scan_finds_avps_with_vendor_and_padding():
    body = avp(263, b"abc") + avp(1000, b"\x00\x00\x00\x01", flags=0xC0, vendor=10415)
    entries = scan_avps(body, 0, len(body))
    assert entries == [(263, 0, 0x40, 0, 8, 11), (1000, 10415, 0xC0, 12, 24, 28)]


def test_avp_header_lengths():
    assert len(avp_header(1, 0x40, 0, 4)) == 8
    assert struct.unpack(">II", avp_header(1, 0x40, 0, 4)) == (1, 0x40000000 | 12)
    assert struct.unpack(">III", avp_header(1, 0x40, 5, 4)) == (1, 0xC0000000 | 16, 5)


@pytest.mark.parametrize("body,fragment,offset", [
    (b"\x00\x00\x01\x07\x40\x00", "truncated AVP header", 0),
    (struct.pack(">II", 263, 0x40000000 | 7), "shorter than its header", 0),
    (struct.pack(">II", 263, 0x40000000 | 4) + b"\x00" * 4, "shorter than its header", 0),
    (struct.pack(">III", 263, 0xC0000000 | 10, 10415), "too short for a vendor AVP", 0),
    (struct.pack(">II", 263, 0x40000000 | 40) + b"abcd", "overruns", 0),
    (struct.pack(">II", 263, 0x40000000 | 9) + b"a\x01\x00\x00", "non-zero AVP padding", 9),
    (struct.pack(">II", 263, 0x40000000 | 9) + b"a", "padding missing", 9),
])
def test_malformed_avps(body, fragment, offset):
    with pytest.raises(AvpDecodeError, match=fragment) as e:
        scan_avps(body, 0, len(body))
    assert e.value.offset == offset
    assert e.value.avp_code in (None, 263)
    assert isinstance(e.value, DecodeError) and isinstance(e.value, DiameterError)


def test_avp_overrunning_parent_inside_group():
    inner = struct.pack(">II", 1, 0x40000000 | 20) + b"abcd"
    # the group's payload is only 12 bytes; the inner AVP claims 20
    with pytest.raises(AvpDecodeError, match="overruns"):
        scan_avps(inner, 0, len(inner))


def test_error_offsets_are_absolute():
    body = avp(1, b"abcd") + struct.pack(">II", 263, 0x40000000 | 3)
    with pytest.raises(AvpDecodeError) as e:
        scan_avps(body, 0, len(body))
    assert e.value.offset == 12 and e.value.avp_code == 263
