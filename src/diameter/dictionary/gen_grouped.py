"""Generating ``message/avp/grouped/`` (and its ``.pyi``): the typed grouped-AVP classes.

The classes are written in shards, one module per specification (``_ts32299.py``,
``_cisco.py``, ...; a class referring to a later shard's classes moves there, so the
shards import one another without circles). ``grouped/__init__.py`` loads the shard
defining a name the first time the name is used."""
from __future__ import annotations

import re

from .gen_model import (HEADER, PY_TYPES, RESERVED, GroupedClass, Key, Member, Warn, camel,
                        ext_rules, extend_members, fix_key, vendor_camel)
from .source import Dictionary

SMALL_SHARD = 4  # specifications with fewer grouped classes share the "_other" shard

def build_grouped(d: Dictionary, api: dict, warn: Warn) -> tuple[list[GroupedClass], dict[Key, str]]:
    api_grouped: dict[str, dict] = api.get("grouped", {})
    classes: dict[str, GroupedClass] = {}
    class_for: dict[Key, str] = {}

    for name, body in api_grouped.items():
        if "alias_of" in body:
            continue
        keys = [tuple(k) for k in body.get("avps", [])]
        if not keys and "doc_avp" in body:
            avp_name, code = body["doc_avp"]
            found = [a.key for a in d.avps.values()
                     if a.code == code and a.name.lower() == avp_name.lower()]
            keys = found[:1]
        # python-diameter's own mistakes (a class used for a non-grouped AVP) are dropped
        keys = [k for k in keys if not d.avps or k not in d.avps or d.avps[k].type == "Grouped"]
        classes[name] = GroupedClass(name=name, keys=keys, bases=list(body.get("bases", [])))
        for k in keys:
            class_for.setdefault(k, name)
    for name, body in api_grouped.items():
        if "alias_of" in body and body["alias_of"] in classes:
            classes[body["alias_of"]].aliases.append(name)

    # dictionary Grouped AVPs without a python-diameter class
    taken = set(classes) | {a for c in classes.values() for a in c.aliases} | RESERVED
    grouped_avps = sorted((a for a in d.avps.values() if a.type == "Grouped"),
                          key=lambda a: (a.vendor not in (0, 10415), a.vendor != 0, a.vendor, a.code))
    # a vendor's grouped AVP yields to a command of the same name (Ericsson's
    # Subscriber-Information AVP vs the 3GPP Subscriber-Information command)
    # (python-diameter's command classes keep their names whatever the AVPs)
    command_names = ({camel(c.name) for c in d.commands if c.request or c.answer}
                     - set(api.get("messages", {})))
    for avp in grouped_avps:
        if avp.key in class_for:
            continue
        name = camel(avp.name)
        if name in taken or (avp.vendor not in (0, 10415) and name in command_names):
            name = vendor_camel(d, avp.vendor) + name if avp.vendor else f"{name}{avp.code}"
        if name in taken:
            name = f"{name}{avp.code}"
        taken.add(name)
        classes[name] = GroupedClass(name=name, keys=[avp.key])
        class_for[avp.key] = name

    for name, cls in classes.items():
        body = api_grouped.get(name)
        if body is not None:
            for m in body.get("members", []) + body.get("avp_def_without_member", []):
                if "code" not in m:
                    cls.members.append(Member(attr=m["name"], annotation=m.get("annotation", "")))
                    continue
                key = fix_key(d, (m["vendor"], m["code"]), m.get("type_class"), class_for,
                               m["name"])
                # python-diameter's class wins for its own attributes (its
                # Supplementary-Service sends AoC-Information's members under
                # code 2314, see docs/compatibility.md)
                api_class = m.get("type_class")
                tclass = api_class if api_class in classes else class_for.get(key, api_class)
                if tclass is not None and tclass not in classes:
                    tclass = None
                ann = m.get("annotation") or annotation_for(d, key, class_for, m.get("list", False))
                cls.members.append(Member(
                    attr=m["name"], code=key[1], vendor=key[0], required=m["required"],
                    mandatory=m.get("mandatory"), type_class=tclass,
                    is_list=m.get("list", False), annotation=ann,
                    avp_name=d.avps[key].name if key in d.avps else m.get("avp", "")))
        for key in cls.keys:
            avp = d.avps.get(key)
            if avp is None:
                continue
            extend_members(d, cls.members, avp.grammar + ext_rules(avp), avp.vendor, class_for,
                    f"grouped {name} ({avp.name})", warn)
        cls.doc = _grouped_doc(d, cls, body)
    return _order(list(classes.values())), class_for


def annotation_for(d: Dictionary, key: Key, class_for: dict[Key, str], is_list: bool) -> str:
    avp = d.avps.get(key)
    if avp is None:
        t = "bytes"
    elif avp.type == "Grouped":
        t = class_for.get(key, "bytes")
    else:
        t = PY_TYPES[avp.type]
    return f"list[{t}]" if is_list else t


