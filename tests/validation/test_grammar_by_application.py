"""Grammars are looked up by (application, command) (issue 12, finding 1).

Only the base protocol's commands (RFC 6733: CER, DWR, DPR, RAR, STR, ASR, ACR)
are shared across applications; a command the dictionary does not define for
the request's application has no grammar and is left to the application.
"""
from __future__ import annotations

from diameter.node.protocol import avps as A
from diameter.validation import CommandUnsupported, MissingAvp, validate
from diameter.validation.rules import BASE_APPLICATIONS, Grammar, RuleSet, default_rules

TEST_APP, TEST_CMD = 16777215, 16777214      # freeDiameter test_app's defaults
ERICSSON_SCAP, CIR = 16777232, 16777214       # Ericsson Charging-Interrogation
TEST_VENDOR, TEST_AVP = 999999, 16777215
R, P = 0x80, 0x40


def _request(app: int, cmd: int, *extra: bytes) -> bytes:
    avps = [A.text(263, "client.test;1;1"), A.text(264, "client.test"), A.text(296, "test"),
            A.text(283, "test"), *extra]
    return A.message(R | P, cmd, app, 1, 1, avps)


def _test_avp(value: int = 7) -> bytes:
    # freeDiameter's Test-AVP: vendor-specific, no M bit
    return A.avp(TEST_AVP, value.to_bytes(4, "big"), vendor=TEST_VENDOR, mandatory=False)


def test_test_app_request_is_not_checked_against_another_applications_grammar() -> None:
    wire = _request(TEST_APP, TEST_CMD, _test_avp())
    assert default_rules().command(TEST_APP, TEST_CMD, True) is None
    assert validate(wire) == []


def test_ericsson_cir_is_still_checked_against_its_grammar() -> None:
    wire = _request(ERICSSON_SCAP, CIR, _test_avp())
    findings = validate(wire)
    assert findings and all(isinstance(f, MissingAvp) for f in findings)
    assert any("Vendor-Specific-Application-Id is missing" in str(f) for f in findings)
    assert default_rules().command(ERICSSON_SCAP, CIR, True) is not None


def test_base_protocol_commands_are_shared_across_applications() -> None:
    rules = default_rules()
    assert 0 in BASE_APPLICATIONS and 3 in BASE_APPLICATIONS
    # Session-Termination (275) in an application without its own STR: the base grammar
    base = rules.command(0, 275, True)
    assert base is not None and rules.command(TEST_APP, 275, True) is base
    str_without_reason = _request(TEST_APP, 275, A.u32(258, TEST_APP))
    assert [type(f) for f in validate(str_without_reason)] == [MissingAvp]  # Termination-Cause
    # Accounting (271) of an application without its own: base accounting (application 3)
    assert rules.command(TEST_APP, 271, True) is rules.command(3, 271, True)
    # an application that defines its own RAR (Gx) keeps its own grammar
    gx_rar = rules.command(16777238, 258, True)
    assert gx_rar is not None and gx_rar is not rules.command(0, 258, True)
    assert gx_rar.order == Grammar(rules.command_grammars[(16777238, 258, True)]).order


def test_application_specific_commands_are_not_shared() -> None:
    rules = default_rules()
    # Credit-Control (272) is RFC 4006's, not the base protocol's: no grammar under test_app
    assert rules.command(4, 272, True) is not None
    assert rules.command(TEST_APP, 272, True) is None
    ccr_like = _request(TEST_APP, 272, _test_avp())
    assert validate(ccr_like) == []


def test_unknown_command_code_is_still_3001() -> None:
    findings = validate(_request(TEST_APP, 999_999))
    assert [type(f) for f in findings] == [CommandUnsupported]


def test_unknown_application_does_not_grow_the_grammar_cache() -> None:
    rules = RuleSet()
    for app in range(100_000, 100_200):
        assert rules.command(app, TEST_CMD, True) is None
        assert rules.command(app, 257, True) is rules.command(0, 257, True)
    assert len(rules._commands) <= 2
