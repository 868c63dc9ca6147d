"""``codec.assemble`` (the constructors' compiled hot parts) gives what its Python source
and the message layer's general code give.

The module under test is whatever the build runs (compiled, or the source with
``DIAMETER_PURE_PYTHON=1``); its source is also loaded apart and run on the same inputs.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import assemble
from diameter.codec.errors import AvpEncodeError
from diameter.message import DefinedMessage, Message
from diameter.message._base import _DEFINED_INIT, _NO_POST_INIT
from diameter.message.avp import grouped
from diameter.message.commands import all_commands
from diameter.message.commands.credit_control import (CreditControlAnswer,
                                                      CreditControlRequest)

SOURCE = Path(assemble.__file__).with_name("assemble.py")


def _source_module() -> Any:
    spec = importlib.util.spec_from_file_location("diameter.codec._assemble_source", SOURCE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SRC = _source_module()


def _hdr(h: Any) -> tuple:
    return (h.version, h.length, h.command_flags, h.command_code, h.application_id,
            h.hop_by_hop_identifier, h.end_to_end_identifier)


def _state(obj: Any) -> dict:
    return {k: (_hdr(v) if k == "header" else v) for k, v in obj.__dict__.items()}


def _classes() -> list[type]:
    classes = {c for c in all_commands.values()
               if isinstance(c, type) and issubclass(c, DefinedMessage)}
    return sorted(classes | {s for c in classes for s in c.__subclasses__()},
                  key=lambda c: c.__qualname__)


def test_init_fresh_and_new_answer_match_the_source_on_every_command() -> None:
    checked = 0
    for cls in _classes():
        a, b = cls.__new__(cls), cls.__new__(cls)
        assert assemble.init_fresh(a.__dict__, cls, _NO_POST_INIT) == SRC.init_fresh(
            b.__dict__, cls, _NO_POST_INIT)
        assert _state(a) == _state(b) == _state(cls()), cls
        req = cls()
        req.header.hop_by_hop_identifier, req.header.end_to_end_identifier = 7, 9
        x = assemble.new_answer(cls, req.__dict__, _DEFINED_INIT, _NO_POST_INIT)
        y = SRC.new_answer(cls, req.__dict__, _DEFINED_INIT, _NO_POST_INIT)
        assert type(x) is type(y) is cls and _state(x) == _state(y)
        # a decoded request whose header was not read: the answer's header from its bytes
        decoded = Message.from_bytes(req.as_bytes())
        assert "header" not in decoded.__dict__
        z = assemble.new_answer(cls, decoded.__dict__, _DEFINED_INIT, _NO_POST_INIT)
        w = SRC.new_answer(cls, decoded.__dict__, _DEFINED_INIT, _NO_POST_INIT)
        assert "header" not in decoded.__dict__
        assert type(z) is type(w) is cls and _state(z) == _state(w) == _state(x), cls
        checked += 1
    assert checked > 50


def test_a_decoded_message_makes_its_header_when_first_read() -> None:
    req = CreditControlRequest()
    req.session_id = "s;1"
    req.header.hop_by_hop_identifier, req.header.end_to_end_identifier = 0xFFFFFFF0, 0x12345678
    req.header.is_proxyable = True
    wire = req.as_bytes()
    msg = Message.from_bytes(wire)
    assert "header" not in msg.__dict__
    h = msg.header
    assert msg.__dict__["header"] is h is msg.header   # made once, then an instance attribute
    assert _hdr(h) == (1, len(wire), 0xC0, 272, 4, 0xFFFFFFF0, 0x12345678)
    assert h.length_header == 20 and h.is_request and h.is_proxyable
    assert msg.as_bytes() == wire
    plain = Message.from_bytes(wire, plain_msg=True)
    assert _hdr(plain.header) == _hdr(h)
    # nothing to make it from: no header (as before, for an instance made without __init__)
    bare = CreditControlRequest.__new__(CreditControlRequest)
    assert not hasattr(bare, "header") and getattr(bare, "header", None) is None


def test_new_answer_leaves_other_classes_to_the_general_code() -> None:
    class Posted(CreditControlAnswer):
        def __post_init__(self) -> None:
            self.header.command_flags |= 0x20

    class OwnInit(CreditControlAnswer):
        def __init__(self, header: Any = None, avps: Any = None) -> None:
            super().__init__(header, avps)
            self.result_code = 5012

    d = CreditControlRequest().__dict__
    for mod in (assemble, SRC):
        assert mod.new_answer(Posted, d, _DEFINED_INIT, _NO_POST_INIT) is None
        assert mod.new_answer(OwnInit, d, _DEFINED_INIT, _NO_POST_INIT) is None
        assert mod.new_answer(CreditControlAnswer, {"header": object()}, _DEFINED_INIT, _NO_POST_INIT) is None
        assert mod.new_answer(CreditControlAnswer, {}, _DEFINED_INIT, _NO_POST_INIT) is None
        assert not mod.init_fresh({}, Posted, _NO_POST_INIT)


_units = st.sampled_from([None, grouped.GrantedServiceUnit(cc_total_octets=5),
                          grouped.RequestedServiceUnit(cc_time=30)])
_ints = st.one_of(st.none(), st.integers(0, 2**31 - 1))
_usu = st.one_of(st.none(), st.just(grouped.UsedServiceUnit(cc_total_octets=1)),
                 st.lists(st.builds(grouped.UsedServiceUnit, cc_time=st.integers(0, 99)),
                          max_size=3))
_sids = st.one_of(st.none(), st.integers(0, 9), st.lists(st.integers(0, 9), max_size=3))


@settings(max_examples=150, deadline=None)
@given(gsu=_units, rsu=_units, usu=_usu, tcu=_ints, si=_sids, rg=_ints, vt=_ints, rc=_ints,
       decoded=st.booleans())
def test_add_mscc_matches_the_source_and_the_general_call(gsu: Any, rsu: Any, usu: Any,
                                                          tcu: Any, si: Any, rg: Any,
                                                          vt: Any, rc: Any,
                                                          decoded: bool) -> None:
    args = (gsu, rsu, usu, tcu, si, rg, None, vt, rc, None, None)
    msgs = []
    for mod in (assemble, SRC):
        m = CreditControlRequest()
        m.add_subscription_id(0, "1")
        if decoded:     # a decoded message: the list is in its bytes
            m = Message.from_bytes(m.as_bytes())
        mod.add_mscc(m, grouped.MultipleServicesCreditControl, *args)
        msgs.append(m)
    kw = {k: v for k, v in zip(("granted_service_unit", "requested_service_unit",
                                "used_service_unit", "tariff_change_usage",
                                "service_identifier", "rating_group"), args) if v is not None}
    for name in ("used_service_unit", "service_identifier"):
        if name in kw and not isinstance(kw[name], list):
            kw[name] = [kw[name]]
    kw.update({k: v for k, v in (("validity_time", vt), ("result_code", rc)) if v is not None})
    general = grouped.MultipleServicesCreditControl(**kw)
    a, b = (m.multiple_services_credit_control[-1] for m in msgs)
    assert a.__dict__ == b.__dict__ == general.__dict__
    assert dataclasses.asdict(a) == dataclasses.asdict(general)
    assert msgs[0].as_bytes() == msgs[1].as_bytes()
    assert len(msgs[0].subscription_id) == 1


@pytest.mark.parametrize("mod", [assemble, SRC], ids=["build", "source"])
def test_new_grouped_checks_keywords_unless_the_class_has_every_name_given(mod: Any) -> None:
    # add_mscc's names: the Multiple-Services-Credit-Control class has them all (remembered)
    g = grouped.MultipleServicesCreditControl
    m = mod.new_grouped(g, {"rating_group": 1}, True, mod.MSCC_NAMES)
    assert m.__dict__ == {"rating_group": 1} and g._grouped_init[1].known == mod.MSCC_NAMES
    # a class without some of the names: each keyword is checked as the class call does
    spec = grouped.SubscriptionId._grouped_init[1]
    with pytest.raises(TypeError, match="unexpected keyword argument 'rating_group'"):
        mod.new_grouped(grouped.SubscriptionId, {"rating_group": 1}, True, mod.MSCC_NAMES)
    assert spec.known is None
    s = mod.new_grouped(grouped.SubscriptionId, {"subscription_id_type": 0}, True, mod.MSCC_NAMES)
    assert s.__dict__ == grouped.SubscriptionId(subscription_id_type=0).__dict__


@settings(max_examples=150, deadline=None)
@given(kwargs=st.dictionaries(st.sampled_from(["subscription_id_type", "subscription_id_data",
                                               "avp_def", "nope"]),
                              st.one_of(st.none(), st.integers(0, 4), st.text(max_size=5))))
def test_new_grouped_matches_the_source_and_the_class_call(kwargs: dict) -> None:
    outcomes = []
    for make in (lambda: assemble.new_grouped(grouped.SubscriptionId, dict(kwargs)),
                 lambda: SRC.new_grouped(grouped.SubscriptionId, dict(kwargs)),
                 lambda: grouped.SubscriptionId(**kwargs)):
        try:
            outcomes.append(("ok", make().__dict__))
        except TypeError as e:
            outcomes.append(("error", str(e)))
    assert outcomes[0] == outcomes[1] == outcomes[2]


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(max_size=12), st.binary(max_size=8), st.none(),
                       st.integers(0, 5)))
def test_identity_setter_matches_the_source_and_the_descriptor(value: Any) -> None:
    from diameter.message._binding import IdentityAttr, _ENCODE_IDENTITY
    outcomes = []
    setters = (lambda o: assemble.set_identity("origin_host", _ENCODE_IDENTITY, o, value),
               lambda o: SRC.set_identity("origin_host", _ENCODE_IDENTITY, o, value),
               lambda o: IdentityAttr.__set__(CreditControlRequest.__dict__["origin_host"],
                                              o, value),
               lambda o: setattr(o, "origin_host", value))
    for setter in setters:
        m = CreditControlRequest()
        try:
            setter(m)
            outcomes.append(("ok", m.__dict__.get("origin_host", "unset")))
        except AvpEncodeError as e:
            outcomes.append(("error", str(e)))
    assert len(set(map(repr, outcomes))) == 1, outcomes


def test_identity_attributes_keep_their_api() -> None:
    from diameter.message._binding import IdentityAttr
    attr = CreditControlRequest.__dict__["origin_host"]
    assert isinstance(attr, IdentityAttr) and type(attr).__name__ == "IdentityAttr"
    assert "Origin-Host" in repr(attr)
    m = CreditControlRequest()
    m.origin_host = "host.example"
    assert m.origin_host == b"host.example"
    m.destination_host = "bücher.example"      # not ASCII: IDNA
    assert m.destination_host == b"xn--bcher-kva.example"
    del m.origin_host
    assert m.origin_host is None
    with pytest.raises(AvpEncodeError):
        m.origin_host = "a..b\udcff"


def _init_grouped_reference(d: dict, args: tuple, kwargs: dict, g: Any) -> None:
    """``assemble.init_grouped`` as it was before it skipped the list fields' loop."""
    if args:
        if len(args) > len(g.names):
            raise TypeError(f"{g.cls_name}() takes at most {len(g.names)} "
                            f"positional arguments ({len(args)} given)")
        for i in range(len(args)):
            d[g.names[i]] = args[i]
    for k, v in kwargs.items():
        if k not in g.name_set:
            raise TypeError(f"{g.cls_name}() got an unexpected keyword argument '{k}'")
        if k != "avp_def":
            d[k] = v
    for k in g.list_fields:
        if k in d and d[k] is None:
            del d[k]
    for k, v in g.eager:
        if k not in d:
            d[k] = v


