"""Unit tests of the class generator on small hand-written dictionaries."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from diameter.dictionary import gen_classes
from diameter.dictionary.gen_classes import HEADER, camel, generate_classes, snake
from diameter.dictionary.source import load_file

DATA = """
[source]
name = "test"
vendor = 0

[[vendors]]
id = 10415
name = "3GPP"
const = "TGPP"

[[vendors]]
id = 2011
name = "Huawei"
const = "HUAWEI"

[[applications]]
id = 4
name = "Diameter Credit Control"
kind = "auth"
commands = ["Credit-Control"]

[[applications]]
id = 16777251
name = "S6a"
vendor = 10415
commands = ["Update-Location"]

[[avps]]
code = 263
name = "Session-Id"
type = "UTF8String"

[[avps]]
code = 258
name = "Auth-Application-Id"
type = "Unsigned32"

[[avps]]
code = 443
name = "Subscription-Id"
type = "Grouped"
grammar = "{ Subscription-Id-Type } { Subscription-Id-Data } *[ AVP ]"

[[avps]]
code = 450
name = "Subscription-Id-Type"
type = "Enumerated"

[[avps]]
code = 444
name = "Subscription-Id-Data"
type = "UTF8String"

[[avps]]
code = 55
name = "Event-Timestamp"
type = "Time"

[[avps]]
code = 873
vendor = 10415
name = "Service-Information"
type = "Grouped"
grammar = "*[ Subscription-Id ] [ Node-Info ] [ IN-Information/2011 ] *[ AVP ]"

[[avps]]
code = 900
vendor = 10415
name = "Node-Info"
type = "Grouped"
grammar = "[ Node-Info ] [ Event-Timestamp ] [ No-Such-AVP ]"

[[avps]]
code = 20300
vendor = 2011
name = "IN-Information"
type = "Grouped"
grammar = "[ Account-Query-Method ] 2*3{ Event-Timestamp }"

[[avps]]
code = 20346
vendor = 2011
name = "Account-Query-Method"
type = "Unsigned32"

[[avps]]
code = 873
vendor = 2011
name = "Service-Information"
type = "Grouped"
grammar = "[ Account-Query-Method ]"

[[avps]]
code = 1400
vendor = 10415
name = "Subscription-Data"
type = "Grouped"
grammar = "[ Event-Timestamp ]"

[[commands]]
code = 272
name = "Credit-Control"
application = 4
flags = "RP"
request = "< Session-Id > { Auth-Application-Id } *[ Subscription-Id ] [ Service-Information ]"
answer = "< Session-Id > { Auth-Application-Id } [ Foo-Missing ]"

[[commands]]
code = 316
name = "Update-Location"
application = 16777251
flags = "RP"
request = "< Session-Id > [ Subscription-Data ]"
answer = "< Session-Id >"

[[commands]]
code = 8388999
name = "Made-Up-Thing"
application = 16777251
flags = "R"
request = "< Session-Id > { Auth-Application-Id } *[ Event-Timestamp ]"
answer = "< Session-Id >"
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[dict[Path, str], list[str]]:
    path = tmp_path_factory.mktemp("dict") / "test.toml"
    path.write_text(DATA)
    d = load_file(path)
    warnings: list[str] = []
    return generate_classes(d, warn=warnings.append), warnings


def _module(out: dict[Path, str], name: str) -> str:
    return out[gen_classes.COMMANDS_DIR / f"{name}.py"]


def _grouped(out: dict[Path, str], name: str) -> str:
    """The grouped module that defines class ``name``: one shard of the grouped package,
    the only one that defines it and the one the package's ``_SHARD`` table names (so
    that ``from diameter.message.avp.grouped import name`` finds it)."""
    package = gen_classes.GROUPED_PATH.parent
    init = ast.parse(out[gen_classes.GROUPED_PATH])
    shard = ast.literal_eval(next(n.value for n in init.body if isinstance(n, ast.Assign)
                                  and ast.unparse(n.targets[0]) == "_SHARD"))[name]
    defining = [path.stem for path, text in sorted(out.items())
                if path.parent == package and path.suffix == ".py"
                and any(isinstance(n, ast.ClassDef) and n.name == name
                        for n in ast.parse(text).body)]
    assert defining == [shard], (name, defining, shard)
    return out[package / f"{shard}.py"]


def _class(source: str, name: str) -> ast.ClassDef:
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"class {name} not generated")


def _fields(cls: ast.ClassDef) -> dict[str, str]:
    """Attribute -> annotation, without the ``| None`` every single-valued one carries."""
    return {n.target.id: _raw_fields(cls)[n.target.id].removesuffix(" | None") for n in cls.body
            if isinstance(n, ast.AnnAssign)}


def _raw_fields(cls: ast.ClassDef) -> dict[str, str]:
    return {n.target.id: ast.unparse(n.annotation) for n in cls.body
            if isinstance(n, ast.AnnAssign)}


