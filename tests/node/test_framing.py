import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.node.protocol.framing import FrameDecoder, FramingError, parse_header, set_hop_by_hop

from .helpers import app_request


def test_single_and_multiple_frames():
    m1, m2 = app_request(e2e=1), app_request(e2e=2)
    d = FrameDecoder()
    assert d.feed(m1) == [m1]
    assert d.feed(m1 + m2) == [m1, m2]
    assert d.buffered == 0


def test_fragmented_byte_by_byte():
    m = app_request()
    d = FrameDecoder()
    out = []
    for i in range(len(m)):
        out += d.feed(m[i:i + 1])
    assert out == [m]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=40))
def test_arbitrary_split_points(cuts):
    stream = b"".join(app_request(e2e=i) for i in range(5))
    d = FrameDecoder()
    out, pos = [], 0
    for c in cuts:
        out += d.feed(stream[pos:pos + c])
        pos += c
    out += d.feed(stream[pos:])
    assert out == [app_request(e2e=i) for i in range(5)]


def test_bad_version():
    bad = b"\x02" + app_request()[1:]
    with pytest.raises(FramingError) as ei:
        FrameDecoder().feed(bad)
    assert ei.value.result_code == 5011


@pytest.mark.parametrize("length", [0, 8, 19, 22])
def test_bad_length(length):
    m = bytearray(app_request())
    m[1:4] = length.to_bytes(3, "big")
    with pytest.raises(FramingError) as ei:
        FrameDecoder().feed(bytes(m))
    assert ei.value.result_code == 5015
    assert len(ei.value.header) == 20


def test_oversize_rejected_before_buffering():
    m = bytearray(app_request())
    m[1:4] = (1 << 20).to_bytes(3, "big")
    d = FrameDecoder(max_size=4096)
    with pytest.raises(FramingError):
        d.feed(bytes(m[:20]))
    assert d.buffered == 0


def test_frames_before_garbage_are_kept():
    good = app_request()
    with pytest.raises(FramingError) as ei:
        FrameDecoder().feed(good + b"\xff" * 24)
    assert ei.value.frames == [good]


def test_header_and_hbh_rewrite():
    m = bytearray(app_request(hbh=7, e2e=9))
    h = parse_header(m)
    assert (h.command_code, h.application_id, h.hop_by_hop_identifier, h.end_to_end_identifier) == (272, 4, 7, 9)
    assert h.is_request
    set_hop_by_hop(m, 0xDEADBEEF)
    assert parse_header(m).hop_by_hop_identifier == 0xDEADBEEF


@given(st.binary(min_size=20, max_size=40))
def test_header_of_bytes_bytearray_and_memoryview_agree_with_struct(data):
    import struct
    vl, fc, app, hbh, e2e = struct.unpack_from(">IIIII", data)
    want = (vl & 0xFFFFFF, fc >> 24, fc & 0xFFFFFF, app, hbh, e2e)
    assert tuple(parse_header(data)) == tuple(parse_header(bytearray(data))) == want
    assert tuple(parse_header(memoryview(data))) == want


def test_short_header_is_a_struct_error():
    import struct
    with pytest.raises(struct.error):
        parse_header(b"\x01\x00\x00\x14" + bytes(8))


def test_frames_are_bytes_from_the_buffer_too():
    m1, m2 = app_request(e2e=1), app_request(e2e=2)
    d = FrameDecoder()
    got = d.feed(m1 + m2[:10]) + d.feed(m2[10:])
    assert got == [m1, m2] and all(type(f) is bytes for f in got) and d.buffered == 0
    with pytest.raises(FramingError) as ei:
        d.feed(m1 + b"\x02" + bytes(23))
    assert ei.value.frames == [m1] and type(ei.value.header) is bytes and len(ei.value.header) == 20
