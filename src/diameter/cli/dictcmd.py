"""``diameter dict``: look AVPs, commands, applications, vendors and enum values up."""
from __future__ import annotations

import difflib
import functools
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from ..dictionary.naming import avp_const, cmd_const, enum_const
from ..dictionary.source import AvpDef, CommandDef, Dictionary, Rule, format_grammar, load_all
from ._names import APPLICATION_ALIASES, norm

KINDS = ("avp", "command", "application", "vendor", "enum")


@dataclass
class _Index:
    d: Dictionary
    keys: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def add(self, key: str, kind: str, obj: Any) -> None:
        k = norm(key)
        if not k:
            return
        bucket = self.keys.setdefault(k, [])
        if not any(kd == kind and o is obj for kd, o in bucket):
            bucket.append((kind, obj))


def _vendor_const(d: Dictionary, vendor: int) -> str | None:
    v = d.vendors.get(vendor)
    return v.const if v else None


def build_index(d: Dictionary) -> _Index:
    ix = _Index(d)
    for avp in d.avps.values():
        names = [avp.name, *avp.aliases, *avp.extra.get("alt_names", [])]
        const = avp.const or avp_const(avp.name, _vendor_const(d, avp.vendor))
        for n in names:
            ix.add(n, "avp", avp)
        ix.add(const, "avp", avp)
        ix.add(const.removeprefix("AVP_"), "avp", avp)
        for value, label in avp.enum.items():
            ix.add(label, "enum", (avp, value))
            ix.add(enum_const(avp.name, label), "enum", (avp, value))
    for cmd in d.commands:
        for n in (cmd.name, cmd.name + "-Request", cmd.name + "-Answer", cmd_const(cmd.name),
                  *cmd.abbrev, *cmd.extra.get("aliases", [])):
            ix.add(n, "command", cmd)
    for app in d.applications.values():
        for n in (app.name, app.const or "", *app.extra.get("aliases", [])):
            ix.add(n, "application", app)
    for alias, app_id in APPLICATION_ALIASES.items():
        if app_id in d.applications:
            ix.add(alias, "application", d.applications[app_id])
    for v in d.vendors.values():
        for n in (v.name, v.const, "VENDOR_" + v.const, v.key):
            ix.add(n, "vendor", v)
    return ix


def _lookup(ix: _Index, query: str, kinds: set[str], vendor: int | None) -> list[tuple[str, Any]]:
    d = ix.d
    q = query.strip()
    found: list[tuple[str, Any]] = []
    if q.replace("/", "").isdigit():
        code, _, v = q.partition("/")
        n = int(code)
        for avp in d.avps.values():
            if avp.code == n and (not v or avp.vendor == int(v)):
                found.append(("avp", avp))
        if not v:
            found += [("command", c) for c in d.commands if c.code == n]
            if n in d.applications:
                found.append(("application", d.applications[n]))
            if n in d.vendors:
                found.append(("vendor", d.vendors[n]))
    else:
        k = norm(q)
        found = list(ix.keys.get(k, []))
        if not found and k.startswith(("avp", "cmd", "e")):
            for prefix in ("avp", "cmd", "e"):
                found += ix.keys.get(k.removeprefix(prefix), []) if k.startswith(prefix) else []
    found = [(kind, o) for kind, o in found if kind in kinds]
    if vendor is not None:
        found = [(kind, o) for kind, o in found if kind != "avp" or o.vendor == vendor]
    def order(f: tuple[str, Any]) -> tuple[int, int]:
        kind, o = f
        sub = o.vendor if kind == "avp" else o.application if kind == "command" else 0
        return (KINDS.index(kind), sub)
    return sorted(found, key=order)


def _where_used(d: Dictionary, target: AvpDef) -> list[str]:
    out = []
    for avp in d.avps.values():
        for r in avp.grammar:
            if not r.is_any and d.resolve(r, avp.vendor) is target:
                out.append(f"{avp.name} (AVP {avp.code}{_vnd(d, avp.vendor)}) {_rule(r)}")
    for cmd in d.commands:
        for side, rules in (("Request", cmd.request), ("Answer", cmd.answer)):
            for r in rules:
                if not r.is_any and d.resolve(r) is target:
                    out.append(f"{cmd.name}-{side} ({cmd.code}, app {cmd.application}) {_rule(r)}")
    return sorted(set(out))


def _rule(r: Rule) -> str:
    return format_grammar([Rule(r.name, r.kind, r.min, r.max)])


def _vnd(d: Dictionary, vendor: int) -> str:
    return f"/{d.vendors[vendor].name if vendor in d.vendors else vendor}" if vendor else ""


def _avp_data(d: Dictionary, a: AvpDef, used: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "avp", "name": a.name, "code": a.code, "vendor_id": a.vendor,
        "vendor": d.vendors[a.vendor].name if a.vendor in d.vendors else None,
        "type": a.type, "flags": {"must": a.must, "may": a.may, "must_not": a.must_not},
        "constant": a.const or avp_const(a.name, _vendor_const(d, a.vendor)),
        "other_names": [*a.aliases, *a.extra.get("alt_names", [])], "source": a.source,
    }
    if a.enum:
        out["enum"] = {str(k): v for k, v in sorted(a.enum.items())}
    if a.type == "Grouped":
        out["grammar"] = [_rule_data(d, r, a.vendor) for r in a.grammar]
    if used:
        out["used_in"] = _where_used(d, a)
    if a.note:
        out["note"] = a.note
    return out


def _rule_data(d: Dictionary, r: Rule, vendor: int) -> dict[str, Any]:
    m = d.resolve(r, vendor)
    return {"rule": _rule(r), "code": m.code if m else None, "vendor_id": m.vendor if m else None,
            "type": m.type if m else None}


