"""The compiled core's one-pass grammar check never accepts what the full checker rejects."""
from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import core
from diameter.node.protocol import avps as A
from diameter.validation import check, validate

from .messages import cca, ccr, cer, dwr, ulr

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[2] / "bench"))
from codec_workload import build_ccr  # noqa: E402

SAMPLES = [build_ccr(), ccr().as_bytes(), cca().as_bytes(), cer().as_bytes(), dwr().as_bytes(),
           ulr().as_bytes()]


def _full(data: bytes) -> list:
    saved = check.FAST_PATH[0]
    check.FAST_PATH[0] = False
    try:
        return validate(data)
    finally:
        check.FAST_PATH[0] = saved


def _fast(data: bytes) -> bool:
    rules = check.default_rules()
    hdr = data[:20]
    if len(data) < 20:
        return False
    app = int.from_bytes(hdr[8:12], "big")
    code = int.from_bytes(hdr[5:8], "big")
    grammar = rules.command(app, code, bool(hdr[4] & 0x80))
    if grammar is None or len(data) != int.from_bytes(hdr[1:4], "big"):
        return False
    return core.grammar_ok(data, 20, len(data), grammar, rules, rules.fast_cache(), 0,
                           core.LIMITS.max_depth)


def test_valid_samples_take_the_fast_path():
    for data in SAMPLES:
        assert _full(data) == []
        assert _fast(data), data[:20].hex()
        assert validate(data) == []


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_mutations_agree(data, draw):
    buf = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(20, len(buf) - 1))
        buf[i] = draw.draw(st.integers(0, 255))
    mutated = bytes(buf)
    findings = _full(mutated)
    if _fast(mutated):
        assert findings == [], findings
    assert validate(mutated) == findings


# freeDiameter test_app's Test-Request (application 16777215, command 16777214)
TEST_APP_REQUEST = A.message(0xC0, 16777214, 16777215, 1, 1, [
    A.text(263, "client.test;1;2;app_testb"), A.text(283, "srv.test"), A.text(264, "client.test"),
    A.text(296, "test"), A.avp(16777215, (7).to_bytes(4, "big"), vendor=999999, mandatory=False)])


def test_test_app_request_sample_is_valid_and_fast():
    assert _full(TEST_APP_REQUEST) == []
    assert check._certainly_valid(TEST_APP_REQUEST, check.default_rules())


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SAMPLES + [TEST_APP_REQUEST]), st.data())
def test_header_and_body_mutations_agree(data, draw):
    """validate()'s own fast path (header checks included) never accepts a bad message."""
    buf = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, len(buf) - 1))
        buf[i] = draw.draw(st.integers(0, 255))
    mutated = bytes(buf)
    findings = _full(mutated)
    if check._certainly_valid(mutated, check.default_rules()):
        assert findings == [], findings
    assert validate(mutated) == findings


def test_utf8_checked_without_copy_for_ascii_and_by_decoding_otherwise():
    from diameter.validation import InvalidAvpValue

    def req(session: bytes) -> bytes:
        return A.message(0xC0, 16777214, 16777215, 1, 1, [
            A.avp(263, session), A.text(283, "srv.test"), A.text(264, "client.test"),
            A.text(296, "test")])
    rules = check.default_rules()
    for good in (b"client.test;1;2", "client.test;caf\u00e9;\u4e2d".encode(), b""):
        assert check._certainly_valid(req(good), rules)
        assert validate(req(good)) == []
    for bad in (b"client.test;\xff", b"\xc3", "caf\u00e9".encode()[:-1] + b"x;\x80"):
        assert not check._certainly_valid(req(bad), rules)
        assert [type(f) for f in validate(req(bad))] == [InvalidAvpValue]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES + [TEST_APP_REQUEST]), st.data())
def test_request_findings_are_validate_findings(data, draw):
    """The node's per-request check (``request_findings``) finds what ``validate`` finds, with
    the fast path on or off (off: the pure-Python build)."""
    buf = bytearray(data)
    for _ in range(draw.draw(st.integers(0, 3))):
        i = draw.draw(st.integers(0, len(buf) - 1))
        buf[i] = draw.draw(st.integers(0, 255))
    mutated = bytes(buf)
    rules = check.default_rules()
    expected = _full(mutated)
    assert check.request_findings(mutated, rules) == expected == validate(mutated, rules)
    assert check.request_findings(bytearray(mutated), rules) == expected   # not bytes: validate's way
    saved = check.FAST_PATH[0]
    check.FAST_PATH[0] = False
    try:
        assert check.request_findings(mutated, rules) == expected
    finally:
        check.FAST_PATH[0] = saved


def test_request_findings_keep_the_caches_bounded_and_follow_the_generation():
    """Whatever the AVP codes received, the rule set's caches stay within their bound (they
    bound themselves as they fill); a new dictionary generation starts them again."""
    import struct

    from diameter.validation import rules as R
    rs = R.RuleSet()
    assert check.request_findings(SAMPLES[0], rs) == []
    base = SAMPLES[0]
    code = 1 << 20
    for _ in range(R.MAX_CACHE_ENTRIES // 2000 + 2):
        # unknown vendor AVPs without the M bit: valid, each a new cache key
        extra = b"".join(struct.pack(">IIII", code + i, 0x80 << 24 | 16, 99999, 7) for i in range(2000))
        code += 2000
        data = base[:1] + (len(base) + len(extra)).to_bytes(3, "big") + base[4:] + extra
        assert check.request_findings(data, rs) == []
        assert len(rs._avps) <= R.MAX_CACHE_ENTRIES
        assert len(rs._fast) <= R.MAX_CACHE_ENTRIES + 100
    assert code - (1 << 20) > R.MAX_CACHE_ENTRIES
    assert check.request_findings(SAMPLES[0], rs) == []
    R.GENERATION[0] += 1   # as a run-time dictionary change does: every cache starts again
    assert check.request_findings(SAMPLES[1], rs) == []
    assert rs._generation == R.GENERATION[0]
    assert len(rs._avps) < 100