_MSCC_NAMES = ["used_service_unit", "service_identifier", "rating_group", "result_code",
               "envelope", "avp_def", "nope"]


@settings(max_examples=200, deadline=None)
@given(before=st.dictionaries(st.sampled_from(_MSCC_NAMES[:5]), st.sampled_from([None, 1, [2]]),
                              max_size=3),
       args=st.lists(st.sampled_from([None, 1, [3]]), max_size=4),
       kwargs=st.dictionaries(st.sampled_from(_MSCC_NAMES), st.sampled_from([None, 5, [6]]),
                              max_size=4))
def test_init_grouped_matches_the_reference(before: dict, args: list, kwargs: dict) -> None:
    from diameter.codec.assemble import init_grouped
    spec = grouped.MultipleServicesCreditControl._grouped_init[1]
    outcomes = []
    for init in (init_grouped, _init_grouped_reference):
        d = dict(before)
        try:
            init(d, tuple(args), dict(kwargs), spec)
            outcomes.append(("ok", d))
        except TypeError as e:
            outcomes.append(("error", str(e)))
    assert outcomes[0] == outcomes[1]


def test_fresh_bytes_only_for_a_message_untouched_since_decoding() -> None:
    from diameter.codec.objects import fresh_bytes
    from diameter.message import Avp
    req = CreditControlRequest()
    req.session_id = "s;2"
    req.cc_request_number = 3
    wire = req.as_bytes()
    assert fresh_bytes(req.__dict__) is None            # built from attributes
    msg = Message.from_bytes(wire)
    assert fresh_bytes(msg.__dict__) is wire
    assert msg.header.command_code == 272 and msg._additional_avps == []
    assert fresh_bytes(msg.__dict__) is wire            # header and empty list read: still fresh
    msg.append_avp(Avp.new(1, value="x"))
    assert fresh_bytes(msg.__dict__) is None            # a custom AVP added
    read = Message.from_bytes(wire)
    assert read.cc_request_number == 3
    assert fresh_bytes(read.__dict__) is None           # attributes decoded into the dict
    assert fresh_bytes(Message.from_bytes(wire, plain_msg=True).__dict__) is None
    assert not hasattr(Message.from_bytes(wire, plain_msg=True), "_additional_avps")
