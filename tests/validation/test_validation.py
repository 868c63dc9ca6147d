"""validate() findings and error_answer() bytes, one test per RFC 6733 Result-Code."""
from __future__ import annotations

import pytest

from diameter.message import Message
from diameter.validation import (AvpNotAllowed, AvpOccursTooManyTimes, AvpUnsupported,
                                 CommandUnsupported, InvalidAvpBits, InvalidAvpLength,
                                 InvalidAvpValue, InvalidHdrBits, InvalidMessageLength,
                                 MissingAvp, RuleSet, UnsupportedVersion, error_answer,
                                 validate)

from .messages import avp, cca, ccr, ccr_avps, ccr_bytes, cer, dwr, message, u32, ulr

ORIGIN = dict(origin_host=b"ocs.example.net", origin_realm=b"example.net")


def answer_of(request: bytes | Message, finding, **kw) -> Message:
    """error_answer() encoded and decoded back from its bytes."""
    ans = error_answer(request, finding, **ORIGIN, **kw)
    return Message.from_bytes(ans.as_bytes())


def failed_avps(answer: Message):
    return answer.find_avps((279, 0))


def result_code(answer: Message) -> int:
    return answer.find_avps((268, 0))[0].value


def only(findings, cls):
    assert [type(f) for f in findings] == [cls], findings
    return findings[0]


# -- valid messages ------------------------------------------------------------

@pytest.mark.parametrize("build", [ccr, cca, cer, dwr, ulr])
def test_valid_messages_have_no_findings(build) -> None:
    msg = build()
    assert validate(msg) == []
    wire = msg.as_bytes()
    assert validate(wire) == []
    assert validate(Message.from_bytes(wire)) == []
    assert validate(wire, strict=True) == []


def test_unknown_optional_avp_is_accepted_unless_strict() -> None:
    wire = ccr_bytes(avp(9999, b"x", flags=0, vendor=99999))
    assert validate(wire) == []


# -- 5005 DIAMETER_MISSING_AVP -------------------------------------------------

def test_missing_avp_5005() -> None:
    m = ccr()
    m.cc_request_number = None
    f = only(validate(m), MissingAvp)
    assert (f.result_code, f.code, f.vendor) == (5005, 415, 0)
    ans = answer_of(m, f)
    assert not ans.header.is_error and not ans.header.is_request
    assert ans.header.hop_by_hop_identifier == m.header.hop_by_hop_identifier
    assert result_code(ans) == 5005
    assert ans.session_id == m.session_id
    assert ans.origin_host == b"ocs.example.net" and ans.origin_realm == b"example.net"
    # the CCA grammar requires these and the request has them: copied
    assert ans.auth_application_id == 4 and ans.cc_request_type == 1
    [fa] = failed_avps(ans)
    [example] = fa.value
    assert (example.code, example.vendor_id, example.payload) == (415, 0, b"\x00" * 4)
    assert example.is_mandatory
    assert "CC-Request-Number" in ans.error_message


def test_missing_grouped_member_is_reported_inside_its_group() -> None:
    # Vendor-Specific-Application-Id (260) without its required Vendor-Id (266)
    wire = ccr_bytes(avp(260, avp(258, u32(4))))
    f = only(validate(wire), MissingAvp)
    assert (f.code, f.path[0][:2]) == (266, (260, 0))
    [fa] = failed_avps(answer_of(wire, f))
    [group] = fa.value
    assert group.code == 260
    [member] = group.value
    assert (member.code, member.payload) == (266, b"\x00" * 4)


def test_missing_vendor_avp_example_has_vendor_id() -> None:
    m = ulr()
    m.rat_type = None
    f = only(validate(m), MissingAvp)
    [fa] = failed_avps(answer_of(m, f))
    [example] = fa.value
    assert (example.code, example.vendor_id, example.is_vendor) == (1032, 10415, True)
    assert example.payload == b"\x00" * 4


# -- 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES ----------------------------------

def test_too_many_occurrences_5009() -> None:
    second = avp(415, u32(7))
    wire = ccr_bytes(second)
    f = only(validate(wire), AvpOccursTooManyTimes)
    assert (f.result_code, f.code) == (5009, 415)
    assert f.avp == second  # the first instance over the limit
    ans = answer_of(wire, f)
    assert result_code(ans) == 5009 and not ans.header.is_error
    [fa] = failed_avps(ans)
    assert fa.value[0].as_bytes() == second


# -- 5001 DIAMETER_AVP_UNSUPPORTED --------------------------------------------

def test_unknown_mandatory_avp_5001() -> None:
    unknown = avp(4242, b"\x01\x02\x03", flags=0x40, vendor=99999)
    wire = ccr_bytes(unknown)
    f = only(validate(wire), AvpUnsupported)
    assert (f.result_code, f.code, f.vendor) == (5001, 4242, 99999)
    ans = answer_of(wire, f)
    assert result_code(ans) == 5001
    [fa] = failed_avps(ans)
    assert fa.value[0].as_bytes() == unknown


