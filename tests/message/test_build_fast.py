"""The fast paths of building typed messages give what the general code gives."""
from __future__ import annotations

import dataclasses

import pytest

from diameter.message import Message, MessageHeader
from diameter.message.avp import grouped
from diameter.message.avp.generator import new_grouped
from diameter.message.commands import all_commands
from diameter.message.commands.credit_control import CreditControlAnswer, CreditControlRequest


def _header(h: MessageHeader) -> tuple:
    return (h.version, h.length, h.command_flags, h.command_code, h.application_id,
            h.hop_by_hop_identifier, h.end_to_end_identifier)


def test_fresh_message_same_as_general_init() -> None:
    classes = {c for c in all_commands.values() if isinstance(c, type)}
    subclasses = {s for c in classes for s in c.__subclasses__()}
    checked = 0
    for cls in classes | subclasses:
        fast = cls()                 # header and avps left out: the fast path
        general = cls(avps=[])       # the general __init__
        assert _header(fast.header) == _header(general.header), cls
        assert fast.__dict__.keys() == general.__dict__.keys(), cls
        assert fast.as_bytes() == general.as_bytes(), cls
        checked += 1
    assert checked > 50


def test_new_grouped_same_as_call() -> None:
    kw = {"rating_group": 7, "used_service_unit": [grouped.UsedServiceUnit(cc_total_octets=5)],
          "service_identifier": None}
    fast = new_grouped(grouped.MultipleServicesCreditControl, dict(kw))
    general = grouped.MultipleServicesCreditControl(**kw)
    assert fast == general and fast.__dict__ == general.__dict__
    assert dataclasses.asdict(fast) == dataclasses.asdict(general)
    with pytest.raises(TypeError, match="unexpected keyword"):
        new_grouped(grouped.SubscriptionId, {"nope": 1})


def test_new_grouped_honours_own_init() -> None:
    class Custom(grouped.SubscriptionId):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.subscription_id_type = 9

    assert new_grouped(Custom, {"subscription_id_data": "1"}).subscription_id_type == 9


def test_helpers_append_to_decoded_lists() -> None:
    r = CreditControlRequest()
    r.add_subscription_id(0, "41780000001")
    r.add_multiple_services_credit_control(rating_group=1)
    assert [s.subscription_id_data for s in r.subscription_id] == ["41780000001"]
    d = Message.from_bytes(r.as_bytes())
    d.add_subscription_id(1, "228010000000001")
    d.add_multiple_services_credit_control(rating_group=2, result_code=2001)
    again = Message.from_bytes(d.as_bytes())
    assert [s.subscription_id_type for s in again.subscription_id] == [0, 1]
    assert [m.rating_group for m in again.multiple_services_credit_control] == [1, 2]


def test_to_answer_fast_same_header() -> None:
    req = CreditControlRequest()
    req.header.hop_by_hop_identifier, req.header.end_to_end_identifier = 11, 22
    for flags in (0x80, 0xC0, 0xE0):
        req.header.command_flags = flags
        ans = req.to_answer()
        assert type(ans) is CreditControlAnswer
        assert _header(ans.header) == (1, 0, flags & 0x40, 272, 4, 11, 22)



def test_to_answer_general_after_post_init(monkeypatch: pytest.MonkeyPatch) -> None:
    def post(self: CreditControlAnswer) -> None:
        self.header.command_flags = 0xFF

    monkeypatch.setattr(CreditControlAnswer, "__post_init__", post, raising=False)
    r = CreditControlRequest()
    r.header.command_flags = 0x80
    assert r.to_answer().header.command_flags == 0x3F   # R and P cleared after __post_init__
