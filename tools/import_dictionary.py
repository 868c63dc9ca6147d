"""Build first versions of src/diameter/dictionary/data/*.toml from public dictionaries.

    python tools/import_dictionary.py [--wireshark DIR] [--huawei JSON] [--out DIR]

Inputs (facts only):
- Wireshark's Diameter XML (``/usr/share/wireshark/diameter``): codes, vendors,
  types, enums, grouped members, applications, commands, flag rules;
- python-diameter 0.9.0's facts, extracted by tools/extract_python_diameter.py
  into tests/dictionary/data/python_diameter_0_9_0.json: names, types, constant
  names and values, grouped members;
- the Huawei DCC list ``../shared/data/huawei-dcc-avps.json``.

Policy: keys are (vendor, code); python-diameter's name wins (Wireshark's is
kept in ``note`` when it differs); a type on which the two disagree takes
python-diameter's (generated from the specifications) and records Wireshark's
in ``note``; Huawei's page wins for Huawei AVPs. Flag rules come from
Wireshark's mandatory / vendor-bit / protected attributes. Files named
``*.commands.toml`` are never written. The output is deterministic.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from dictionary_specs import spec_file, ts_title  # noqa: E402

from diameter.dictionary.naming import (app_const, avp_const, cmd_const,  # noqa: E402
                                        enum_const, upper_name)
from diameter.dictionary.source import format_grammar, Rule  # noqa: E402
from diameter.dictionary.wireshark import load_wireshark  # noqa: E402

PD_FIXTURE = ROOT / "tests/dictionary/data/python_diameter_0_9_0.json"
PD_CLASS_TYPES = {
    "AvpOctetString": "OctetString", "AvpUtf8String": "UTF8String",
    "AvpAddress": "Address", "AvpInteger32": "Integer32", "AvpInteger64": "Integer64",
    "AvpUnsigned32": "Unsigned32", "AvpUnsigned64": "Unsigned64", "AvpTime": "Time",
    "AvpFloat32": "Float32", "AvpFloat64": "Float64", "AvpGrouped": "Grouped",
}
# Our types each python-diameter class accepts without loss.
PD_COMPATIBLE = {
    "AvpOctetString": {"OctetString", "DiameterIdentity", "DiameterURI", "IPFilterRule",
                       "QoSFilterRule", "UTF8String"},
    "AvpUtf8String": {"UTF8String", "DiameterURI", "DiameterIdentity", "IPFilterRule"},
    "AvpInteger32": {"Integer32", "Enumerated"},
}
HUAWEI_CODE_FIX = {("Calling-Service", 20411): 20419}


def pd_compatible(cls: str, typ: str) -> bool:
    return typ in PD_COMPATIBLE.get(cls, {PD_CLASS_TYPES.get(cls)})


class Rec:
    def __init__(self, vendor: int, code: int, name: str, typ: str) -> None:
        self.vendor, self.code, self.name, self.type = vendor, code, name, typ
        self.must = self.may = self.must_not = ""
        self.enum: dict[int, str] = {}
        self.members: list[Rule] = []      # python-diameter / Huawei (precise)
        self.ws_members: list[Rule] = []   # Wireshark (names only)
        self.ext: list[str] = []
        self.const: str | None = None
        self.aliases: list[str] = []
        self.enum_const: dict[str, int] = {}
        self.notes: list[str] = []
        self.in_pd = False
        self.alt_names: list[str] = []
        self.huawei = False


def _ref(recs: dict, vendor: int, code: int) -> Rule | None:
    r = recs.get((vendor, code))
    return None if r is None else Rule(r.name, "optional", 0, None, vendor, code)


def build(ws_dir: Path, huawei: Path) -> tuple[dict, dict]:
    ws = load_wireshark(ws_dir)
    pd = json.loads(PD_FIXTURE.read_text())
    hw = json.loads(huawei.read_text())
    recs: dict[tuple[int, int], Rec] = {}

    for (v, c), a in ws.avps.items():
        r = recs[(v, c)] = Rec(v, c, a.name, a.type)
        r.must, r.may, r.must_not = a.must, a.may, a.must_not
        r.enum = dict(a.enum)
        r.ws_members = [m for m in a.grammar if not m.is_any]

    for v, c, name, cls, mandatory in pd["avps"]:
        r = recs.get((v, c))
        if r is None:
            r = recs[(v, c)] = Rec(v, c, name, PD_CLASS_TYPES[cls])
            r.must = ("V" if v else "") + ("M" if mandatory else "")
            r.may = "P" + ("" if mandatory else "M")
            r.must_not = "" if v else "V"
        else:
            if r.name.lower() != name.lower():
                r.notes.append(f"Wireshark calls it {r.name}")
                r.alt_names.append(r.name)
            r.name = name
            if not pd_compatible(cls, r.type):
                r.notes.append(f"Wireshark types this {r.type}; the specification "
                               f"(as python-diameter) {PD_CLASS_TYPES[cls]}")
                r.type = PD_CLASS_TYPES[cls]
        r.in_pd = True

    # Huawei DCC list: the page wins for Huawei AVPs.
    for e in hw:
        v, c = e["vendor_id"], HUAWEI_CODE_FIX.get((e["name"], e["code"]), e["code"])
        if v == 10415:
            continue
        r = recs.get((v, c))
        if r is None:
            r = recs[(v, c)] = Rec(v, c, e["name"], e["type"])
            r.must, r.may, r.must_not = "V", "MP", ""
        else:
            if r.name.lower() != e["name"].lower():
                if r.in_pd:
                    r.notes.append(f"Huawei's page calls it {e['name']}")
                    r.alt_names.append(e["name"])
                else:
                    r.alt_names.append(r.name)
                    r.name = e["name"]
            if r.type != e["type"]:
                r.notes.append(f"Wireshark/python-diameter type this {r.type}; "
                               f"Huawei's page says {e['type']}")
                r.type = e["type"]
        r.huawei = True
        if c != e["code"]:
            r.notes.append(f"Huawei's page lists code {e['code']} twice; "
                           f"{e['name']} is {c} (Mobius)")
        for k, label in e["enum"].items():
            r.enum[int(k)] = label
        if e["notes"]:
            r.notes.extend(n for n in e["notes"] if "homoglyph" not in n)
    # Huawei grammars (after every Huawei AVP exists).
    by_name = defaultdict(list)
    for r in recs.values():
        by_name[r.name.lower()].append(r)
    for e in hw:
        refs = e.get("children_refs") or []
        v, c = e["vendor_id"], e["code"]
        r = recs[(v, c)]
        for ref in refs:
            if ref["code"] is not None:
                target = (ref["vendor_id"], ref["code"])
            else:
                cands = sorted(by_name.get(ref["name"].lower(), []),
                               key=lambda x: (x.vendor not in (10415, 0, 2011), x.vendor, x.code))
                if not cands:
                    r.notes.append(f"Huawei member {ref['name']} is defined nowhere; left out")
                    continue
                target = (cands[0].vendor, cands[0].code)
            t = recs.get(target)
            if t is None:
                r.notes.append(f"Huawei member {ref['name']} {target} unknown; left out")
                continue
            if v == 10415:
                if target[0] == 2011:
                    r.ext.append(f"{t.name}/{t.vendor}:{t.code}")
                continue
            if not any(m.vendor == t.vendor and m.code == t.code for m in r.members):
                r.members.append(Rule(t.name, "optional", 0, None, t.vendor, t.code))
        if v == 10415 and r.ext:
            r.notes.append("Huawei extends it (ext_members)")

    # python-diameter grouped classes: precise member lists.
    for g in pd["grouped"]:
        cands = [r for r in recs.values() if r.code == g["code"] and r.type == "Grouped"]
        if not cands:
            continue
        pref = 10415 if g["spec"].startswith("3GPP") else 0
        cands.sort(key=lambda r: (r.name.lower() != g["name"].lower(), r.vendor != pref,
                                  r.vendor))
        r = cands[0]
        rules = []
        for mv, mc, required, is_list in g["members"]:
            t = recs.get((mv, mc))
            if t is None:
                continue
            kind = "required" if required else "optional"
            rules.append(Rule(t.name, kind, 1 if required else 0, None if is_list else 1,
                              mv, mc))
        known = {(m.vendor, m.code) for m in rules}
        r.members = rules + [m for m in r.members if (m.vendor, m.code) not in known]

    from dictionary_specs import SPEC_ADDITIONS, SPEC_ALT_NAMES
    for v, c, name, typ, must, may, must_not, note in SPEC_ADDITIONS:
        if (v, c) not in recs:
            r = recs[(v, c)] = Rec(v, c, name, typ)
            r.must, r.may, r.must_not = must, may, must_not
            r.notes.append(note)
    from dictionary_specs import SPEC_ADDITION_MEMBERS
    for k, members in SPEC_ADDITION_MEMBERS.items():
        recs[k].members = [Rule(recs[m].name, "optional", 0, 1, m[0], m[1]) for m in members]
    for k, names in SPEC_ALT_NAMES.items():
        if k in recs:
            recs[k].alt_names.extend(n for n in names if n.lower() != recs[k].name.lower())
    vendors = _vendors(ws, pd)
    _constants(recs, pd, vendors)
    return recs, {"ws": ws, "pd": pd, "vendors": vendors}


def _vendors(ws, pd) -> dict[int, dict]:
    c = pd["constants"]
    out = {}
    for vid, v in ws.vendors.items():
        out[vid] = {"id": vid, "name": v.name, "const": v.const, "key": v.const}
    for name, value in c.items():
        if name.startswith("VENDOR_") and name not in ("VENDOR_UNKNOWN",):
            out.setdefault(value, {"id": value, "name": name[7:].title(), "key": name[7:]})
            out[value]["const"] = name[7:]
    for vid, key in c["VENDORS"].items():
        out[int(vid)]["key"] = key
    out.setdefault(45687, {"id": 45687, "name": "oneM2M", "const": "ONEM2M", "key": "oneM2M"})
    out[45687]["name"] = "oneM2M"
    return out


def _split_enum(name: str, prefixes: dict[str, list[Rec]]) -> list[tuple[list[Rec], str]]:
    parts = name[2:].split("_")
    found = []
    for i in range(len(parts) - 1, 0, -1):
        p = "_".join(parts[:i])
        if p in prefixes:
            found.append((prefixes[p], "_".join(parts[i:])))
    return found


def _constants(recs: dict, pd: dict, vendors: dict) -> None:
    c = pd["constants"]
    vconst = {vid: v["const"] for vid, v in vendors.items()}

    def derived(r: Rec) -> str:
        return avp_const(r.name, vconst.get(r.vendor) if r.vendor else None)

    # AVP_*: python-diameter's names claim first.
    by_code = defaultdict(list)
    for r in recs.values():
        by_code[r.code].append(r)
    derived_of = defaultdict(list)
    for r in recs.values():
        derived_of[derived(r)].append(r)
    for name, value in sorted(c.items()):
        if not name.startswith("AVP_") or not isinstance(value, int):
            continue
        owners = [r for r in derived_of.get(name, []) if r.code == value]
        if owners:
            if len(derived_of[name]) > 1:
                owners[0].const = name
            continue
        cands = by_code.get(value, [])
        if not cands:
            print(f"warning: {name}={value}: no AVP with that code", file=sys.stderr)
            continue

        def score(r: Rec, name: str = name) -> tuple:
            pre = f"AVP_{vconst[r.vendor]}_" if r.vendor else "AVP_"
            ok_prefix = name.startswith(pre)
            rest = name[len(pre):] if ok_prefix else name[4:]
            common = len(set(rest.split("_")) & set(upper_name(r.name).split("_")))
            return (not ok_prefix, not r.in_pd, -common, r.vendor)
        best = sorted(cands, key=score)[0]
        best.aliases.append(name)
    # Derived names shared by several AVPs: the first (vendor, code) keeps it,
    # unless python-diameter gave it to another; the others get an explicit const.
    for name, owners in derived_of.items():
        if len(owners) < 2:
            continue
        owners.sort(key=lambda r: (r.const != name, r.vendor, r.code))
        for r in owners[1:]:
            if r.const is None:
                r.const = f"{name}_{r.code}"
                r.notes.append(f"constant {name} belongs to another AVP; this one is {r.const}")

    # E_*: attach each to its AVP; enum names that derive to it where possible.
    prefixes = defaultdict(list)
    for r in recs.values():
        prefixes[upper_name(r.name)].append(r)
    leftovers = []
    for name, value in sorted(c.items()):
        if not name.startswith("E_") or not isinstance(value, int):
            continue
        splits = _split_enum(name, prefixes)
        if not splits:
            leftovers.append((name, value))
            continue
        done = False
        for rs, _rest in splits:
            for r in rs:
                if value in r.enum and enum_const(r.name, r.enum[value]) == name:
                    done = True
        if done:
            continue
        rs, rest = splits[0]
        r = sorted(rs, key=lambda r: (not r.in_pd, r.type not in ("Enumerated", "Integer32",
                                                                    "Unsigned32"),
                                      value in r.enum, r.vendor not in (0, 10415), r.vendor))[0]
        if value not in r.enum and enum_const(r.name, rest) == name:
            r.enum[value] = rest
        else:
            r.enum_const[name] = value
        if r.type == "Integer32" and r.in_pd and not r.huawei:
            r.type = "Enumerated"
    # A python-diameter E_ name that several (AVP, value) pairs derive: make it explicit.
    derivers = defaultdict(list)
    for r in recs.values():
        for v, label in r.enum.items():
            derivers[enum_const(r.name, label)].append((r, v))
    for name, value in sorted(c.items()):
        if not name.startswith("E_") or not isinstance(value, int):
            continue
        ds = derivers.get(name, [])
        if all(v == value for _, v in ds):
            continue
        if any(name in r.enum_const for r in recs.values()):
            continue
        mine = [r for r, v in ds if v == value]
        if mine:
            mine[0].enum_const[name] = value
        else:
            print(f"warning: cannot place {name}={value}", file=sys.stderr)
    if leftovers:
        print(f"warning: {len(leftovers)} E_ constants without an AVP", file=sys.stderr)
    pd["_leftover_enums"] = leftovers


# ------------------------------------------------------------------ writing

def q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def key(k: int) -> str:
    return str(k) if k >= 0 else f'"{k}"'


def grammar_text(r: Rec, recs: dict) -> str:
    rules = list(r.members)
    have = {(m.vendor, m.code) for m in rules}
    for m in r.ws_members:
        if (m.vendor, m.code) in have:
            continue
        t = _resolve_ws(m, r, recs)
        if t is not None and (t.vendor, t.code) not in have:
            have.add((t.vendor, t.code))
            rules.append(Rule(t.name, "optional", 0, None, t.vendor, t.code))
    names = defaultdict(set)
    for x in recs.values():
        names[(x.vendor, x.name.lower())].add(x.code)
    out = []
    for m in rules:
        t = recs[(m.vendor, m.code)]
        default = _default_vendor(t.name, r.vendor, recs)
        vendor = None if default == t.vendor else t.vendor
        code = t.code if len(names[(t.vendor, t.name.lower())]) > 1 else None
        if code is not None and vendor is None:
            vendor = t.vendor
        out.append(Rule(t.name, m.kind, m.min, m.max, vendor, code))
    out.append(Rule("AVP", "optional", 0, None))
    return format_grammar(out)


def _default_vendor(name: str, ctx: int, recs: dict) -> int | None:
    for v in (ctx, 0, 10415):
        if any(x.vendor == v and x.name.lower() == name.lower() for x in _by_vendor_name(recs, v, name)):
            return v
    return None


_BVN: dict = {}


def _by_vendor_name(recs: dict, v: int, name: str) -> list:
    if not _BVN:
        for x in recs.values():
            _BVN.setdefault((x.vendor, x.name.lower()), []).append(x)
        for x in recs.values():
            for alt in x.alt_names:
                if (x.vendor, alt.lower()) not in _BVN:
                    _BVN[(x.vendor, alt.lower())] = [x]
    return _BVN.get((v, name.lower()), [])


def _resolve_ws(m: Rule, parent: Rec, recs: dict) -> Rec | None:
    order = [m.vendor] if m.vendor is not None else [parent.vendor, 0, 10415]
    for v in order:
        found = [x for x in _by_vendor_name(recs, v, m.name)]
        if found:
            return sorted(found, key=lambda x: x.code)[0]
    # Wireshark names a member by its Wireshark name; python-diameter renamed some.
    return None


def write_files(recs: dict, ctx: dict, out: Path) -> dict[str, int]:
    ws, pd, vendors = ctx["ws"], ctx["pd"], ctx["vendors"]
    files: dict[str, list[str]] = defaultdict(list)
    for k in sorted(recs):
        r = recs[k]
        files[spec_file(r.vendor, r.code)].append(_avp_toml(r, recs))
    counts = {stem: len(v) for stem, v in files.items()}

    extra: dict[str, list[str]] = defaultdict(list)
    # Vendors.
    for vid in sorted(vendors):
        v = vendors[vid]
        if vid == 0:
            continue
        extra["iana-vendors"].append(
            f"[[vendors]]\nid = {vid}\nname = {q(v['name'])}\nconst = {q(v['const'])}\n"
            f"key = {q(v['key'])}\n")
    extra["iana-vendors"].append(
        '[[constants]]\nname = "VENDOR_UNKNOWN"\nvalue = 99999\n'
        'note = "python-diameter\'s placeholder for an unknown vendor"\n')
    # Applications.
    c = pd["constants"]
    app_names = {int(k): v for k, v in c["APPLICATIONS"].items()}
    app_consts = defaultdict(list)
    for name, value in c.items():
        if name.startswith("APP_"):
            app_consts[value].append(name)
    ids = sorted(set(ws.applications) | set(app_names))
    for aid in ids:
        wa = ws.applications.get(aid)
        name = app_names.get(aid) or wa.name
        consts = sorted(app_consts.get(aid, []))
        derived = "APP_" + app_const(name)
        const = derived if (derived in consts or not consts) else consts[0]
        aliases = [x for x in consts if x != const]
        vendor = (10415 if name.startswith("3GPP ") else 13019 if name.startswith("ETSI")
                  else 5535 if name.startswith("3GPP2") else 0)
        kind = "acct" if "accounting" in name.lower() else "auth"
        cmds = sorted({x.name for x in ws.commands if x.application == aid})
        s = (f"[[applications]]\nid = {aid}\nname = {q(name)}\nconst = {q(const[4:])}\n"
             f"kind = {q(kind)}\nvendor = {vendor}\n")
        if aliases:
            s += f"aliases = [{', '.join(q(x) for x in aliases)}]\n"
        if cmds:
            s += f"commands = [{', '.join(q(x) for x in cmds)}]\n"
        extra["iana-applications"].append(s)
    # Commands (names and codes; grammars live in *.commands.toml).
    cmd_consts = defaultdict(list)
    for name, value in c.items():
        if name.startswith("CMD_"):
            cmd_consts[value].append(name)
    cmds = sorted({(x.code, x.application, x.name) for x in ws.commands})
    claimed = set()
    by_code = defaultdict(list)
    for code, app, name in cmds:
        by_code[code].append((app, name))
        claimed.add(cmd_const(name))
    aliases_for: dict[tuple[int, int], list[str]] = defaultdict(list)
    for value, names in sorted(cmd_consts.items()):
        for name in sorted(names):
            if name in claimed:
                continue
            if value in by_code:
                app, _ = by_code[value][0]
                aliases_for[(value, app)].append(name)
            else:
                cname = "-".join(w.capitalize() for w in name[4:].split("_"))
                cmds.append((value, 0, cname))
                by_code[value].append((0, cname))
                aliases_for[(value, 0)].append(name) if cmd_const(cname) != name else None
    for code, app, name in sorted(cmds):
        flags = "R" if code in (257, 280, 282) else "RP"
        s = (f"[[commands]]\ncode = {code}\nname = {q(name)}\napplication = {app}\n"
             f"flags = {q(flags)}\n")
        al = aliases_for.get((code, app))
        if al:
            s += f"aliases = [{', '.join(q(x) for x in sorted(al))}]\n"
        extra["iana-commands"].append(s)
    # Service contexts (TS 32.299 and its service TSs).
    sc = c["SERVICE_CONTEXTS"]
    for name, value in sorted(c.items()):
        if name.startswith("SERVICE_CONTEXT_") and isinstance(value, str):
            extra["3gpp-ts32299"].append(
                f"[[service_contexts]]\nconst = {q(name[16:])}\nid = {q(value)}\n"
                f"name = {q(sc[value])}\n")
    for name, value in pd.get("_leftover_enums", []):
        extra["ietf-other"].append(f"[[constants]]\nname = {q(name)}\nvalue = {value}\n")

    out.mkdir(parents=True, exist_ok=True)
    for stem in sorted(set(files) | set(extra)):
        title = ts_title(stem)
        default_vendor = _default_file_vendor(stem)
        head = (f"# Imported by tools/import_dictionary.py from Wireshark's dictionary,\n"
                f"# python-diameter 0.9.0's facts and Huawei's DCC list; edit freely.\n\n"
                f"[source]\nname = {q(title[0])}\ntitle = {q(title[1])}\n"
                f"vendor = {default_vendor}\n\n")
        body = "\n".join(extra.get(stem, []) + files.get(stem, []))
        (out / f"{stem}.toml").write_text(head + body, encoding="utf-8")
    return counts


def _default_file_vendor(stem: str) -> int:
    if stem.startswith("3gpp-"):
        return 10415
    from dictionary_specs import VENDOR_FILES
    for vid, f in VENDOR_FILES.items():
        if f == stem:
            return vid
    return 0


def _avp_toml(r: Rec, recs: dict) -> str:
    s = (f"[[avps]]\ncode = {r.code}\nname = {q(r.name)}\ntype = {q(r.type)}\n"
         f"vendor = {r.vendor}\nmust = {q(r.must)}\nmay = {q(r.may)}\n"
         f"must_not = {q(r.must_not)}\n")
    if r.const:
        s += f"const = {q(r.const)}\n"
    if r.aliases:
        s += f"aliases = [{', '.join(q(x) for x in sorted(set(r.aliases)))}]\n"
    if r.type == "Grouped":
        s += f'grammar = """\n{grammar_text(r, recs)}\n"""\n'.replace(" {", "\n{").replace(
            " [", "\n[").replace(" <", "\n<").replace(" *", "\n*").replace(" 2*", "\n2*")
    if r.alt_names:
        s += f"alt_names = [{', '.join(q(x) for x in sorted(set(r.alt_names)))}]\n"
    if r.ext:
        s += f"ext_members = [{', '.join(q(x) for x in r.ext)}]\n"
    if r.notes:
        s += f"note = {q('; '.join(dict.fromkeys(r.notes)))}\n"
    if r.enum:
        s += "[avps.enum]\n" + "".join(f"{key(k)} = {q(r.enum[k])}\n" for k in sorted(r.enum))
    if r.enum_const:
        s += "[avps.enum_const]\n" + "".join(
            f"{k} = {r.enum_const[k]}\n" for k in sorted(r.enum_const))
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wireshark", default="/usr/share/wireshark/diameter")
    ap.add_argument("--huawei", default=str(ROOT.parent / "shared/data/huawei-dcc-avps.json"))
    ap.add_argument("--out", default=str(ROOT / "src/diameter/dictionary/data"))
    args = ap.parse_args()
    recs, ctx = build(Path(args.wireshark), Path(args.huawei))
    counts = write_files(recs, ctx, Path(args.out))
    for stem in sorted(counts):
        print(f"{stem}.toml: {counts[stem]} AVPs")
    print(f"total {sum(counts.values())} AVPs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
