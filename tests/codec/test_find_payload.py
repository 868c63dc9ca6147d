"""codec.frame.find_payload / find_u32 (the node's AVP look-ups) on good and malformed bytes."""

import random
import struct

from diameter.codec import frame
from diameter.codec.frame import encode_avp, find_payload, find_u32
from diameter.node.protocol import avps


def _body() -> bytes:
    return (encode_avp(263, 0x40, 0, b"s;1") + encode_avp(268, 0x40, 0, struct.pack("!I", 2001))
            + encode_avp(1, 0xC0, 10415, b"v-avp"))


def test_finds_plain_and_vendor_avps():
    buf = bytes(20) + _body()
    assert find_payload(buf, 263, 0, 20, len(buf)) == b"s;1"
    assert find_payload(buf, 1, 10415, 20, len(buf)) == b"v-avp"
    assert find_payload(buf, 1, 0, 20, len(buf)) is None
    assert find_u32(buf, 268, 20, len(buf)) == 2001
    assert find_u32(buf, 263, 20, len(buf)) == -1  # not 4 bytes
    assert avps.find_u32(buf, 268) == 2001
    assert avps.find(buf, 999) is None


def test_malformed_bytes_give_none_never_an_exception():
    good = bytes(20) + _body()
    rng = random.Random(4006)
    cases = [good[:n] for n in range(len(good))]
    cases += [bytes(20) + struct.pack("!II", 268, 0x40000003) + b"\0" * 8,  # length < 8
              bytes(20) + struct.pack("!II", 268, 0x40000FFF) + b"\0" * 8,  # past the end
              bytes(20) + struct.pack("!II", 1, 0x80000009) + b"\0"]  # vendor bit, no vendor id
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(20, len(b))] = rng.randrange(256)
        cases.append(bytes(b))
    for buf in cases:
        for code in (263, 268, 1, 999):
            got = find_payload(buf, code, 0, 20, len(buf))
            assert got == frame._find_payload_struct(buf, code, 0, 20, len(buf))
            assert got is None or isinstance(got, bytes)
        assert avps.find(buf, 268, end=len(buf) + 100) == avps.find(buf, 268)  # end past the data
        v = avps.find_u32(buf, 268)
        assert v is None or 0 <= v < 2**32


def test_find_u32_agrees_with_the_payload_it_reads():
    # the compiled find_u32 reads the value in place; it must say what find_payload's bytes say
    good = bytes(20) + _body() + encode_avp(258, 0xC0, 0, struct.pack("!I", 7))  # V bit, vendor 0
    rng = random.Random(6733)
    cases = [good[:n] for n in range(len(good))]
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(20, len(b))] = rng.randrange(256)
        cases.append(bytes(b))
    for buf in cases:
        for code in (263, 268, 258, 999):
            p = frame._find_payload_struct(buf, code, 0, 20, len(buf))
            want = -1 if p is None or len(p) != 4 else struct.unpack("!I", p)[0]
            assert find_u32(buf, code, 20, len(buf)) == want
    assert find_u32(good, 258, 20, len(good)) == 7
