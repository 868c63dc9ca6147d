"""What a new user sees: package docs and version, help() on commands, typos, str identities."""
from __future__ import annotations

import pydoc
import tomllib
import warnings
from pathlib import Path

import pytest

import diameter
from diameter.message import Message, UnknownAttributeWarning
from diameter.message.avp.grouped import ProxyInfo
from diameter.message.commands import CreditControlAnswer, CreditControlRequest

ROOT = Path(__file__).resolve().parents[2]


def test_version_and_package_doc():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert diameter.__version__ == project["version"]
    assert "diameter.node.aio.DiameterNode" in (diameter.__doc__ or "")


def test_help_shows_avp_name_code_and_type():
    text = pydoc.render_doc(CreditControlRequest, renderer=pydoc.plaintext)
    assert "session_id = Session-Id (AVP 263): UTF8String" in text
    assert "cc_request_type = CC-Request-Type (AVP 416): Enumerated" in text
    assert "Origin-Host (AVP 264): DiameterIdentity" in text
    assert "Attr object" not in text
    assert repr(CreditControlRequest.subscription_id) == (
        "Subscription-Id (AVP 443): grouped SubscriptionId")


def test_typo_on_a_typed_command_warns_with_a_suggestion():
    ccr = CreditControlRequest()
    ccr.sesion_id = "a;1;2"               # kept on the object, as in python-diameter...
    with pytest.warns(UnknownAttributeWarning, match="did you mean 'session_id'"):
        wire = ccr.as_bytes()             # ...and reported when it would be lost
    assert b"a;1;2" not in wire
    ok = CreditControlRequest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok.session_id = "a;1;2"           # known names stay silent
        ok.header.hop_by_hop_identifier = 5
        ok._private = 1
        ok.subscription_id = []
        Message.from_bytes(ok.as_bytes()).as_bytes()
        decoded = Message.from_bytes(ok.as_bytes())
        decoded.origin_host = "h"
        _ = decoded.session_id
        decoded.as_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownAttributeWarning)
        ok.orign_realm = b"x"
        with pytest.raises(UnknownAttributeWarning, match="orign_realm"):
            ok.as_bytes()


def test_identity_attributes_accept_str_and_read_bytes():
    cca = CreditControlAnswer()
    cca.origin_host = "ocs.example.net"
    cca.origin_realm = b"example.net"
    assert cca.origin_host == b"ocs.example.net"
    cca.session_id = "s;1;2"
    cca.result_code = 2001
    decoded = Message.from_bytes(cca.as_bytes())
    assert decoded.origin_host == b"ocs.example.net"
    assert decoded.origin_realm == b"example.net"
    pi = ProxyInfo(proxy_host="proxy.example.net", proxy_state=b"\x01")
    cca.proxy_info = [pi]
    again = Message.from_bytes(cca.as_bytes())
    assert again.proxy_info[0].proxy_host == b"proxy.example.net"
    pi.proxy_host = "other.example.net"
    assert pi.proxy_host == b"other.example.net"


def test_identity_attributes_are_descriptors_typed_for_str():
    from diameter.message._binding import IdentityAttr
    assert isinstance(CreditControlRequest.__dict__["origin_host"], IdentityAttr)
    assert "origin_host" not in CreditControlRequest.__annotations__
    assert CreditControlRequest.__annotations__["session_id"] == "str | None"


def test_typo_hint_is_computed_once_per_class_and_name(monkeypatch):
    """Answers built python-diameter style can carry an unknown attribute on every message
    (e.g. auth_application_id on a command without it): the suggestion search runs once."""
    import difflib

    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    for _ in range(3):
        cca = CreditControlAnswer()
        cca.result_codde = 2001
        with pytest.warns(UnknownAttributeWarning, match="did you mean 'result_code'"):
            cca.as_bytes()
    assert calls.count("result_codde") <= 1