def test_unknown_mandatory_avp_nested_is_wrapped_in_its_group() -> None:
    unknown = avp(4242, b"\x00", flags=0x40)
    group = avp(443, avp(450, u32(0)) + avp(444, b"41780000001") + unknown)
    wire = ccr_bytes(group)
    f = only(validate(wire), AvpUnsupported)
    [fa] = failed_avps(answer_of(wire, f))
    [outer] = fa.value
    assert outer.code == 443 and [a.as_bytes() for a in outer.value] == [unknown]


# -- 5004 DIAMETER_INVALID_AVP_VALUE ------------------------------------------

@pytest.mark.parametrize("bad", [
    avp(1, b"\xff\xfe bad utf-8"),                       # User-Name, UTF8String
    avp(257, b"\x00\x01\x0a\x00\x00"),                   # Host-IP-Address: IPv4 of 3 bytes
    avp(257, b"\x00\x00\x0a\x00\x00\x01"),               # reserved address family 0
], ids=["utf8", "ipv4-length", "family-0"])
def test_invalid_value_5004(bad: bytes) -> None:
    avps = ccr_avps()
    wire = ccr_bytes(avps=avps[:1] + [bad] + avps[1:]) if bad[3] == 1 else None
    if wire is None:
        wire = message(257, 0, 0x80, avp(264, b"a.example.net"), avp(296, b"example.net"),
                       bad, avp(266, u32(0)), avp(269, b"x"))
    f = only(validate(wire), InvalidAvpValue)
    assert f.result_code == 5004 and f.avp == bad
    ans = answer_of(wire, f)
    assert result_code(ans) == 5004 and not ans.header.is_error
    [fa] = failed_avps(ans)
    assert fa.value[0].as_bytes() == bad


def test_undefined_enum_value_only_reported_when_strict() -> None:
    avps = ccr_avps()
    avps[6] = avp(416, u32(99))  # CC-Request-Type 99
    wire = ccr_bytes(avps=avps)
    assert validate(wire) == []
    f = only(validate(wire, strict=True), InvalidAvpValue)
    assert f.code == 416


# -- 5014 DIAMETER_INVALID_AVP_LENGTH -----------------------------------------

def test_avp_length_overrunning_the_message_5014() -> None:
    bad = bytearray(avp(415, u32(0)))
    bad[5:8] = (200).to_bytes(3, "big")  # claims 200 bytes
    avps = ccr_avps()
    wire = ccr_bytes(avps=avps[:-1] + [bytes(bad)])
    f = only(validate(wire), InvalidAvpLength)
    assert (f.result_code, f.code) == (5014, 415)
    assert f.offset == len(wire) - 12
    ans = answer_of(wire, f)
    assert result_code(ans) == 5014
    assert ans.session_id == "pgw.example.net;1;2"  # read from the part that parses
    [fa] = failed_avps(ans)
    # the header of the offending AVP with a zero-filled payload of minimum length
    assert (fa.value[0].code, fa.value[0].payload) == (415, b"\x00" * 4)


def test_fixed_size_payload_of_wrong_length_5014() -> None:
    bad = avp(415, b"\x00\x00\x00\x00\x01")  # Unsigned32 of 5 bytes
    wire = ccr_bytes(avps=ccr_avps()[:-1] + [bad])
    f = only(validate(wire), InvalidAvpLength)
    assert f.avp == bad
    [fa] = failed_avps(answer_of(wire, f))
    assert fa.value[0].as_bytes() == bad


# -- 5008 DIAMETER_AVP_NOT_ALLOWED --------------------------------------------

def test_session_id_not_first_5008() -> None:
    avps = ccr_avps()
    wire = ccr_bytes(avps=avps[1:3] + avps[:1] + avps[3:])
    f = only(validate(wire), AvpNotAllowed)
    assert (f.result_code, f.code) == (5008, 263)
    ans = answer_of(wire, f)
    assert result_code(ans) == 5008
    [fa] = failed_avps(ans)
    assert fa.value[0].as_bytes() == avps[0]


def test_avp_outside_a_closed_grammar_5008() -> None:
    # a dictionary whose DWR grammar has no *[AVP]
    closed = RuleSet(command_grammars={
        (0, 280, True): ((0, 264, "required", 1, 1), (0, 296, "required", 1, 1),
                         (0, 278, "optional", 0, 1))})
    extra = avp(1, b"user")  # User-Name: known, but not in this grammar
    wire = message(280, 0, 0x80, avp(264, b"a.example.net"), avp(296, b"example.net"), extra)
    f = only(validate(wire, dictionary=closed), AvpNotAllowed)
    assert f.code == 1
    ans = answer_of(wire, f, dictionary=closed)
    assert result_code(ans) == 5008
    assert failed_avps(ans)[0].value[0].as_bytes() == extra
    assert validate(wire) == []  # the real grammar has *[AVP]
    unknown = avp(4242, b"zz", flags=0)
    wire2 = message(280, 0, 0x80, avp(264, b"a.example.net"), avp(296, b"example.net"), unknown)
    assert validate(wire2, dictionary=closed) == []
    only(validate(wire2, dictionary=closed, strict=True), AvpNotAllowed)


# -- 5015 DIAMETER_INVALID_MESSAGE_LENGTH -------------------------------------

