"""``frame.sound``: whether every AVP of a range frames soundly, exactly when ``frame_at``
reads them all without an error; ``check`` raises what a ``frame_at`` walk raises."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from diameter.codec import frame
from diameter.codec.errors import AvpDecodeError


def _walk(buf: bytes, start: int, end: int) -> str | None:
    pos = start
    try:
        while pos < end:
            pos = frame.frame_at(buf, pos, end)[5]
    except AvpDecodeError as e:
        return f"{type(e).__name__}: {e} {e.offset} {e.avp_code}"
    return None


def _avp(code: int, flags: int, payload: bytes, length_delta: int, pad: bytes | None) -> bytes:
    n = len(payload) + (12 if flags & 0x80 else 8) + length_delta
    head = code.to_bytes(4, "big") + bytes([flags]) + max(0, min(n, 0xFFFFFF)).to_bytes(3, "big")
    vendor = b"\x00\x00\x28\xaf" if flags & 0x80 else b""
    return head + vendor + payload + (bytes(-n & 3) if pad is None else pad)


avps = st.lists(st.tuples(st.sampled_from([1, 263, 0xFFFFFFFF]), st.sampled_from([0, 0x40, 0x80, 0xC0]),
                          st.binary(max_size=7), st.sampled_from([0, 0, 0, -1, -9, 3, 40]),
                          st.sampled_from([None, None, b"", b"\x00", b"\x01\x00\x00"])), max_size=6)


@settings(max_examples=500, deadline=None)
@given(avps, st.integers(0, 12), st.binary(max_size=5))
def test_sound_is_frame_at_without_error(parts, cut, junk):
    whole = b"".join(_avp(*p) for p in parts)
    for buf in (whole, whole[:max(0, len(whole) - cut)], whole + junk, junk + whole):
        for start in (0, min(4, len(buf))):
            err = _walk(buf, start, len(buf))
            assert frame.sound(buf, start, len(buf)) == (err is None), (buf.hex(), start)
            if frame.COMPILED:
                try:
                    frame.check(buf, start, len(buf))
                    got = None
                except AvpDecodeError as e:
                    got = f"{type(e).__name__}: {e} {e.offset} {e.avp_code}"
                assert got == err


def test_sound_refuses_a_range_outside_the_buffer():
    buf = _avp(1, 0x40, b"abcd", 0, None)
    assert frame.sound(buf, 0, len(buf))
    assert not frame.sound(buf, 0, len(buf) + 4)
    assert not frame.sound(buf, 8, 4)
    assert not frame.sound(buf, -4, len(buf))