def _grouped_doc(d: Dictionary, cls: GroupedClass, body: dict | None) -> str:
    described = []
    for key in cls.keys:
        avp = d.avps.get(key)
        if avp is not None:
            vendor = f", vendor {avp.vendor}" if avp.vendor else ""
            described.append(f"{avp.name} ({avp.code}{vendor}) grouped AVP, {avp.source}")
        elif body and body.get("avp_name"):
            described.append(f"{body['avp_name']} ({key[1]}) grouped AVP")
    if described:
        return "; ".join(described) + "."
    if body is not None:
        return "Base class shared by python-diameter compatible grouped classes."
    return "Grouped AVP."


def _order(classes: list[GroupedClass]) -> list[GroupedClass]:
    """Dependency order (bases and member classes first); ties keep input order."""
    by_name = {c.name: c for c in classes}
    done: set[str] = set()
    visiting: set[str] = set()
    out: list[GroupedClass] = []

    def visit(c: GroupedClass) -> None:
        if c.name in done or c.name in visiting:
            return
        visiting.add(c.name)
        for dep in sorted(c.deps()):
            if dep in by_name:
                visit(by_name[dep])
        visiting.discard(c.name)
        done.add(c.name)
        out.append(c)

    for c in classes:
        visit(c)
    return out


def optional_annotation(annotation: str) -> str:
    """``T | None``: an attribute whose AVP is absent reads None."""
    return annotation if annotation.endswith("| None") else f"{annotation} | None"


def _slug(source: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "", (source or "other").lower().replace("3gpp ts", "ts"))
    return "_" + (slug or "other")


def shard_names(d: Dictionary, classes: list[GroupedClass]) -> dict[str, str]:
    """Class name -> shard module name (``_ts32299``). Shards are ordered (a specification
    after those it refers to); a class whose members come from a later shard moves to that
    shard, so a shard imports only from earlier ones (no import circle)."""
    pref: dict[str, str] = {}
    for c in classes:
        sources = [d.avps[k].source for k in c.keys if k in d.avps]
        pref[c.name] = _slug(sources[0] if sources else None)
    sizes: dict[str, int] = {}
    for sh in pref.values():
        sizes[sh] = sizes.get(sh, 0) + 1
    pref = {n: (sh if sizes[sh] >= SMALL_SHARD else "_other") for n, sh in pref.items()}
    owner = {a: c.name for c in classes for a in [c.name, *c.aliases]}
    deps = {c.name: sorted({owner[x] for x in _refs(c) if x in owner}) for c in classes}
    refers: dict[str, set[str]] = {}
    for n, ds in deps.items():
        refers.setdefault(pref[n], set()).update(pref[x] for x in ds if pref[x] != pref[n])
    order: list[str] = []
    seen: set[str] = set()

    def visit(sh: str) -> None:
        if sh in seen:
            return
        seen.add(sh)
        for other in sorted(refers.get(sh, ())):
            visit(other)
        order.append(sh)

    for sh in sorted(refers):
        visit(sh)
    rank = {sh: i for i, sh in enumerate(order)}
    index = {n: rank[sh] for n, sh in pref.items()}
    changed = True
    while changed:  # a class goes to the latest shard among its own and its members'
        changed = False
        for n, ds in deps.items():
            top = max([index[n]] + [index[x] for x in ds])
            if top != index[n]:
                index[n], changed = top, True
    return {n: order[i] for n, i in index.items()}


def _refs(c: GroupedClass) -> set[str]:
    """Names a class needs from its module: bases, members' classes, names in annotations
    (``typing.get_type_hints`` resolves them in the class's module)."""
    names = set(c.deps())
    for m in c.members:
        names.update(re.findall(r"[A-Za-z_]\w*", m.annotation or ""))
    return names


def render_grouped(classes: list[GroupedClass], shard: dict[str, str]) -> dict[str, str]:
    """Module name -> source: ``__init__`` (the lazy index) and one module per shard."""
    out: dict[str, str] = {}
    public_shard = {n: shard[c.name] for c in classes for n in [c.name, *c.aliases]}
    for sh in sorted(set(shard.values())):
        out[sh] = _render_shard([c for c in classes if shard[c.name] == sh], public_shard)
    lines = [HEADER, '"""Typed classes for grouped AVPs (python-diameter compatible names).',
             "",
             "Each name is imported from its specification's module the first time it is used",
             '(``from diameter.message.avp.grouped import ServiceInformation``)."""',
             "from __future__ import annotations", "", "import importlib", "",
             "_SHARD = {"]
    lines.extend(f'    "{n}": "{public_shard[n]}",' for n in sorted(public_shard))
    lines += ["}", "", "__all__ = sorted(_SHARD)", "", "",
              "def __getattr__(name: str) -> object:",
              "    shard = _SHARD.get(name)",
              "    if shard is None:",
              '        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")',
              '    value = getattr(importlib.import_module(f"{__name__}.{shard}"), name)',
              "    globals()[name] = value",
              "    return value",
              "", "",
              "def __dir__() -> list[str]:",
              "    return sorted(set(globals()) | set(__all__))"]
    out["__init__"] = "\n".join(lines) + "\n"
    return out