def _cmd_data(d: Dictionary, c: CommandDef) -> dict[str, Any]:
    app = d.applications.get(c.application)
    return {"kind": "command", "name": c.name, "code": c.code, "application_id": c.application,
            "application": app.name if app else None, "abbreviations": c.abbrev,
            "flags": c.flags, "constant": cmd_const(c.name), "source": c.source,
            "request": [_rule_data(d, r, 0) for r in c.request],
            "answer": [_rule_data(d, r, 0) for r in c.answer]}


def _data(d: Dictionary, kind: str, o: Any, used: bool) -> dict[str, Any]:
    if kind == "avp":
        return _avp_data(d, o, used)
    if kind == "command":
        return _cmd_data(d, o)
    if kind == "application":
        return {"kind": "application", "id": o.id, "name": o.name, "type": o.kind,
                "vendor_id": o.vendor, "constant": o.const, "commands": o.commands,
                "source": o.source}
    if kind == "vendor":
        return {"kind": "vendor", "id": o.id, "name": o.name, "constant": "VENDOR_" + o.const,
                "avps": sum(1 for a in d.avps.values() if a.vendor == o.id)}
    avp, value = o
    return {"kind": "enum", "avp": avp.name, "avp_code": avp.code, "vendor_id": avp.vendor,
            "value": value, "name": avp.enum[value], "constant": enum_const(avp.name, avp.enum[value])}


def _text(x: dict[str, Any]) -> str:
    b = click.style
    kind = x["kind"]
    if kind == "avp":
        vendor = f", vendor {x['vendor_id']} {x['vendor'] or ''}".rstrip() if x["vendor_id"] else ""
        lines = [b(f"AVP {x['name']} ({x['code']}{vendor})", bold=True),
                 f"  type:      {x['type']}",
                 f"  flags:     must {x['flags']['must'] or '-'}, may {x['flags']['may'] or '-'}, "
                 f"must not {x['flags']['must_not'] or '-'}",
                 f"  constant:  {x['constant']}"]
        if x["other_names"]:
            lines.append(f"  also:      {', '.join(x['other_names'])}")
        lines.append(f"  source:    {x['source']}")
        if "enum" in x:
            lines.append("  values:")
            lines += [f"    {k:>6}  {v}" for k, v in x["enum"].items()]
        if "grammar" in x:
            lines.append("  grammar:")
            lines += [f"    {g['rule']}" + (f"  ({g['code']}, {g['type']})" if g["code"] is not None
                                            else "") for g in x["grammar"]]
        if x.get("used_in"):
            lines.append("  used in:")
            lines += [f"    {u}" for u in x["used_in"]]
        return "\n".join(lines)
    if kind == "command":
        lines = [b(f"Command {x['name']} ({x['code']}), application {x['application_id']} "
                   f"{x['application'] or ''}".rstrip(), bold=True),
                 f"  abbreviations: {', '.join(x['abbreviations']) or '-'}",
                 f"  flags: {x['flags']}   constant: {x['constant']}   source: {x['source']}"]
        for side in ("request", "answer"):
            if x[side]:
                lines.append(f"  {side}:")
                lines += [f"    {g['rule']}" for g in x[side]]
        return "\n".join(lines)
    if kind == "application":
        return "\n".join([b(f"Application {x['name']} ({x['id']})", bold=True),
                          f"  type: {x['type']}   constant: {x['constant']}   source: {x['source']}",
                          f"  commands: {', '.join(x['commands']) or '-'}"])
    if kind == "vendor":
        return (b(f"Vendor {x['name']} ({x['id']})", bold=True) +
                f"\n  constant: {x['constant']}   AVPs: {x['avps']}")
    return (b(f"Enum {x['name']} = {x['value']}", bold=True) +
            f"  of AVP {x['avp']} ({x['avp_code']})\n  constant: {x['constant']}")


@functools.lru_cache(maxsize=1)
def _loaded() -> _Index:
    return build_index(load_all())


@click.command("dict")
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "--kind", "kinds", multiple=True, type=click.Choice(KINDS),
              help="Only this kind of entry (repeatable).")
@click.option("--vendor", type=int, default=None, help="Only AVPs of this vendor id.")
@click.option("--no-usage", is_flag=True, help="Skip the 'used in' search (faster).")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def dict_(query: tuple[str, ...], kinds: tuple[str, ...], vendor: int | None, no_usage: bool,
          as_json: bool) -> None:
    """Look up AVPs, commands, applications, vendors and enum values.

    QUERY is a name in any case, with or without hyphens (Session-Id,
    session_id, AVP_SESSION_ID, CCR, CreditControlRequest, gy, TGPP,
    INITIAL_REQUEST), another spelling the data knows (seed names such as
    MO-MSC-Addr), or a code (456, 20300/2011). Exit 1 when nothing matches.

    \b
    Examples:
      diameter dict multiple-services-credit-control
      diameter dict 20300/2011 --json
      diameter dict CCR
    """
    ix = _loaded()
    d = ix.d
    wanted = set(kinds or KINDS)
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    for q in query:
        found = _lookup(ix, q, wanted, vendor)
        if not found:
            missing.append(q)
        results += [_data(d, kind, o, not no_usage) for kind, o in found]
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        click.echo("\n\n".join(_text(x) for x in results))
    for q in missing:
        close = difflib.get_close_matches(norm(q), list(ix.keys), n=5, cutoff=0.75)
        names = sorted({getattr(o, "name", None) or o[0].name for k in close
                        for _, o in ix.keys[k]})[:5]
        hint = f"; did you mean {', '.join(names)}?" if names else ""
        click.echo(f"nothing called {q!r}{hint}", err=True)
    if missing:
        sys.exit(1)
