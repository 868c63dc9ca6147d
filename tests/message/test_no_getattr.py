"""Typed classes have no ``__getattr__`` (CPython 3.11 specialises attribute access only
without one), yet every name the lazy fallback answers still reads as before."""
from __future__ import annotations

import dataclasses

import pytest

from diameter.message import Message
from diameter.message.avp.grouped import MultipleServicesCreditControl
from diameter.message.commands import CreditControlAnswer, CreditControlRequest


@pytest.mark.parametrize("cls", [CreditControlRequest, CreditControlAnswer,
                                 MultipleServicesCreditControl])
def test_no_getattr_in_mro(cls: type) -> None:
    assert not any("__getattr__" in k.__dict__ for k in cls.__mro__)


def test_absent_names_read_none_or_list() -> None:
    ccr = CreditControlRequest()
    assert ccr.service_context_id is None
    assert ccr.multiple_services_credit_control == []
    mscc = MultipleServicesCreditControl()
    assert mscc.granted_service_unit is None
    assert mscc.additional_avps == []
    assert [f.name for f in dataclasses.fields(mscc) if f.name == "additional_avps"]
    with pytest.raises(AttributeError):
        ccr.no_such_attribute  # noqa: B018
    with pytest.raises(AttributeError):
        mscc._no_such_private  # noqa: B018


def test_decoded_names_and_extras() -> None:
    ccr = CreditControlRequest()
    ccr.session_id = "s;1"
    ccr.origin_host = b"h"
    ccr.origin_realm = b"r"
    ccr.destination_realm = b"d"
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 1
    ccr.cc_request_number = 0
    m = MultipleServicesCreditControl(rating_group=7)
    ccr.multiple_services_credit_control = [m]
    back = Message.from_bytes(ccr.as_bytes())
    assert isinstance(back, CreditControlRequest)
    assert back.session_id == "s;1"
    assert back.user_name is None
    got = back.multiple_services_credit_control[0]
    assert got.rating_group == 7
    assert got.granted_service_unit is None
    assert got.additional_avps == []


def test_undecorated_grouped_subclass_reads_its_new_names() -> None:
    """A subclass of a grouped class that adds ``avp_def`` names without ``@grouped_avp``
    reads them as None before anything else touched the class (as with the old fallback),
    and decodes them once present."""
    from diameter.message.avp.generator import AvpGenDef

    class MyMscc(MultipleServicesCreditControl):
        avp_def = MultipleServicesCreditControl.avp_def + (
            AvpGenDef("my_counter", 99001, 10415),)

    fresh = MyMscc()
    assert fresh.my_counter is None
    assert fresh.rating_group is None
    assert fresh.used_service_unit == []


def test_decorated_grouped_subclass_keeps_its_defaults() -> None:
    """A decorated subclass (python-diameter's dataclass style) that declares fields keeps
    their defaults: the subclass hook leaves declared names to the decorator."""
    from diameter.message.avp.generator import AvpGenDef, grouped_avp

    @grouped_avp
    class Mscc2(MultipleServicesCreditControl):
        my_flag: int = 5
        avp_def = MultipleServicesCreditControl.avp_def + (
            AvpGenDef("my_flag", 99002, 10415),)

    m = Mscc2()
    assert m.my_flag == 5
    assert m.rating_group is None
    m2 = Mscc2(my_flag=None, rating_group=3)
    assert m2.rating_group == 3
