"""The front's mapping of an engine outcome onto the CCA content (`ocs.mapping.result_of`):
its Grants and CCResult are built without their dataclass ``__init__`` when compiled, and
must equal what ``__init__`` builds, every field (a field added to the dataclass and not
set there fails here)."""
from __future__ import annotations

import dataclasses

from diameter.cc.types import CCRequest, CCResult, FinalUnit, FinalUnitAction, Grant, RequestType, Units
from diameter.ocs.mapping import result_of
from diameter.ocs.model import Grant as EngineGrant
from diameter.ocs.model import Outcome


def _fields(obj):
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # AttributeError: unset


def test_result_of_builds_what_the_dataclasses_build():
    req = CCRequest("s;1", RequestType.UPDATE, 3, message=object())
    out = Outcome(2001, [EngineGrant(1, 2001, 7, "octets", 1 << 20, validity_time=600, quota_holding_time=30,
                                     volume_threshold=1000, time_threshold=None),
                         EngineGrant(2, 4012, None, None, None, final_action=1, redirect_address="http://up/",
                                     restriction_filter_rules=["permit out ip from any to any"], filter_ids=["f"])],
                  account_id=4, balance=100, error_message="partly")
    res = result_of(out, req)
    want = CCResult(2001, [Grant(1, [7], Units(total_octets=1 << 20), 2001, 600, 30, 1000, None, None),
                           Grant(2, [], None, 4012, None, None, None, None,
                                 FinalUnit(FinalUnitAction.REDIRECT, 2, "http://up/",
                                           (b"permit out ip from any to any",), ("f",)))],
                    error_message="partly")
    assert type(res) is CCResult and all(type(g) is Grant for g in res.grants)
    assert _fields(res) == _fields(want)
    assert [_fields(g) for g in res.grants] == [_fields(g) for g in want.grants]
    # fresh lists for each result: appending to one changes no other
    res.extra_avps.append((1, 0, "x"))
    res.grants[0].triggers.append(1)
    again = result_of(out, req)
    assert again.extra_avps == [] and again.grants[0].triggers == []


def test_charge_request_reads_parsed_and_lazily_decoded_fields_alike():
    from diameter.cc import types as cc_types
    from diameter.cc.types import Units
    from diameter.cc.wire import Usage, build_ccr, parse_ccr
    from diameter.message import Message
    from diameter.ocs.mapping import charge_request
    from diameter.ocs.model import RequestKind

    assert type(cc_types._UNSET) is object  # what mapping._field takes for "not decoded yet"
    raw = build_ccr(session_id="s;9", request_type=2, request_number=4, origin_host="h", origin_realm="r",
                    destination_realm="r", destination_host=None, service_context_id="32260@3gpp.org",
                    subscription_ids=[(1, "26201"), (0, "4917")], usages=[Usage(1, requested=Units(time=60))],
                    requested_action=2).as_bytes()
    msg = Message.from_bytes(raw)
    parsed = parse_ccr(msg, raw=raw)  # the parser fills the slots
    lazy = CCRequest("s;9", RequestType.UPDATE, 4, peer="h", mscc=parsed.mscc, message=msg)  # decoded on read
    assert lazy._subscription_ids is cc_types._UNSET and parsed._subscription_ids is not cc_types._UNSET
    a, b = charge_request(parsed, RequestKind.UPDATE), charge_request(lazy, RequestKind.UPDATE)
    for r in (a, b):
        assert r.subscriptions == [(1, "26201"), (0, "4917")]
        assert r.service_context == "32260@3gpp.org" and int(r.action) == 2
    nothing = CCRequest("s;9", RequestType.UPDATE, 4, user_name="alice@x", message=None)
    assert charge_request(nothing, RequestKind.UPDATE).subscriptions == [(3, "alice@x"), (0, "alice@x")]
