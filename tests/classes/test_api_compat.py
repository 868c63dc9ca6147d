"""The generated classes expose python-diameter 0.9.0's API (names from python-api.toml)."""
from __future__ import annotations

import dataclasses
import importlib

import pytest

from diameter.dictionary.gen_classes import load_api

API = load_api()
MODULES = sorted(API["modules"])
MESSAGES = {n: b for n, b in API["messages"].items() if "avp_def" in b}
GROUPED = API["grouped"]


def test_extraction_data_is_complete():
    assert API["meta"]["version"] == "0.9.0"
    assert len(MODULES) == 35
    assert len(GROUPED) == API["meta"]["grouped_classes"]
    assert len(MESSAGES) == 70


@pytest.mark.parametrize("module", MODULES)
def test_module_exports_python_diameter_names(module):
    mod = importlib.import_module(f"diameter.message.commands.{module}")
    assert set(API["modules"][module]["all"]) <= set(mod.__all__)
    for name in API["modules"][module]["all"]:
        assert isinstance(getattr(mod, name), type)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_attributes(name):
    body = MESSAGES[name]
    mod = importlib.import_module(f"diameter.message.commands.{body['module']}")
    cls = getattr(mod, name)
    assert cls.code == body["code"]
    assert cls.name == body["command_name"]
    ours = {g.attr_name: g for g in cls.avp_def}
    for entry in body["avp_def"]:
        assert entry["name"] in ours, f"{name}.{entry['name']} missing"
        assert ours[entry["name"]].avp_code == entry["code"]
    msg = cls()
    assert msg.header.is_request is body["header_request"]
    assert msg.header.is_proxyable is body["header_proxyable"]
    assert msg.header.command_code == body["code"]
    for attr in body["lists"]:
        assert getattr(msg, attr) == [], attr
    for attr, value in body["defaults"].items():
        assert getattr(msg, attr) == value, attr
    for entry in body["avp_def"]:
        if entry["name"] not in body["lists"] and entry["name"] not in body["defaults"]:
            assert getattr(msg, entry["name"]) is None, entry["name"]
    with pytest.raises(AttributeError):
        _ = msg.no_such_attribute_anywhere
    for helper in body["helpers"]:
        assert callable(getattr(msg, helper))


@pytest.mark.parametrize("name", sorted(GROUPED))
def test_grouped_class_fields(name):
    grouped = importlib.import_module("diameter.message.avp.grouped")
    body = GROUPED[name]
    cls = getattr(grouped, name)
    if "alias_of" in body:
        assert cls is getattr(grouped, body["alias_of"])
        return
    for base in body["bases"]:
        assert issubclass(cls, getattr(grouped, base))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for member in body["members"]:
        assert member["name"] in fields, f"{name}.{member['name']} missing"
        is_list = fields[member["name"]].default_factory is list
        assert is_list == member["list"], member["name"]
    obj = cls()
    for member in body["members"]:
        assert getattr(obj, member["name"]) == ([] if member["list"] else None)
    codes = {g.attr_name: g.avp_code for g in cls.avp_def}
    for member in body["members"]:
        if "code" in member:
            assert codes[member["name"]] == member["code"]


def test_placeholders_and_all_commands():
    commands = importlib.import_module("diameter.message.commands")
    for name, body in API["placeholders"].items():
        cls = getattr(commands, name)
        assert cls.code == body["code"]
    assert {int(k) for k in API["all_commands"]} <= set(commands.all_commands)
    for code, name in API["all_commands"].items():
        assert commands.all_commands[int(code)] is getattr(commands, name), name


def test_helpers_behave_like_python_diameter():
    from diameter.message.avp.grouped import MultipleServicesCreditControl, SubscriptionId
    from diameter.message.commands import CreditControlRequest
    ccr = CreditControlRequest()
    ccr.add_subscription_id(0, "41780000000")
    assert ccr.subscription_id == [SubscriptionId(0, "41780000000")]
    ccr.add_multiple_services_credit_control(rating_group=8000, service_identifier=1)
    mscc = ccr.multiple_services_credit_control[0]
    assert isinstance(mscc, MultipleServicesCreditControl)
    assert mscc.rating_group == 8000
    assert mscc.service_identifier == [1]


def test_register_custom_command():
    from diameter.message import DefinedMessage
    from diameter.message.commands import all_commands, register

    class SpecialThing(DefinedMessage):
        code: int = 999999
        name: str = "Special-Thing"

    register(SpecialThing)
    try:
        assert all_commands[999999] is SpecialThing
        with pytest.raises(RuntimeError):
            register(int)  # type: ignore[arg-type]
    finally:
        all_commands.pop(999999, None)
