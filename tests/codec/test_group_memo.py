"""The fast encoder's memo of grouped AVPs (``typed_memo.same_group``/``remember_group``).

A group whose values are all plain scalars (int, str, bytes) keeps its whole AVP in the
slot's memo: the next instance of the same class holding the same names with values of
the same types and equal gets those bytes back. These tests build sequences of messages
whose groups repeat, change and are changed after a first encode, and compare every
message with a reference encoder written here (per attribute, in the binding's order, groups
framed with ``frame.encode_avp``), which shares no code with the fast encoder; the same
sequence run compiled and from source (``DIAMETER_PURE_PYTHON=1``) gives the same bytes.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import typed, typed_memo
from diameter.message import Message
from diameter.message._binding import binding_of
from diameter.message.commands import CreditControlAnswer, CreditControlRequest
from diameter.message.commands.credit_control import (
    GrantedServiceUnit, MultipleServicesCreditControl, RequestedServiceUnit, SubscriptionId, UsedServiceUnit)

from .reference_encoder import ref


def _cca(gsu: Any, n: int = 1) -> CreditControlAnswer:
    a = CreditControlAnswer()
    a.session_id = f"s;1;{n}"
    a.origin_host = b"ocs"
    a.origin_realm = b"realm"
    a.auth_application_id = 4
    a.result_code = 2001
    a.cc_request_type = 2
    a.cc_request_number = n
    a.add_multiple_services_credit_control(granted_service_unit=gsu, rating_group=100, result_code=2001)
    return a


def _check(msg: Any) -> bytes:
    out = msg.as_bytes()
    assert out[20:] == ref(msg)
    assert Message.from_bytes(out).as_bytes() == out
    return out


units = st.sampled_from([
    {"cc_total_octets": 1_000_000}, {"cc_total_octets": 1_000_001}, {"cc_time": 60},
    {"cc_time": 60, "cc_total_octets": 1_000_000}, {"cc_total_octets": 1_000_000, "cc_time": 60},
    {"cc_total_octets": 2**40}, {"cc_time": 0}, {}])


@settings(max_examples=60, deadline=None)
@given(st.lists(units, min_size=1, max_size=12))
def test_repeated_groups_encode_as_the_reference(seq: list[dict[str, int]]) -> None:
    """Groups that repeat (memo hits), alternate and differ (misses): every message exact."""
    for i, kw in enumerate(seq):
        _check(_cca(GrantedServiceUnit(**kw), i))


def test_a_group_changed_after_encoding_is_encoded_again() -> None:
    g = GrantedServiceUnit(cc_total_octets=500)
    first = _check(_cca(g))
    g.cc_total_octets = 501
    second = _check(_cca(g))
    assert first != second
    g.cc_time = 7
    assert _check(_cca(g)) != second
    del g.cc_time
    g.cc_total_octets = 500
    assert _check(_cca(g)) == first


def test_equal_values_of_another_type_are_not_taken_from_the_memo() -> None:
    """1 and True compare equal; 1 and 1.0 too: only the very same type hits the memo."""
    _check(_cca(GrantedServiceUnit(cc_total_octets=1)))
    for other in (True, 1.0):
        msg = _cca(GrantedServiceUnit(cc_total_octets=other))
        try:
            want = ref(msg)
        except Exception as e:          # the type's own verdict, as without the memo
            with pytest.raises(type(e)):
                msg.as_bytes()
        else:
            assert msg.as_bytes()[20:] == want


def _mscc_request(n: int, mscc: Any) -> CreditControlRequest:
    r = CreditControlRequest()
    r.session_id = f"s;1;{n}"
    r.cc_request_number = n
    r.multiple_services_credit_control = [mscc]
    return r


def test_groups_holding_groups_and_lists_are_remembered_deeply() -> None:
    """A Multiple-Services-Credit-Control holding unit groups and a list is remembered; a
    later one equal all the way down gets the same bytes, one differing anywhere inside
    (a nested value, its type, a list's length, a member set later) is encoded again."""
    def mscc(total: Any = 5, used: Any = 1, rg: Any = 1) -> MultipleServicesCreditControl:
        return MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=total),
            used_service_unit=[UsedServiceUnit(cc_total_octets=u) for u in
                               (used if isinstance(used, list) else [used])], rating_group=rg)
    slot = binding_of(CreditControlRequest).enc_slots["multiple_services_credit_control"]
    first = _check(_mscc_request(1, mscc()))
    assert slot.memo is not None and slot.memo[0][0] is MultipleServicesCreditControl
    assert _check(_mscc_request(1, mscc())) == first
    for kw in ({"total": 6}, {"total": True}, {"used": 2}, {"used": [1, 1]}, {"used": []}, {"rg": 2}):
        assert _check(_mscc_request(1, mscc(**kw))) != first
    m = mscc()
    m.used_service_unit[0].cc_time = 3          # a member added inside the list's group
    assert _check(_mscc_request(1, m)) != first
    m = mscc()
    m.requested_service_unit.cc_total_octets = 7
    assert _check(_mscc_request(1, m)) != first
    assert _check(_mscc_request(1, mscc())) == first