def test_single_valued_attributes_are_optional_and_lists_are_not(generated):
    out, _ = generated
    # grouped.py keeps python-diameter's plain annotations (its tests read them);
    # the stub next to it is what type checkers see
    stub = ast.parse(out[gen_classes.GROUPED_PATH.with_suffix(".pyi")])
    si = _raw_fields(next(n for n in stub.body if isinstance(n, ast.ClassDef)
                          and n.name == "ServiceInformation"))
    assert si["node_info"] == "NodeInfo | None"
    assert si["subscription_id"].startswith("list[") and "None" not in si["subscription_id"]
    runtime = _raw_fields(_class(_grouped(out, "ServiceInformation"), "ServiceInformation"))
    assert runtime["node_info"] == "NodeInfo"
    ccr = _raw_fields(_class(out[gen_classes.COMMANDS_DIR / "credit_control.py"],
                             "CreditControlRequest"))
    assert ccr["session_id"] == "str | None"


def _avp_def(cls_or_value) -> list[tuple]:
    value = cls_or_value
    if isinstance(cls_or_value, ast.ClassDef):
        value = next(n.value for n in cls_or_value.body
                     if isinstance(n, ast.AnnAssign) and n.target.id == "avp_def")
    return [tuple(ast.literal_eval(a) if not isinstance(a, ast.Name) else a.id for a in call.args)
            + tuple((k.arg, ast.unparse(k.value)) for k in call.keywords)
            for call in value.elts]


def test_names():
    assert snake("Subscription-Id-Type") == "subscription_id_type"
    assert snake("3GPP-Charging-Id") == "tgpp_charging_id"
    assert snake("Class") == "class_"
    assert camel("QoS-Information") == "QosInformation"
    assert camel("E-UTRAN-Vector") == "EUtranVector"
    assert camel("3GPP-Update-Location") == "UpdateLocation"


def test_every_file_is_marked_generated_and_compiles(generated):
    out, _ = generated
    assert gen_classes.GROUPED_PATH in out
    assert gen_classes.COMMANDS_DIR / "__init__.py" in out
    for path, text in out.items():
        assert text.startswith(HEADER), path
        compile(text, str(path), "exec")


def test_python_diameter_class_keeps_its_fields_first(generated):
    out, _ = generated
    sub = _class(_grouped(out, "SubscriptionId"), "SubscriptionId")
    assert list(_fields(sub))[:2] == ["subscription_id_type", "subscription_id_data"]
    assert _avp_def(sub) == [("subscription_id_type", 450, ("is_required", "True")),
                             ("subscription_id_data", 444, ("is_required", "True"))]


def test_grammar_members_are_added_after_python_diameter_ones(generated):
    out, _ = generated
    si = _class(_grouped(out, "ServiceInformation"), "ServiceInformation")
    fields = _fields(si)
    # python-diameter's own members come first, untouched
    assert list(fields)[0] == "subscription_id"
    # members from the grammar follow: Node-Info (new class) and Huawei's IN-Information
    assert fields["node_info"] == "NodeInfo"
    assert fields["in_information"] == "InInformation"
    assert list(fields)[-2:] == ["additional_avps", "avp_def"]


def test_new_class_members_types_and_lists(generated):
    out, _ = generated
    info = _class(_grouped(out, "InInformation"), "InInformation")
    fields = _fields(info)
    assert fields["account_query_method"] == "int"
    assert fields["event_timestamp"] == "list[datetime.datetime]"
    assert ("event_timestamp", 55, ("is_required", "True")) in _avp_def(info)
    assert ("account_query_method", 20346, 2011) in _avp_def(info)


def test_vendor_collision_gets_vendor_prefix(generated):
    out, _ = generated
    _class(_grouped(out, "ServiceInformation"), "ServiceInformation")
    hw = _class(_grouped(out, "HuaweiServiceInformation"), "HuaweiServiceInformation")
    assert ast.get_docstring(hw).startswith("Service-Information (873, vendor 2011)")


def test_self_reference_assigns_avp_def_after_classes(generated):
    out, _ = generated
    src = _grouped(out, "NodeInfo")
    node = _class(src, "NodeInfo")
    assert _fields(node)["node_info"] == "NodeInfo"
    tree = ast.parse(src)
    late = [n for n in tree.body if isinstance(n, ast.Assign)
            and ast.unparse(n.targets[0]) == "NodeInfo.avp_def"]
    assert len(late) == 1
    assert ("node_info", 900, 10415, ("type_class", "NodeInfo")) in _avp_def(late[0].value)
    node_pos = next(i for i, n in enumerate(tree.body)
                    if isinstance(n, ast.ClassDef) and n.name == "NodeInfo")
    assert tree.body.index(late[0]) > node_pos


def test_unresolved_members_are_skipped_with_warning(generated):
    out, warnings = generated
    assert any("No-Such-AVP" in w for w in warnings)
    assert any("Foo-Missing" in w for w in warnings)
    assert "no_such_avp" not in _fields(_class(_grouped(out, "NodeInfo"), "NodeInfo"))