def _render_shard(classes: list[GroupedClass], shard: dict[str, str]) -> str:
    here = {n for c in classes for n in [c.name, *c.aliases]}
    imports: dict[str, set[str]] = {}
    for c in classes:
        for dep in _refs(c):
            if dep not in here and dep in shard:
                imports.setdefault(shard[dep], set()).add(dep)
    defined: set[str] = {n for names in imports.values() for n in names}
    deferred: list[GroupedClass] = []
    lines = [HEADER, '"""Typed classes for grouped AVPs (see diameter.message.avp.grouped)."""',
             "from __future__ import annotations", "", "import dataclasses",
             "import datetime  # noqa: F401  (used in string annotations)", "",
             "from ..avp import Avp"]
    if any(m.code is not None for c in classes for m in c.members):
        lines.append("from ..generator import AvpGenDef, AvpGenType, grouped_avp")
    else:
        lines.append("from ..generator import AvpGenType, grouped_avp")
    for mod in sorted(imports):
        lines.append(f"from .{mod} import {', '.join(sorted(imports[mod]))}")
    lines.append("")
    public = sorted(here | {a for c in classes for a in c.aliases})
    lines.append("__all__ = [")
    lines.extend(f'    "{n}",' for n in public)
    lines.append("]")
    lines.append("")
    for c in classes:
        forward = any(m.type_class and m.type_class not in defined and m.type_class != c.name
                      for m in c.members) or any(m.type_class == c.name for m in c.members)
        lines.extend(["", "@grouped_avp"])
        bases = f"({', '.join(c.bases)})" if c.bases else ""
        lines.append(f"class {c.name}{bases}:")
        lines.append(f'    """{c.doc}"""')
        for m in c.members:
            if m.is_list:
                lines.append(f"    {m.attr}: {m.annotation} = dataclasses.field(default_factory=list)")
            else:
                lines.append(f"    {m.attr}: {m.annotation or 'object'} = None")
        lines.append("    additional_avps: list[Avp] = dataclasses.field(default_factory=list)")
        defs = [m for m in c.members if m.code is not None]
        if forward or not defs:
            lines.append("    avp_def: dataclasses.InitVar[AvpGenType] = ()")
            if forward and defs:
                deferred.append(c)
        else:
            lines.append("    avp_def: dataclasses.InitVar[AvpGenType] = (")
            lines.extend(f"        {m.gen_def()}" for m in defs)
            lines.append("    )")
        lines.append("")
        for a in c.aliases:
            lines.append(f"{a} = {c.name}")
            lines.append("")
        defined.add(c.name)
    if deferred:
        lines.append("")
        lines.append("# Classes that refer to each other (directly or in a cycle) get avp_def here.")
        for c in deferred:
            lines.append(f"{c.name}.avp_def = (")
            lines.extend(f"    {m.gen_def()}" for m in c.members if m.code is not None)
            lines.append(")")
    return "\n".join(lines).rstrip() + "\n"


def render_grouped_stub(classes: list[GroupedClass]) -> str:
    """grouped.pyi: what type checkers see. Single-valued members are ``T | None`` (they
    read None when the AVP is absent); the run-time module keeps python-diameter's
    plain annotations, which its own tests read with ``typing.get_type_hints``."""
    lines = [HEADER, '"""Type stubs of the grouped AVP classes (see __init__.py)."""',
             "import dataclasses", "import datetime", "",
             "from ..avp import Avp", "from ..generator import AvpGenType, grouped_avp", ""]
    public = sorted({c.name for c in classes} | {a for c in classes for a in c.aliases})
    lines.append("__all__ = [")
    lines.extend(f'    "{n}",' for n in public)
    lines.append("]")
    lines.append("")
    for c in classes:
        bases = f"({', '.join(c.bases)})" if c.bases else ""
        lines += ["", "@grouped_avp", f"class {c.name}{bases}:"]
        for m in c.members:
            if m.is_list:
                lines.append(f"    {m.attr}: {m.annotation} = dataclasses.field(default_factory=list)")
            else:
                lines.append(f"    {m.attr}: {optional_annotation(m.annotation or 'object')} = None")
        lines.append("    additional_avps: list[Avp] = dataclasses.field(default_factory=list)")
        lines.append("    avp_def: dataclasses.InitVar[AvpGenType] = ...")
        for a in c.aliases:
            lines += ["", f"{a} = {c.name}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