def test_groups_holding_other_values_are_not_remembered() -> None:
    """A group whose members include a decoded group, a custom AVP or an ``Avp`` in a list
    is encoded every time (its memo left as it was), to the bytes it had without the memo."""
    from diameter.message.avp import Avp
    slot = binding_of(CreditControlRequest).enc_slots["multiple_services_credit_control"]
    decoded = Message.from_bytes(_cca(GrantedServiceUnit(cc_total_octets=9)).as_bytes())
    rsu = decoded.multiple_services_credit_control[0].granted_service_unit
    assert "_raw" in rsu.__dict__
    # the decoded group encodes as the same group built from attributes would
    same = ref(_mscc_request(2, MultipleServicesCreditControl(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=9), rating_group=3)))
    cases = [(MultipleServicesCreditControl(requested_service_unit=rsu, rating_group=3), same)]
    for m in (MultipleServicesCreditControl(rating_group=3, additional_avps=[Avp(1, 0, b"x")]),
              MultipleServicesCreditControl(requested_service_unit=RequestedServiceUnit(cc_total_octets=9),
                                            used_service_unit=[Avp(446, 0, b"")], rating_group=3)):
        cases.append((m, ref(_mscc_request(2, m))))
    _check(_mscc_request(1, MultipleServicesCreditControl(rating_group=3)))
    before = slot.memo
    for _ in range(2):
        for m, want in cases:
            assert _mscc_request(2, m).as_bytes()[20:] == want
            assert slot.memo is before


mscc_kw = st.fixed_dictionaries({}, optional={
    "requested_service_unit": units.map(lambda kw: RequestedServiceUnit(**kw)),
    "used_service_unit": st.lists(units.map(lambda kw: UsedServiceUnit(**kw)), max_size=2),
    "rating_group": st.sampled_from([1, 100, 2**31]),
    "service_identifier": st.lists(st.sampled_from([1, 2]), max_size=2)})


@settings(max_examples=60, deadline=None)
@given(st.lists(mscc_kw, min_size=1, max_size=10))
def test_repeated_nested_groups_encode_as_the_reference(seq: list[dict[str, Any]]) -> None:
    """Sequences of MSCCs that repeat, alternate and differ deeply: every message exact."""
    import copy
    for i, kw in enumerate(seq):
        _check(_mscc_request(i, MultipleServicesCreditControl(**copy.deepcopy(kw))))


def test_a_subclass_does_not_take_its_base_class_memo() -> None:
    class MyGsu(GrantedServiceUnit):
        pass
    _check(_cca(GrantedServiceUnit(cc_total_octets=9)))
    out = _check(_cca(MyGsu(cc_total_octets=9)))
    assert _check(_cca(MyGsu(cc_total_octets=9))) == out   # its binding now known: the fast path
    # the answer's Multiple-Services-Credit-Control memo holds the subclass's group
    slot = binding_of(CreditControlAnswer).enc_slots["multiple_services_credit_control"]
    assert dict(slot.memo[0][2])["granted_service_unit"].cls is MyGsu
    assert out == _check(_cca(GrantedServiceUnit(cc_total_octets=9)))


def test_a_new_dictionary_generation_is_not_answered_from_the_memo() -> None:
    g = {"cc_total_octets": 9}
    gsu = GrantedServiceUnit(**g)
    _check(_cca(gsu))
    slot = binding_of(MultipleServicesCreditControl).enc_slots["granted_service_unit"]
    key = slot.memo[0]
    assert typed_memo.same_group(key, GrantedServiceUnit, gsu.__dict__)
    typed.GENERATION[0] += 1        # as a dictionary change does: bindings are compiled again
    assert not typed_memo.same_group(key, GrantedServiceUnit, gsu.__dict__)
    _check(_cca(GrantedServiceUnit(**g)))


def test_subscription_ids_and_units_of_a_request() -> None:
    for n in range(30):
        r = CreditControlRequest()
        r.session_id = f"c;1;{n}"
        r.cc_request_number = n
        r.add_subscription_id(subscription_id_type=n % 2, subscription_id_data="4178000000" + str(n % 3))
        r.subscription_id.append(SubscriptionId(subscription_id_type=0, subscription_id_data="x"))
        r.add_multiple_services_credit_control(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=1_000_000 + n % 2),
            used_service_unit=[UsedServiceUnit(cc_total_octets=500_000), UsedServiceUnit(cc_time=n % 4)],
            rating_group=100)
        _check(r)


SCENARIO = r'''
import json
from diameter.message.commands.credit_control import (CreditControlAnswer, GrantedServiceUnit,
    CreditControlRequest, RequestedServiceUnit, UsedServiceUnit)
out = []
for n in range(300):
    a = CreditControlAnswer()
    a.session_id = "s;%d" % n
    a.result_code = 2001
    kw = [{"cc_total_octets": 1000}, {"cc_time": n % 5}, {"cc_total_octets": 1000, "cc_time": 3},
          {"cc_total_octets": True}, {}][n % 5]
    a.add_multiple_services_credit_control(granted_service_unit=GrantedServiceUnit(**kw), rating_group=n % 3)
    out.append(a.as_bytes().hex())
    r = CreditControlRequest()
    r.add_subscription_id(subscription_id_type=0, subscription_id_data="417800%d" % (n % 4))
    r.add_multiple_services_credit_control(requested_service_unit=RequestedServiceUnit(cc_total_octets=n % 7),
                                           used_service_unit=[UsedServiceUnit(cc_total_octets=5)])
    out.append(r.as_bytes().hex())
    r.multiple_services_credit_control[0].used_service_unit[0].cc_total_octets = n % 2
    out.append(r.as_bytes().hex())
print(json.dumps(out))
'''


def test_compiled_and_source_give_the_same_bytes(run_scenario: Any) -> None:
    compiled = run_scenario(SCENARIO, False)
    assert compiled == run_scenario(SCENARIO, True)
    assert len(set(compiled)) > 10
    json.dumps(compiled)
