"""Application.generate_answer sets the application id only where the answer class can send it."""
from __future__ import annotations

import warnings

from diameter.message import Message, UnknownAttributeWarning
from diameter.message.commands.credit_control import CreditControlRequest
from diameter.node.application import Application
from diameter.node.protocol import avps as A


class _Host:
    origin_host = "server.test.realm"
    realm_name = "test.realm"


def _app(app_id: int) -> Application:
    app = Application(app_id, is_auth_application=True)
    app._node = _Host()  # what generate_answer reads of its node
    return app


def _ccr(session_id: str) -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = session_id
    ccr.origin_host = b"client.test"
    ccr.origin_realm = b"test.realm"
    ccr.destination_realm = b"test.realm"
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 0
    return ccr


def test_answer_class_without_the_avp_gets_no_attribute_and_no_warning():
    # freeDiameter's test_app: command 16777214 in application 16777215 decodes as
    # Ericsson's Charging-Interrogation (same code), whose answer has no Auth-Application-Id
    req = Message.from_bytes(A.message(0xC0, 16777214, 16777215, 1, 2, [
        A.text(263, "client.test;1;2"), A.text(264, "client.test"), A.text(296, "test"),
        A.text(283, "test.realm"), A.u32(258, 16777215)]))
    answer = _app(16777215).generate_answer(req, 2001)
    assert "auth_application_id" not in vars(answer)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownAttributeWarning)
        data = answer.as_bytes()
    back = Message.from_bytes(data)
    assert (back.result_code, back.session_id, back.origin_host) == (2001, "client.test;1;2", b"server.test.realm")


def test_answer_class_with_the_avp_carries_the_application_id():
    ccr = _ccr("client.test;1;3")
    req = Message.from_bytes(ccr.as_bytes())
    answer = _app(4).generate_answer(req, 2001)
    back = Message.from_bytes(answer.as_bytes())
    assert (back.auth_application_id, back.result_code) == (4, 2001)


def test_proxy_info_is_copied_when_the_request_class_has_it():
    from diameter.message.avp.grouped import ProxyInfo
    ccr = _ccr("client.test;1;4")
    ccr.proxy_info = [ProxyInfo(proxy_host=b"proxy.test.realm", proxy_state=b"st")]
    req = Message.from_bytes(ccr.as_bytes())
    back = Message.from_bytes(_app(4).generate_answer(req, 2001).as_bytes())
    assert [(p.proxy_host, p.proxy_state) for p in back.proxy_info] == [(b"proxy.test.realm", b"st")]


def test_request_class_without_proxy_info_reads_only_what_was_set_on_it():
    # Charging-Interrogation has no Proxy-Info attribute: none is looked up through the
    # class's __getattr__ (an AttributeError per answer); one set on the instance is kept
    req = Message.from_bytes(A.message(0xC0, 16777214, 16777215, 1, 2, [
        A.text(263, "client.test;1;5"), A.text(264, "client.test"), A.text(296, "test"),
        A.text(283, "test.realm")]))
    assert not hasattr(type(req), "proxy_info")
    answer = _app(16777215).generate_answer(req, 2001)
    assert "proxy_info" not in vars(answer)
    marker = [b"kept"]
    req.__dict__["proxy_info"] = marker
    assert _app(16777215).generate_answer(req, 2001).proxy_info is marker