def test_python_diameter_command_keeps_api_and_gains_grammar(generated):
    out, _ = generated
    src = _module(out, "credit_control")
    req = _class(src, "CreditControlRequest")
    fields = _fields(req)
    assert fields["subscription_id"] == "list[SubscriptionId]"
    assert fields["service_information"] == "ServiceInformation"
    bases = [ast.unparse(b) for b in req.bases]
    assert bases == ["SubscriptionIdMixin", "MultipleServicesCreditControlMixin", "CreditControl"]
    assigns = {n.target.id: ast.unparse(n.value) for n in req.body
               if isinstance(n, ast.AnnAssign) and n.value is not None}
    assert assigns["header_flags_request"] == "True"
    assert assigns["attr_defaults"] == "{'auth_application_id': 4}"
    base = _class(src, "CreditControl")
    base_assigns = {n.target.id: ast.unparse(n.value) for n in base.body
                    if isinstance(n, ast.AnnAssign) and n.value is not None}
    assert base_assigns == {"code": "272", "name": "'Credit-Control'",
                            "default_application_id": "4"}


def test_new_command_module(generated):
    out, _ = generated
    src = _module(out, "made_up_thing")
    req = _class(src, "MadeUpThingRequest")
    fields = _fields(req)
    assert fields["session_id"] == "str"
    assert fields["event_timestamp"] == "list[datetime.datetime]"
    assigns = {n.target.id: ast.unparse(n.value) for n in req.body
               if isinstance(n, ast.AnnAssign) and n.value is not None}
    assert assigns["header_flags_proxyable"] == "False"
    assert assigns["attr_lists"] == "('event_timestamp',)"
    assert assigns["attr_defaults"] == "{'auth_application_id': 16777251}"
    assert _class(src, "MadeUpThing").bases[0].id == "DefinedMessage"


def test_init_registers_by_code_and_application(generated):
    out, _ = generated
    init = out[gen_classes.COMMANDS_DIR / "__init__.py"]
    # modules are imported lazily: a name -> module table, and code -> class name indexes
    assert '    "MadeUpThing": "made_up_thing",' in init
    assert "from .made_up_thing import MadeUpThing, MadeUpThingAnswer, MadeUpThingRequest" in init
    assert '    (16777251, 316): "UpdateLocation",' in init
    assert '    (4, 272): "CreditControl",' in init
    assert '    8388999: "MadeUpThing",' in init
    # python-diameter's placeholder names survive
    assert "class SipUserAuthorization(UndefinedMessage):" in init
    tree = ast.parse(init)
    names = ast.literal_eval(next(n.value for n in tree.body if isinstance(n, ast.Assign)
                                  and ast.unparse(n.targets[0]) == "__all__"))
    assert {"SipUserAuthorization", "CreditControlRequest", "MadeUpThingAnswer",
            "all_commands", "register"} <= set(names)


def test_placeholder_becomes_alias_when_typed(tmp_path):
    path = tmp_path / "sip.toml"
    path.write_text(textwrap.dedent("""
        [[avps]]
        code = 263
        name = "Session-Id"
        type = "UTF8String"

        [[commands]]
        code = 283
        name = "User-Authorization"
        application = 6
        request = "< Session-Id >"
        answer = "< Session-Id >"
        """))
    out = generate_classes(load_file(path), warn=lambda m: None)
    init = out[gen_classes.COMMANDS_DIR / "__init__.py"]
    assert "class SipUserAuthorization(" not in init
    assert '    "SipUserAuthorization": "sip_user_authorization",' in init
    assert '    (6, 283): "SipUserAuthorization",' in init
    src = out[gen_classes.COMMANDS_DIR / "sip_user_authorization.py"]
    req = _class(src, "SipUserAuthorizationRequest")
    assert _fields(req)["session_id"] == "str"
    # python-diameter's User-Authorization (300) keeps its module and class
    assert "class UserAuthorizationRequest(" in out[gen_classes.COMMANDS_DIR / "user_authorization.py"]


def test_huawei_extension_members_join_the_3gpp_class(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text(textwrap.dedent("""
        [[avps]]
        code = 873
        vendor = 10415
        name = "Service-Information"
        type = "Grouped"
        grammar = "*[ AVP ]"
        ext_members = ["IN-Information/2011:20300", "P2PSMS-Information/2011:20400"]

        [[avps]]
        code = 20300
        vendor = 2011
        name = "IN-Information"
        type = "Grouped"
        grammar = "[ Account-Query-Method ]"

        [[avps]]
        code = 20346
        vendor = 2011
        name = "Account-Query-Method"
        type = "Unsigned32"
        """))
    warnings: list[str] = []
    out = generate_classes(load_file(path), warn=warnings.append)
    src = _grouped(out, "ServiceInformation")
    fields = _fields(_class(src, "ServiceInformation"))
    assert fields["in_information"] == "InInformation"  # scalar
    assert ("in_information", 20300, 2011, ("type_class", "InInformation")) in \
        _avp_def(_class(src, "ServiceInformation"))
    assert _fields(_class(_grouped(out, "InInformation"), "InInformation"))[
        "account_query_method"] == "int"
    # P2PSMS-Information is not in this dictionary: skipped, with a warning
    assert any("P2PSMS-Information" in w for w in warnings)
