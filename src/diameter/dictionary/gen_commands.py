"""Generating ``message/commands/``: one module per command, and the package's lazy index."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .gen_grouped import annotation_for, optional_annotation
from .gen_model import (HEADER, PY_TYPES, RESERVED, SCALARS, Key, Member, Warn, camel,
                        extend_members, fix_key, snake)
from .source import CommandDef, Dictionary

@dataclass
class MessageClass:
    name: str
    is_request: bool
    members: list[Member] = field(default_factory=list)   # avp_def, in order
    annotations: dict[str, str] = field(default_factory=dict)
    proxyable: bool = True
    defaults: dict = field(default_factory=dict)
    lists: list[str] = field(default_factory=list)
    mixins: list[str] = field(default_factory=list)


@dataclass
class CommandModule:
    module: str
    code: int
    base: str
    command_name: str
    application_id: int
    request: MessageClass
    answer: MessageClass
    applications: list[int] = field(default_factory=list)
    defs: list[CommandDef] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


_MIXINS = {"add_subscription_id": "SubscriptionIdMixin",
           "add_multiple_services_credit_control": "MultipleServicesCreditControlMixin"}


def build_commands(d: Dictionary, api: dict, class_for: dict[Key, str], known_classes: set[str],
                   warn: Warn) -> list[CommandModule]:
    api_mods: dict[str, dict] = api.get("modules", {})
    api_msgs: dict[str, dict] = api.get("messages", {})
    by_code: dict[int, list[CommandDef]] = {}
    for c in d.commands:
        if c.request or c.answer:   # entries without grammar give no typed class
            by_code.setdefault(c.code, []).append(c)
    api_by_code = {api_msgs[m["base"]]["code"]: (mod, m) for mod, m in api_mods.items()}

    modules: list[CommandModule] = []
    used_modules = set(api_mods)
    placeholders = {p["code"]: (n, p["command_name"])
                    for n, p in api.get("placeholders", {}).items()}
    taken = set(known_classes) | RESERVED | {n for m in api_mods.values()
                                               for n in (m["base"], m["request"], m["answer"])}
    for code in sorted(set(by_code) | set(api_by_code)):
        defs = sorted(by_code.get(code, []), key=lambda c: (c.application, c.source))
        apps = sorted({c.application for c in defs})
        app_id = apps[0] if apps else 0
        if code in api_by_code:
            mod, m = api_by_code[code]
            base, req_name, ans_name = m["base"], m["request"], m["answer"]
            cmd_name = api_msgs[base]["command_name"]
        else:
            cmd_name = defs[0].name
            base = camel(cmd_name)
            if code in placeholders:   # python-diameter's name for this code
                base = placeholders[code][0]
                cmd_name = placeholders[code][1]
            if base in taken:
                base = f"{base}{code}"
            mod = snake(cmd_name)
            if mod in used_modules:
                mod = f"{mod}_{code}"
            used_modules.add(mod)
            req_name, ans_name = base + "Request", base + "Answer"
        taken |= {base, req_name, ans_name}
        flags = defs[0].flags if defs else "RP"
        cm = CommandModule(mod, code, base, cmd_name, app_id,
                           MessageClass(req_name, True, proxyable="P" in flags),
                           MessageClass(ans_name, False, proxyable="P" in flags),
                           apps, defs)
        for other in sorted({c.name for c in defs} - {cmd_name}):
            if camel(other) not in taken:
                cm.aliases.append(camel(other))
                taken.add(camel(other))
        for mc in (cm.request, cm.answer):
            body = api_msgs.get(mc.name)
            if body is not None:
                _api_message(d, mc, body, class_for, known_classes)
            for cdef in defs:
                vendor = d.applications[cdef.application].vendor if cdef.application in d.applications else 0
                rules = cdef.request if mc.is_request else cdef.answer
                extend_members(d, mc.members, rules, vendor, class_for,
                        f"command {mc.name} (application {cdef.application})", warn)
            for mem in mc.members:
                mc.annotations.setdefault(mem.attr, mem.annotation)
            if body is None:
                mc.lists = [m.attr for m in mc.members if m.is_list]
                if len(apps) == 1 and any(m.attr == "auth_application_id" and not m.is_list
                                          for m in mc.members):
                    app = d.applications.get(app_id)
                    if app is None or app.kind != "acct":
                        mc.defaults = {"auth_application_id": app_id}
            else:
                listed = set(mc.lists)
                api_attrs = {m["name"] for m in body.get("avp_def", [])}
                mc.lists += [m.attr for m in mc.members
                             if m.is_list and m.attr not in listed and m.attr not in api_attrs]
            for helper, mixin in _MIXINS.items():
                wants = body is not None and helper in body.get("helpers", [])
                attr = helper.removeprefix("add_")
                if wants or (body is None and attr in mc.lists):
                    mc.mixins.append(mixin)
        modules.append(cm)
    return modules


def _api_message(d: Dictionary, mc: MessageClass, body: dict, class_for: dict[Key, str],
                 known: set[str]) -> None:
    mc.annotations = dict(body.get("annotations", {}))
    mc.proxyable = body.get("header_proxyable", mc.proxyable)
    mc.defaults = dict(body.get("defaults", {}))
    mc.lists = list(body.get("lists", []))
    seen: set[str] = set()
    for m in body.get("avp_def", []):
        if m["name"] in seen:   # python-diameter listed a few twice (CCA, ACR)
            continue
        seen.add(m["name"])
        key = fix_key(d, (m["vendor"], m["code"]), m.get("type_class"), class_for, attr=m["name"])
        tclass = class_for.get(key, m.get("type_class"))
        if tclass is not None and tclass not in known:
            tclass = None
        ann = mc.annotations.get(m["name"]) or annotation_for(d, key, class_for, m["name"] in mc.lists)
        if tclass is not None and ann in ("bytes", "list[bytes]"):
            # python-diameter left some grouped attributes untyped
            ann = f"list[{tclass}]" if ann.startswith("list[") else tclass
            mc.annotations[m["name"]] = ann
        elif tclass is None and key in d.avps and d.avps[key].type in PY_TYPES:
            # python-diameter's annotation for a scalar that reads as another type
            right = PY_TYPES[d.avps[key].type]
            inner = ann.removeprefix("list[").removesuffix("]")
            if inner in SCALARS and inner != right:
                ann = ann.replace(inner, right)
                mc.annotations[m["name"]] = ann
        mc.members.append(Member(
            attr=m["name"], code=key[1], vendor=key[0], required=m["required"],
            mandatory=m.get("mandatory"), type_class=tclass,
            is_list=ann.startswith("list["), annotation=ann,
            avp_name=d.avps[key].name if key in d.avps else m.get("avp", "")))


def _names_in(annotation: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", annotation))


def render_command(cm: CommandModule, d: Dictionary, known_classes: set[str]) -> str:
    used_classes: set[str] = set()
    uses_datetime = False
    for mc in (cm.request, cm.answer):
        for ann in mc.annotations.values():
            names = _names_in(ann)
            used_classes |= names & known_classes
            uses_datetime |= "datetime" in names
        used_classes |= {m.type_class for m in mc.members if m.type_class}
    mixins = sorted({x for mc in (cm.request, cm.answer) for x in mc.mixins})
    identity = _identity_attrs(cm, d)
    apps = ", ".join(f"{d.applications[a].name} ({a})" if a in d.applications else str(a)
                     for a in cm.applications) or "no application in the dictionary data"
    public = sorted({cm.base, cm.request.name, cm.answer.name})
    lines = [HEADER, f'"""{cm.command_name} ({cm.code}) messages: {apps}."""',
             "from __future__ import annotations", "", "from typing import TYPE_CHECKING", ""]
    if uses_datetime:
        lines += ["import datetime  # noqa: F401  (used in annotations)", ""]
    lines.append("from .._base import DefinedMessage, Message, MessageHeader, by_r_bit")
    if cm.request.members or cm.answer.members:
        lines.append("from ..avp.generator import AvpGenDef, AvpGenType")
    else:
        lines.append("from ..avp.generator import AvpGenType")
    # the grouped classes this module uses (the others load through __getattr__ below)
    grouped = sorted((used_classes & known_classes) - set(public))
    if grouped:
        lines.append("from ..avp.grouped import (  # noqa: F401  (used in annotations)")
        lines.extend(f"    {n}," for n in grouped)
        lines.append(")")
    if mixins:
        lines.append(f"from ._helpers import {', '.join(mixins)}")
    lines += ["", "if TYPE_CHECKING:", "    from .._binding import IdentityAttr"]
    lines += ["", f"__all__ = {public!r}".replace("'", '"'), "", ""]
    lines += [
        f"class {cm.base}(DefinedMessage):",
        f'    """{cm.command_name} ({cm.code}); see {cm.request.name} and {cm.answer.name}."""',
        f"    code: int = {cm.code}",
        f"    name: str = {cm.command_name!r}".replace("'", '"'),
        f"    default_application_id: int = {cm.application_id}",
        "    avp_def: AvpGenType",
        "",
        "    @by_r_bit",
        "    @classmethod",
        "    def type_factory(cls, header: MessageHeader) -> type[Message] | None:",
        f"        return {cm.request.name} if header.command_flags & 0x80 else {cm.answer.name}",
        "",
    ]
    for mc in (cm.request, cm.answer):
        bases = ", ".join(mc.mixins + [cm.base])
        kind = "Request" if mc.is_request else "Answer"
        lines += ["", f"class {mc.name}({bases}):", f'    """A {cm.command_name} {kind}."""']
        for attr, ann in mc.annotations.items():
            if attr in identity:
                continue
            lines.append(f"    {attr}: {ann if attr in mc.lists else optional_annotation(ann)}")
        typing_only = [f"        {attr} = IdentityAttr({attr!r}, '')".replace("'", '"')
                       for attr in mc.annotations if attr in identity]
        if mc.is_request:
            answer = cm.answer.name
            typing_only += [
                f"        def to_answer(self) -> {answer}: ...",
                "        def answer(self, result_code: int | None = None, *, "
                "origin_host: str | bytes | None = None,",
                "                   origin_realm: str | bytes | None = None, vendor_id: int = 0,",
                f"                   error_message: str | None = None) -> {answer}: ..."]
        if typing_only:
            lines += ["", "    if TYPE_CHECKING:  # str accepted, bytes read; the answer's class"]
            lines += typing_only
        if mc.members:
            lines.append("")
            lines.append("    avp_def: AvpGenType = (")
            lines.extend(f"        {m.gen_def()}" for m in mc.members)
            lines.append("    )")
        else:
            lines.append("    avp_def: AvpGenType = ()")
        lines.append(f"    header_flags_request: bool = {mc.is_request}")
        lines.append(f"    header_flags_proxyable: bool = {mc.proxyable}")
        lines.append(f"    attr_defaults: dict = {mc.defaults!r}".replace("'", '"'))
        lines.append(f"    attr_lists: tuple[str, ...] = {_tuple(mc.lists)}")
        lines.append("")
    # as in python-diameter, every grouped class is importable from every command module
    # (kept in the module once found: ``from <module> import <Class>`` in a function that
    # runs per request then finds it without importing grouped; the statement itself still
    # costs ~5k instructions: import it once where it runs per request). Not a dunder name:
    # grouped's own ``__path__`` made this module a package of grouped's files. An empty
    # ``__path__``: ``from <module> import A, B`` finds it in the module's dict and checks A and
    # B (importlib's ``_handle_fromlist``, 1.2 us); without one, CPython 3.11's failing look-up
    # of ``__path__`` formats two errors and calls ``__getattr__`` (4.8 us).
    lines += ["", "__path__: list[str] = []   # no submodules (see the generator)"]
    lines += ["", "", "def __getattr__(name: str) -> object:",
              '    if name[:2] == "__":',
              '        raise AttributeError(name)',
              "    from ..avp import grouped",
              "    try:",
              "        value = getattr(grouped, name)",
              "    except AttributeError:",
              '        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None',
              "    globals()[name] = value",
              "    return value"]
    return "\n".join(lines).rstrip() + "\n"


def _identity_attrs(cm: CommandModule, d: Dictionary) -> set[str]:
    """Attributes of DiameterIdentity AVPs (typed to accept str, read bytes)."""
    out: set[str] = set()
    for mc in (cm.request, cm.answer):
        for m in mc.members:
            avp = d.avps.get((m.vendor, m.code)) if m.code is not None else None
            if (avp is not None and avp.type == "DiameterIdentity" and m.attr not in mc.lists
                    and mc.annotations.get(m.attr) == "bytes"):
                out.add(m.attr)
    return out


def _tuple(items: list[str]) -> str:
    if not items:
        return "()"
    inner = ", ".join(f'"{i}"' for i in items)
    return f"({inner},)" if len(items) == 1 else f"({inner})"


def render_init(modules: list[CommandModule], api: dict) -> str:
    """The package ``__init__``: command modules are imported on first use (PEP 562)."""
    typed_by_code = {cm.code: cm for cm in modules}
    placeholders = api.get("placeholders", {})
    lines = [HEADER, '"""Command classes, python-diameter compatible.',
             "",
             "`all_commands` maps a command code to its class; `commands_by_application`",
             "maps (application id, command code) to it. Each command's module is imported",
             'the first time one of its names or codes is used."""',
             "from __future__ import annotations",
             "",
             "import importlib",
             "from typing import TYPE_CHECKING, Any",
             "",
             "from .._base import DefinedMessage, Message, UndefinedMessage",
             "from ._helpers import all_commands, commands_by_application, register",
             "",
             "if TYPE_CHECKING:"]
    for cm in sorted(modules, key=lambda c: c.module):
        names = ", ".join(sorted({cm.base, cm.request.name, cm.answer.name}))
        lines.append(f"    from .{cm.module} import {names}")
    aliases: dict[str, str] = {}
    for pname, p in placeholders.items():
        cm = typed_by_code.get(p["code"])
        if cm is not None and pname != cm.base:
            aliases[pname] = cm.base
    for cm in modules:
        for a in cm.aliases:
            if a not in placeholders and a != cm.base:
                aliases[a] = cm.base
    for a, target in aliases.items():
        lines.append(f"    {a} = {target}")
    lines += ["", "_MODULES: dict[str, str] = {"]
    for cm in sorted(modules, key=lambda c: c.module):
        for n in sorted({cm.base, cm.request.name, cm.answer.name}):
            lines.append(f'    "{n}": "{cm.module}",')
    lines += ["}", "_ALIASES: dict[str, str] = {"]
    lines.extend(f'    "{a}": "{t}",' for a, t in aliases.items())
    lines += ["}", "", "",
              "def __getattr__(name: str) -> Any:",
              '    """Import a command class\'s module on first use."""',
              "    target = _ALIASES.get(name, name)",
              "    module = _MODULES.get(target)",
              "    if module is None:",
              '        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")',
              '    value = getattr(importlib.import_module(f".{module}", __name__), target)',
              "    globals()[name] = value",
              "    return value",
              "", "",
              "def __dir__() -> list[str]:",
              "    return sorted(set(globals()) | set(__all__))",
              "", ""]
    placeholder_names = []
    for pname, p in placeholders.items():
        if typed_by_code.get(p["code"]) is not None:
            continue
        placeholder_names.append(pname)
        lines += [
            "", f"class {pname}(UndefinedMessage):",
            f'    """{p["command_name"]} ({p["code"]}): no typed attributes; AVPs are read by name."""',
            f"    code: int = {p['code']}",
            f'    name: str = "{p["command_name"]}"',
            "",
            "    def __post_init__(self) -> None:",
            "        super().__post_init__()",
            "        self.header.command_code = self.code",
            "", ""]
    lines += ["", "", "all_commands[0] = UndefinedMessage"]
    lines.append("all_commands.update({")
    lines.extend(f"    {n}.code: {n}," for n in placeholder_names)
    lines.append("})")
    lines.append("all_commands.set_index({")
    lines.extend(f'    {cm.code}: "{cm.base}",' for cm in modules)
    lines.append("}, __getattr__)")
    lines.append("commands_by_application.set_index({")
    for cm in modules:
        for app in cm.applications:
            lines.append(f'    ({app}, {cm.code}): "{cm.base}",')
    lines.append("}, __getattr__)")
    lines.append("")
    lines.append("__all__ = [")
    names = ["DefinedMessage", "Message", "UndefinedMessage", "all_commands",
             "commands_by_application", "register"]
    names += sorted({n for cm in modules for n in (cm.base, cm.request.name, cm.answer.name)})
    names += sorted(placeholders)
    names += sorted({a for cm in modules for a in cm.aliases} - set(names))
    lines.extend(f'    "{n}",' for n in dict.fromkeys(names))
    lines.append("]")
    return "\n".join(lines).rstrip() + "\n"
