"""Extract python-diameter 0.9.0's public message API as data.

Run with the python of a virtualenv that has python-diameter installed::

    /work/scratch/pdvenv/bin/python tools/extract_pydiameter_api.py \
        -o src/diameter/dictionary/data/python-api.toml

The result records API naming only (class names, attribute names, which AVP
each attribute maps to, list-or-scalar, defaults set on new instances, header
flags): the facts our generated classes must reproduce to be a drop-in
superset. It is introspected, never copied: no code or docstrings are taken.

The output must not use the top-level keys the dictionary loader reads
(`source`, `vendors`, `avps`, `applications`, `commands`), because every
`*.toml` in the data folder is loaded as dictionary data.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
import sys
from typing import Any

HEADER = """\
# python-diameter 0.9.0 message API, as data.
# Produced by tools/extract_pydiameter_api.py (introspection of the installed
# package); regenerate with that tool, do not edit by hand.
#
# [grouped.<Class>]   one grouped-AVP dataclass: the AVPs it represents
#                     (avps = [[vendor, code], ...]), bases, members in order.
#   members: name, code, vendor, required, mandatory (only when overridden),
#            type_class, list (default_factory=list), annotation.
#   has_additional_avps: the class has an `additional_avps` member.
#   alias_of: the name is another name of that class (X = Y).
#   doc_avp: [name, code] of the AVP the class documents itself as.
# [modules.<module>]  one module of diameter.message.commands.
# [messages.<Class>]  one command class (base, Request or Answer):
#   annotations (name -> annotation, in order), avp_def (as members above),
#   lists (attributes set to [] on new instances), defaults (other values set
#   on new instances), header flags of new instances, helper methods.
# [placeholders.<Class>] classes of commands/__init__.py with no typed API.
# [all_commands]      command code -> class name, as commands.all_commands.
"""


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(x)}"
                                for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _key(k: str) -> str:
    k = str(k)
    if k and all(c.isalnum() or c in "_-" for c in k):
        return k
    return json.dumps(k)


def _table(out: list[str], name: str, body: dict[str, Any]) -> None:
    out.append(f"[{name}]")
    for k, v in body.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(f"{_key(k)} = [")
            out.extend(f"    {_toml_value(x)}," for x in v)
            out.append("]")
        else:
            out.append(f"{_key(k)} = {_toml_value(v)}")
    out.append("")


_DOC_AVP = re.compile(r'"([A-Za-z0-9][A-Za-z0-9-]*)" \((\d+)\)')


def _avp_names() -> dict[tuple[int, int], str]:
    from diameter.message.avp import dictionary as d
    names = {(0, code): info["name"] for code, info in d.AVP_DICTIONARY.items()}
    for vendor, entries in d.AVP_VENDOR_DICTIONARY.items():
        for code, info in entries.items():
            names[(vendor, code)] = info["name"]
    return names


def _gen_def(g, names) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": g.attr_name, "code": g.avp_code,
                             "vendor": g.vendor_id}
    avp_name = names.get((g.vendor_id, g.avp_code))
    if avp_name:
        entry["avp"] = avp_name
    entry["required"] = bool(g.is_required)
    if g.is_mandatory is not None:
        entry["mandatory"] = bool(g.is_mandatory)
    if g.type_class is not None:
        entry["type_class"] = g.type_class.__name__
    return entry


def extract_grouped(names) -> tuple[dict[str, dict], dict[str, set]]:
    from diameter.message.avp import grouped
    from diameter.message import commands

    classes = {n: c for n, c in vars(grouped).items()
               if inspect.isclass(c) and dataclasses.is_dataclass(c)
               and c.__module__ == grouped.__name__}
    used_as: dict[str, set] = {n: set() for n in classes}

    def scan(avp_def):
        for g in avp_def or ():
            if g.type_class is not None and g.type_class.__name__ in used_as:
                used_as[g.type_class.__name__].add((g.vendor_id, g.avp_code))

    for c in classes.values():
        scan(getattr(c, "avp_def", ()))
    for modinfo in pkgutil.iter_modules(commands.__path__):
        mod = importlib.import_module(f"{commands.__name__}.{modinfo.name}")
        for c in vars(mod).values():
            if inspect.isclass(c) and "avp_def" in vars(c):
                scan(vars(c)["avp_def"])

    # source order of the module; aliases (X = Y) after their target
    order = sorted(classes, key=lambda n: (inspect.getsourcelines(classes[n])[1],
                                           classes[n].__name__ != n))
    result: dict[str, dict] = {}
    for n in order:
        c = classes[n]
        defs = {g.attr_name: g for g in getattr(c, "avp_def", ()) or ()}
        members = []
        for f in dataclasses.fields(c):
            if f.name == "additional_avps":
                continue
            entry: dict[str, Any] = {"name": f.name}
            g = defs.get(f.name)
            if g is not None:
                entry.update(_gen_def(g, names))
            entry["list"] = f.default_factory is list
            entry["annotation"] = str(f.type)
            members.append(entry)
        field_names = {f.name for f in dataclasses.fields(c)}
        orphans = [_gen_def(g, names) for g in defs.values() if g.attr_name not in field_names]
        bases = [b.__name__ for b in c.__bases__ if b is not object]
        body: dict[str, Any] = {}
        if c.__name__ != n:
            body["alias_of"] = c.__name__
        body["avps"] = sorted([list(k) for k in used_as[c.__name__]])
        m = _DOC_AVP.search(c.__doc__ or "")
        if m:
            body["doc_avp"] = [m.group(1), int(m.group(2))]
        if len(used_as[c.__name__]) == 1:
            (key,) = used_as[c.__name__]
            if key in names:
                body["avp_name"] = names[key]
        body["bases"] = bases
        body["has_additional_avps"] = "additional_avps" in field_names
        body["members"] = members
        if orphans:
            body["avp_def_without_member"] = orphans
        result[n] = body
    return result, used_as


def extract_commands(names) -> tuple[dict, dict, dict, dict]:
    from diameter.message import commands
    from diameter.message._base import DefinedMessage, Message, UndefinedMessage

    modules: dict[str, dict] = {}
    messages: dict[str, dict] = {}
    for modinfo in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if modinfo.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{modinfo.name}")
        own = [c for c in vars(mod).values()
               if inspect.isclass(c) and c.__module__ == mod.__name__]
        own.sort(key=lambda c: inspect.getsourcelines(c)[1])
        base = next(c for c in own if DefinedMessage in c.__bases__)
        modules[modinfo.name] = {
            "all": list(mod.__all__),
            "base": base.__name__,
            "request": next(c.__name__ for c in own if c is not base and issubclass(c, base)
                            and c.type_factory(_hdr(True)) is c),
            "answer": next(c.__name__ for c in own if c is not base and issubclass(c, base)
                           and c.type_factory(_hdr(False)) is c),
        }
        for c in own:
            body: dict[str, Any] = {
                "module": modinfo.name,
                "bases": [b.__name__ for b in c.__bases__],
                "code": c.code,
                "command_name": c.name,
            }
            ann = vars(c).get("__annotations__", {})
            body["annotations"] = {k: str(v) for k, v in ann.items()
                                   if k not in ("code", "name", "avp_def")}
            if c is not base:
                inst = c()
                state = {k: v for k, v in vars(inst).items()
                         if not k.startswith("_") and k != "header"}
                body["lists"] = [k for k, v in state.items() if v == []]
                body["defaults"] = {k: v for k, v in state.items() if v != []}
                body["header_request"] = inst.header.is_request
                body["header_proxyable"] = inst.header.is_proxyable
                body["header_application_id"] = inst.header.application_id
                body["helpers"] = [
                    n for n, f in vars(c).items()
                    if inspect.isfunction(f) and not n.startswith("_")]
                body["helper_signatures"] = {
                    n: str(inspect.signature(vars(c)[n])) for n in body["helpers"]}
                body["avp_def"] = [_gen_def(g, names) for g in vars(c).get("avp_def", ())]
            messages[c.__name__] = body

    placeholders = {}
    for n, c in vars(commands).items():
        if (inspect.isclass(c) and issubclass(c, UndefinedMessage)
                and c.__module__ == commands.__name__):
            placeholders[n] = {"code": c.code, "command_name": c.name}
    all_commands = {str(k): v.__name__ for k, v in sorted(commands.all_commands.items())}
    assert Message  # imported for clarity of what all_commands holds
    return modules, messages, placeholders, all_commands


def _hdr(is_request: bool):
    from diameter.message._base import MessageHeader
    h = MessageHeader()
    h.is_request = is_request
    return h


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", help="write here instead of stdout")
    args = p.parse_args(argv)
    import diameter
    version = getattr(diameter, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v
        version = _v("python-diameter")
    names = _avp_names()
    grouped, _ = extract_grouped(names)
    modules, messages, placeholders, all_commands = extract_commands(names)

    out = [HEADER]
    _table(out, "meta", {"package": "python-diameter", "version": version,
                         "grouped_classes": len(grouped), "command_modules": len(modules)})
    for n, body in grouped.items():
        _table(out, f"grouped.{n}", body)
    for n, body in modules.items():
        _table(out, f"modules.{n}", body)
    for n, body in messages.items():
        _table(out, f"messages.{n}", body)
    for n, body in placeholders.items():
        _table(out, f"placeholders.{n}", body)
    _table(out, "all_commands", all_commands)
    text = "\n".join(out)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