@pytest.mark.parametrize("mangle", ["not-multiple-of-4", "longer-than-data"])
def test_invalid_message_length_5015(mangle: str) -> None:
    wire = bytearray(ccr_bytes())
    if mangle == "not-multiple-of-4":
        wire += b"\x00\x00"
        wire[1:4] = len(wire).to_bytes(3, "big")
    else:
        wire[1:4] = (len(wire) + 8).to_bytes(3, "big")
    f = only(validate(bytes(wire)), InvalidMessageLength)
    assert f.result_code == 5015
    ans = answer_of(bytes(wire), f)
    assert result_code(ans) == 5015 and not ans.header.is_error
    assert ans.header.end_to_end_identifier == 0x5678
    assert failed_avps(ans) == []


def test_unsupported_version_5011() -> None:
    wire = bytearray(ccr_bytes())
    wire[0] = 2
    f = only(validate(bytes(wire)), UnsupportedVersion)
    assert result_code(answer_of(bytes(wire), f)) == 5011


# -- 3008 DIAMETER_INVALID_HDR_BITS -------------------------------------------

def test_e_bit_in_request_3008() -> None:
    wire = message(272, 4, 0xE0, *ccr_avps())
    f = only(validate(wire), InvalidHdrBits)
    assert f.result_code == 3008
    ans = answer_of(wire, f)
    assert ans.header.is_error and ans.header.is_proxyable and not ans.header.is_request
    assert result_code(ans) == 3008
    assert failed_avps(ans) == []
    # the E-bit answer follows the RFC 6733 7.2 grammar: no CCA-specific AVPs copied
    assert ans.find_avps((416, 0)) == []
    assert validate(ans) == []


def test_p_bit_oncer_3008() -> None:
    wire = bytearray(cer().as_bytes())
    wire[4] |= 0x40
    only(validate(bytes(wire)), InvalidHdrBits)


# -- 3009 DIAMETER_INVALID_AVP_BITS -------------------------------------------

def test_m_bit_where_forbidden_3009() -> None:
    bad = avp(1032, u32(1004), flags=0x40, vendor=10415)  # RAT-Type: M MUST NOT be set
    wire = ccr_bytes(bad)
    f = only(validate(wire), InvalidAvpBits)
    assert (f.result_code, f.code, f.vendor) == (3009, 1032, 10415)
    ans = answer_of(wire, f)
    assert ans.header.is_error and result_code(ans) == 3009
    [fa] = failed_avps(ans)
    assert fa.value[0].as_bytes() == bad


def test_v_bit_with_vendor_zero_3009() -> None:
    bad = avp(1, b"user", flags=0xC0, vendor=0)  # V set, Vendor-Id field 0
    assert bad[4] & 0x80 and len(bad) == 16
    wire = ccr_bytes(bad)
    f = only(validate(wire), InvalidAvpBits)
    assert f.code == 1
    assert failed_avps(answer_of(wire, f))[0].payload == bad


def test_missing_m_bit_only_when_strict() -> None:
    avps = ccr_avps()
    avps[7] = avp(415, u32(0), flags=0)
    wire = ccr_bytes(avps=avps)
    assert validate(wire) == []
    only(validate(wire, strict=True), InvalidAvpBits)


# -- 3001 DIAMETER_COMMAND_UNSUPPORTED ----------------------------------------

def test_unknown_command_3001() -> None:
    wire = message(999999, 4, 0x80, avp(264, b"a.example.net"), avp(296, b"example.net"))
    f = only(validate(wire), CommandUnsupported)
    ans = answer_of(wire, f)
    assert ans.header.is_error and result_code(ans) == 3001
    assert ans.header.command_code == 999999


# -- error_answer details -------------------------------------------------------

def test_error_reporting_host_and_proxy_info() -> None:
    proxy = avp(284, avp(280, b"relay.example.net") + avp(33, b"state"))
    wire = ccr_bytes(avp(415, u32(1)), proxy)
    f = only(validate(wire), AvpOccursTooManyTimes)
    ans = answer_of(wire, f, error_reporting_host=b"relay.example.net")
    assert ans.find_avps((294, 0))[0].value == b"relay.example.net"
    assert [a.as_bytes() for a in ans.find_avps((284, 0))] == [proxy]
    same = answer_of(wire, f, error_reporting_host=ORIGIN["origin_host"])
    assert same.find_avps((294, 0)) == []


def test_error_answer_rejects_answers_and_short_input() -> None:
    with pytest.raises(ValueError):
        error_answer(b"\x01\x00", MissingAvp("x"), **ORIGIN)
    with pytest.raises(ValueError):
        error_answer(cca(), MissingAvp("x"), **ORIGIN)


def test_garbage_never_crashes() -> None:
    import random
    rng = random.Random(7)
    base = ccr_bytes()
    for _ in range(300):
        wire = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        findings = validate(bytes(wire))
        for f in findings:
            if bytes(wire)[4] & 0x80 and len(wire) >= 20:
                ans = error_answer(bytes(wire), f, **ORIGIN)
                assert Message.from_bytes(ans.as_bytes()).header.is_error == f.protocol_error
