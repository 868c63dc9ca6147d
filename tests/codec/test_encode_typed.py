"""``typed_encode.encode_typed`` (``DefinedMessage.as_bytes``'s compiled dispatch), the memos'
identity hits, the group memo checked before the fresh-encode conditions and
``assemble.init_grouped``'s keywords copied in one update.

Every message is compared with the reference encoder of ``reference_encoder`` (shares no
code with the fast one); the scenario at the end runs compiled and from source
(``DIAMETER_PURE_PYTHON=1``) and must give the same bytes and errors.
"""
from __future__ import annotations

import warnings
from typing import Any

import pytest

from diameter.codec import typed_encode
from diameter.message import Message
from diameter.message._base import UnknownAttributeWarning
from diameter.message._binding import binding_of
from diameter.message.avp import Avp
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (
    GrantedServiceUnit, MultipleServicesCreditControl, RequestedServiceUnit, SubscriptionId)

from .reference_encoder import ref


def _cca(mscc: Any, n: int = 1) -> CreditControlAnswer:
    a = CreditControlAnswer()
    a.session_id = f"s;1;{n}"
    a.origin_host = b"ocs"
    a.result_code = 2001
    a.cc_request_number = n
    a.multiple_services_credit_control = [mscc]
    return a


def _exact(msg: Any) -> bytes:
    out = msg.as_bytes()
    assert out[20:] == ref(msg)
    assert int.from_bytes(out[1:4], "big") == len(out) == msg.header.length
    return out


def test_encode_typed_gives_as_bytes_or_declines() -> None:
    """The dispatch answers a typed message built from attributes (with plain custom AVPs
    too) with as_bytes's bytes, and None for what the message layer must answer: a class
    not encoded yet (no known names), bytes behind the message, a custom AVP of another
    kind, an attribute no AVP stands for."""
    class Fresh(CreditControlRequest):
        pass
    f = Fresh()
    f.session_id = "f"
    assert typed_encode.encode_typed(f) is None         # its names are learnt on first encode
    first = f.as_bytes()
    assert typed_encode.encode_typed(f) == first
    a = _cca(MultipleServicesCreditControl(rating_group=1))
    wire = _exact(a)
    assert typed_encode.encode_typed(a) == wire
    a.append_avp(Avp(99999, 0, b"x", 0))
    extended = a.as_bytes()
    assert typed_encode.encode_typed(a) == extended and extended[20:len(wire)] == wire[20:]

    class OwnAvp(Avp):
        def as_bytes(self) -> bytes:
            return Avp(99998, 0, b"own", 0).as_bytes()
    a.append_avp(OwnAvp(99999, 0, b"x", 0))
    assert typed_encode.encode_typed(a) is None
    assert a.as_bytes()[20:] == extended[20:] + Avp(99998, 0, b"own", 0).as_bytes()
    decoded = Message.from_bytes(wire)
    assert typed_encode.encode_typed(decoded) is None
    assert decoded.as_bytes() == wire
    typo = _cca(MultipleServicesCreditControl(rating_group=1))
    typo.result_cod = 5
    assert typed_encode.encode_typed(typo) is None
    with pytest.warns(UnknownAttributeWarning):
        assert typo.as_bytes() == wire


def test_text_that_is_not_utf8_takes_the_general_path_and_its_error() -> None:
    r = CreditControlRequest()
    r.session_id = "ok"
    _exact(r)
    r.session_id = "\ud800"         # a lone surrogate: no UTF-8 for it
    with pytest.raises(Exception) as fast:
        r.as_bytes()
    with pytest.raises(type(fast.value)):
        ref(r)


def test_memo_hits_by_identity_and_by_value_alike() -> None:
    """A value that is the very object remembered (a constant) and an equal one built anew
    give the same bytes; an equal value of another type does not hit."""
    text = "32251@3gpp.org"
    outs = []
    for value in (text, text, "".join(["32251@", "3gpp.org"])):
        r = CreditControlRequest()
        r.service_context_id = value
        r.cc_request_type = 2
        outs.append(_exact(r))
    assert outs[0] == outs[1] == outs[2]
    r = CreditControlRequest()
    r.cc_request_type = True        # == 1, another type: its own encoding (or its error)
    try:
        want = ref(r)
    except Exception as e:
        with pytest.raises(type(e)):
            r.as_bytes()
    else:
        assert r.as_bytes()[20:] == want


