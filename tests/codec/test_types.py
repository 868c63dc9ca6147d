"""Value codecs of every RFC 6733 data type."""
import datetime
import math

import pytest

from diameter.codec import types as t
from diameter.codec.errors import AvpDecodeError, AvpEncodeError


@pytest.mark.parametrize("name,value,size", [
    ("Integer32", -2**31, 4), ("Integer32", 2**31 - 1, 4),
    ("Integer64", -2**63, 8), ("Integer64", 2**63 - 1, 8),
    ("Unsigned32", 0, 4), ("Unsigned32", 2**32 - 1, 4),
    ("Unsigned64", 2**64 - 1, 8), ("Enumerated", 3, 4),
    ("Float32", 1.5, 4), ("Float64", math.pi, 8),
])
def test_fixed_size_roundtrip(name, value, size):
    dec, enc = t.CODECS[name]
    data = enc(value)
    assert len(data) == size
    assert dec(data, 0, size) == value


@pytest.mark.parametrize("name,bad", [
    ("Integer32", 2**31), ("Integer32", "1"), ("Unsigned32", -1), ("Unsigned32", 2**32),
    ("Unsigned64", -1), ("Integer64", 2**63), ("Float32", "1.0"), ("Float64", None),
    ("OctetString", "text"), ("UTF8String", b"bytes"), ("UTF8String", 1),
    ("Time", 1700000000), ("Address", 12), ("Address", "300.1.1.1"), ("Address", "1:2:3"),
])
def test_encode_rejects_bad_values(name, bad):
    with pytest.raises(AvpEncodeError):
        t.CODECS[name][1](bad)


@pytest.mark.parametrize("name", ["Integer32", "Integer64", "Unsigned32", "Unsigned64",
                                  "Float32", "Float64", "Time"])
@pytest.mark.parametrize("size", [0, 3, 5, 9])
def test_wrong_size_for_fixed_types(name, size):
    with pytest.raises(AvpDecodeError, match="expected") as e:
        t.CODECS[name][0](b"\x00" * size, 0, size)
    assert e.value.result_code == 5014


def test_utf8():
    assert t.decode_utf8("grüezi".encode(), 0, 7) == "grüezi"
    with pytest.raises(AvpDecodeError, match="UTF-8") as e:
        t.decode_utf8(b"ab\xff", 0, 3)
    assert e.value.offset == 2 and e.value.result_code == 5004
    with pytest.raises(AvpEncodeError):
        t.encode_utf8("\udc80")


@pytest.mark.parametrize("value,raw", [
    ("10.0.0.1", b"\x00\x01\x0a\x00\x00\x01"),
    ("2001:db8::1", b"\x00\x02" + bytes.fromhex("20010db8000000000000000000000001")),
    ("41780000001", b"\x00\x08" + b"41780000001"),
])
def test_address_families(value, raw):
    assert t.encode_address(value) == raw
    fam, text = t.decode_address(raw, 0, len(raw))
    assert text == value and fam == int.from_bytes(raw[:2], "big")
    assert t.encode_address((fam, text)) == raw


def test_address_other_family_kept_raw():
    raw = b"\x00\x06" + bytes.fromhex("0011223344556677")   # 802 MAC family
    assert t.decode_address(raw, 0, len(raw)) == (6, "0011223344556677")
    assert t.encode_address((6, "0011223344556677")) == raw


@pytest.mark.parametrize("raw", [b"\x00", b"\x00\x01\x0a\x00", b"\x00\x02" + b"\x00" * 4])
def test_address_bad_lengths(raw):
    with pytest.raises(AvpDecodeError):
        t.decode_address(raw, 0, len(raw))


def test_time_1900_era_and_2036_rollover():
    utc = datetime.timezone.utc
    # 1970-01-01 is NTP 2208988800
    assert t.encode_time(datetime.datetime(1970, 1, 1, tzinfo=utc)) == (2208988800).to_bytes(4, "big")
    # the first second of NTP era 1 (2036-02-07 06:28:16 UTC) is 0
    start = datetime.datetime(2036, 2, 7, 6, 28, 16, tzinfo=utc)
    assert t.encode_time(start) == b"\x00\x00\x00\x00"
    # decoding gives local naive datetimes (python-diameter convention); compare as timestamps
    assert t.decode_time(b"\x00\x00\x00\x00", 0, 4).timestamp() == start.timestamp()
    later = datetime.datetime(2048, 2, 7, 6, 28, 16, tzinfo=utc)
    raw = t.encode_time(later)
    assert raw.hex() == "16925e80"
    assert t.decode_time(raw, 0, 4).timestamp() == later.timestamp()
    before = datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=utc)
    assert t.decode_time(t.encode_time(before), 0, 4).timestamp() == before.timestamp()
