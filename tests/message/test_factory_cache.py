"""The decoder keeps its class choice per (application, code, R bit) for the generated command
modules' ``type_factory`` (XRequest or XAnswer by the R bit alone), as for the default one;
any other factory is still asked for every message."""
from __future__ import annotations

import importlib
import pkgutil

from diameter.codec import core
from diameter.message import Message
from diameter.message import commands as commands_pkg
from diameter.message._base import DefinedMessage, MessageHeader
from diameter.message.commands.credit_control import (CreditControl, CreditControlAnswer,
                                                      CreditControlRequest)


def test_every_generated_factory_picks_by_the_r_bit_alone() -> None:
    seen = 0
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for obj in vars(mod).values():
            if not (isinstance(obj, type) and issubclass(obj, DefinedMessage)
                    and "type_factory" in obj.__dict__ and obj.__module__ == mod.__name__):
                continue
            fn = obj.__dict__["type_factory"].__func__
            assert fn in core.MESSAGE_TYPES.r_bit_factories, obj
            for flags in (0x80, 0xC0, 0x00, 0x40, 0xA0, 0x20):
                for app, hbh in ((0, 1), (4, 0xFFFFFFFF), (16777238, 7)):
                    got = obj.type_factory(MessageHeader(1, 20, flags, obj.code, app, hbh, hbh))
                    want = obj._request_cls if flags & 0x80 else obj._answer_cls
                    assert got is want and got is not None, (obj, flags)
            seen += 1
    assert seen > 80


def test_decoding_picks_the_factory_class_and_keeps_it() -> None:
    r = CreditControlRequest()
    r.session_id = "s;1"
    r.origin_host = b"h"
    r.origin_realm = b"r"
    r.destination_realm = b"d"
    r.auth_application_id = 4
    r.cc_request_type = 1
    r.cc_request_number = 0
    req = r.as_bytes()
    ans = r.to_answer()
    ans.result_code = 2001
    out = ans.as_bytes()
    core.MESSAGE_TYPES.cache.clear()
    assert type(Message.from_bytes(req)) is CreditControlRequest
    assert type(Message.from_bytes(out)) is CreditControlAnswer
    keys = [(4 << 25) | (272 << 1) | 1, (4 << 25) | (272 << 1)]
    assert [core.MESSAGE_TYPES.cache[k][1] for k in keys] == [CreditControlRequest, CreditControlAnswer]
    assert type(Message.from_bytes(req)) is CreditControlRequest      # from the cache
    assert type(Message.from_bytes(out)) is CreditControlAnswer


def test_a_factory_of_a_user_class_is_asked_every_time() -> None:
    calls = []

    class MyCreditControl(CreditControl):
        code = 272

        @classmethod
        def type_factory(cls, header: MessageHeader) -> type | None:
            calls.append(header.hop_by_hop_identifier)
            return CreditControlAnswer if header.hop_by_hop_identifier == 2 else CreditControlRequest

    assert MyCreditControl.__dict__["type_factory"].__func__ not in core.MESSAGE_TYPES.r_bit_factories
    from diameter.message._base import commands_by_application
    old = commands_by_application.get((99, 272))
    commands_by_application[(99, 272)] = MyCreditControl
    try:
        for hbh in (1, 2, 1):
            data = bytearray(CreditControlRequest().as_bytes())
            data[8:12] = (99).to_bytes(4, "big")
            data[12:16] = hbh.to_bytes(4, "big")
            m = Message.from_bytes(bytes(data))
            assert type(m) is (CreditControlAnswer if hbh == 2 else CreditControlRequest)
        assert calls == [1, 2, 1]
    finally:
        if old is None:
            del commands_by_application[(99, 272)]
        else:
            commands_by_application[(99, 272)] = old