def test_group_memo_is_not_taken_for_groups_with_bytes_or_custom_avps() -> None:
    """The memo is now checked before "no bytes behind it, no custom AVPs": a group holding
    either never matches a memo key (which holds neither), at the top or nested."""
    slot = binding_of(CreditControlAnswer).enc_slots["multiple_services_credit_control"]

    def mscc(gsu: Any) -> MultipleServicesCreditControl:
        return MultipleServicesCreditControl(granted_service_unit=gsu, rating_group=3)
    first = _exact(_cca(mscc(GrantedServiceUnit(cc_total_octets=9))))
    assert slot.memo is not None
    # the same group decoded: a "_raw" dict, then one of its values changed
    # (the reference encoder reads attributes set, not bytes: a fresh equal group stands in)
    decoded = Message.from_bytes(first).multiple_services_credit_control[0]
    assert "_raw" in decoded.__dict__
    assert _cca(decoded).as_bytes() == first
    decoded.rating_group = 4
    want = ref(_cca(MultipleServicesCreditControl(
        granted_service_unit=GrantedServiceUnit(cc_total_octets=9), rating_group=4)))
    assert _cca(decoded).as_bytes()[20:] == want
    nested = Message.from_bytes(first).multiple_services_credit_control[0].granted_service_unit
    nested.cc_total_octets = 10
    want = ref(_cca(mscc(GrantedServiceUnit(cc_total_octets=10))))
    assert _cca(mscc(nested)).as_bytes()[20:] == want
    # custom AVPs added to a group equal to the remembered one, at the top and nested
    top = mscc(GrantedServiceUnit(cc_total_octets=9))
    top.additional_avps.append(Avp(99999, 0, b"t", 0))
    assert _exact(_cca(top)) != first
    inner = GrantedServiceUnit(cc_total_octets=9)
    inner.additional_avps.append(Avp(99999, 0, b"i", 0))
    assert _exact(_cca(mscc(inner))) != first
    # a memo key holding an empty custom AVP list, then the same group with one AVP in it
    empty = mscc(GrantedServiceUnit(cc_total_octets=9))
    assert empty.additional_avps == []
    empty.__dict__["additional_avps"] = []
    keyed = _exact(_cca(empty))
    again = mscc(GrantedServiceUnit(cc_total_octets=9))
    again.__dict__["additional_avps"] = [Avp(99999, 0, b"a", 0)]
    assert _exact(_cca(again)) != keyed
    assert _exact(_cca(mscc(GrantedServiceUnit(cc_total_octets=9)))) == first


def test_grouped_init_keywords() -> None:
    """Keywords copied in one update: order kept, None list members dropped, ``avp_def``
    ignored, unknown names refused, positional and keyword values together."""
    g = MultipleServicesCreditControl(rating_group=1, used_service_unit=None,
                                      requested_service_unit=RequestedServiceUnit(cc_time=1))
    assert list(g.__dict__) == ["rating_group", "requested_service_unit"]
    assert g.used_service_unit == []
    s = SubscriptionId(subscription_id_data="x", avp_def=None, subscription_id_type=0)
    assert list(s.__dict__) == ["subscription_id_data", "subscription_id_type"]
    assert SubscriptionId(0, subscription_id_data="y").__dict__ == {
        "subscription_id_type": 0, "subscription_id_data": "y"}
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        SubscriptionId(subscription_id_type=0, nope=1)
    s.__init__(subscription_id_type=None)
    assert s.subscription_id_type is None and s.subscription_id_data == "x"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _exact(_cca(g))


SCENARIO = r'''
import json
from diameter.codec import typed_encode
from diameter.message import Message
from diameter.message.avp import Avp
from diameter.message.commands.credit_control import (CreditControlAnswer, CreditControlRequest,
    GrantedServiceUnit, MultipleServicesCreditControl, SubscriptionId)
out = []
for n in range(60):
    a = CreditControlAnswer()
    a.session_id = ["s;%d" % n, "\ud800", "s"][n % 3]
    a.result_code = [2001, 2001, True, 5030][n % 4]
    g = GrantedServiceUnit(cc_total_octets=[9, 9, 10][n % 3])
    if n % 5 == 4:
        g.additional_avps.append(Avp(99999, 0, b"g", 0))
    m = MultipleServicesCreditControl(granted_service_unit=g, rating_group=n % 2)
    a.multiple_services_credit_control = [m]
    if n % 7 == 6:
        a.append_avp(Avp(99999, 0, b"x", 0))
    try:
        wire = a.as_bytes()
    except Exception as e:
        out.append(type(e).__name__)
        continue
    out.append(wire.hex())
    d = Message.from_bytes(wire)
    d.multiple_services_credit_control[0].rating_group = 7
    out.append(d.as_bytes().hex())
    out.append(repr(SubscriptionId(subscription_id_type=n % 2, subscription_id_data=None,
                                   avp_def=None).__dict__))
    out.append(typed_encode.encode_typed(a) == wire)
print(json.dumps(out))
'''


def test_compiled_and_source_give_the_same_bytes(run_scenario: Any) -> None:
    compiled = run_scenario(SCENARIO, False)
    assert compiled == run_scenario(SCENARIO, True)
    assert len({str(x) for x in compiled}) > 20
    assert all(x is True for x in compiled if isinstance(x, bool))


def test_message_bytes_is_as_bytes_without_its_frame() -> None:
    """``typed_encode.message_bytes`` (the node's encoding of requests and answers) gives what
    ``as_bytes()`` gives: the compiled dispatch for a class that keeps
    ``DefinedMessage.as_bytes`` (a decoded message, one the dispatch declines, included), and
    a subclass's own ``as_bytes`` when it has one."""
    a = _cca(MultipleServicesCreditControl(rating_group=1, result_code=2001))
    assert typed_encode.message_bytes(a) == _exact(a)
    decoded = Message.from_bytes(a.as_bytes())
    assert typed_encode.message_bytes(decoded) == decoded.as_bytes() == a.as_bytes()
    decoded.result_code = 4012
    assert typed_encode.message_bytes(decoded) == decoded.as_bytes() != a.as_bytes()

    class Stamped(CreditControlAnswer):
        def as_bytes(self) -> bytes:
            return b"stamped:" + super().as_bytes()
    s = Stamped()
    s.session_id = "s;1;1"
    s.result_code = 2001
    out = typed_encode.message_bytes(s)
    assert out.startswith(b"stamped:") and out[8:] == CreditControlAnswer.as_bytes(s)
