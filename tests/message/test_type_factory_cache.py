"""The decoder asks a generated ``type_factory`` once per (application, command, R bit).

Generated command classes mark their ``type_factory`` with ``by_r_bit`` (its class depends
on the R bit alone), so the decoder keeps its answer; a factory that is not marked (a
user's, or a subclass's override) is asked for every message, as before. Both builds
(compiled and ``DIAMETER_PURE_PYTHON=1``) run this file.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import pytest

import diameter.message.commands as commands
from diameter.codec.objects import MESSAGE_TYPES
from diameter.message import DefinedMessage, Message, MessageHeader
from diameter.message._base import all_commands, commands_by_application
from diameter.message.commands import register
from diameter.message.commands.credit_control import (CreditControl, CreditControlAnswer,
                                                      CreditControlRequest)


def _wire(flags: int, code: int, app: int) -> bytes:
    """A message of no AVPs: the header alone."""
    return (b"\x01\x00\x00\x14" + bytes([flags]) + code.to_bytes(3, "big") + app.to_bytes(4, "big")
            + (7).to_bytes(4, "big") + (9).to_bytes(4, "big"))


def _generated() -> Iterator[type]:
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        for cls in vars(mod).values():
            if (inspect.isclass(cls) and issubclass(cls, DefinedMessage) and cls.__module__ == mod.__name__
                    and "type_factory" in cls.__dict__):
                yield cls


def test_generated_factories_are_marked_and_their_answer_is_kept():
    seen = 0
    for base in _generated():
        assert base.type_factory.__func__ in MESSAGE_TYPES.r_bit_factories, base
        app = base.default_application_id
        for flags in (0x80, 0x00, 0xC0, 0x20):
            if commands_by_application.get((app, base.code)) is not base:
                continue   # another class of this code takes this application
            data = _wire(flags, base.code, app)
            want = base.type_factory(MessageHeader(1, 20, flags, base.code, app, 7, 9))
            MESSAGE_TYPES.cache.clear()
            first = Message.from_bytes(data)
            again = Message.from_bytes(data)
            assert type(first) is type(again) is want, (base, flags)
            assert (first.header.hop_by_hop_identifier, again.header.end_to_end_identifier) == (7, 9)
            seen += 1
    assert seen > 100


class _ByErrorBit(DefinedMessage):
    code = 0xFFFFF0
    name = "By-Error-Bit"

    @classmethod
    def type_factory(cls, header: MessageHeader) -> type | None:
        return _ErrorKind if header.command_flags & 0x20 else _PlainKind


class _ErrorKind(_ByErrorBit):
    pass


class _PlainKind(_ByErrorBit):
    pass


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved_code = dict(all_commands.items())
    saved_app = dict(commands_by_application.items())
    yield
    for reg, saved in ((all_commands, saved_code), (commands_by_application, saved_app)):
        for k in [k for k in reg.keys() if k not in saved]:
            del reg[k]
        for k, v in saved.items():
            if reg.get(k) is not v:
                reg[k] = v


@pytest.mark.usefixtures("restore_registry")
def test_a_factory_that_is_not_marked_is_asked_per_message():
    register(_ByErrorBit, 77)
    for flags in (0x20, 0x00, 0x20, 0x00, 0xA0, 0x80):
        m = Message.from_bytes(_wire(flags, _ByErrorBit.code, 77))
        assert type(m) is (_ErrorKind if flags & 0x20 else _PlainKind), flags


@pytest.mark.usefixtures("restore_registry")
def test_a_subclass_overriding_a_generated_factory_is_asked_per_message():
    class MyCreditControl(CreditControl):
        @classmethod
        def type_factory(cls, header: MessageHeader) -> type | None:
            if header.command_flags & 0x20:
                return MyErrorAnswer
            return CreditControlRequest if header.command_flags & 0x80 else CreditControlAnswer

    class MyErrorAnswer(CreditControlAnswer):
        pass

    register(MyCreditControl, 4)
    for flags in (0x20, 0x00, 0x20, 0x80, 0x20):
        m = Message.from_bytes(_wire(flags, 272, 4))
        want = MyErrorAnswer if flags & 0x20 else (CreditControlRequest if flags & 0x80 else CreditControlAnswer)
        assert type(m) is want, flags


@pytest.mark.usefixtures("restore_registry")
def test_a_subclass_keeping_the_generated_factory_gets_its_classes():
    class Plain(CreditControl):
        pass

    register(Plain, 4)
    for flags in (0x80, 0x00, 0x80):
        assert type(Message.from_bytes(_wire(flags, 272, 4))) is (
            CreditControlRequest if flags & 0x80 else CreditControlAnswer)
