"""Extract python-diameter 0.9.0's dictionary facts into a JSON fixture.

Run with the interpreter of a venv where python-diameter 0.9.0 is installed:

    /work/scratch/pdvenv/bin/python tools/extract_python_diameter.py \
        tests/dictionary/data/python_diameter_0_9_0.json

The fixture holds facts only (AVP codes, names, types, constant names and
values, grouped member lists) so tests and the importer need no venv.
"""
from __future__ import annotations

import dataclasses
import json
import re
import sys
import typing


def main(out: str) -> None:
    import diameter.message.constants as c
    from diameter.message.avp import grouped
    from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY

    avps = []
    for code, info in AVP_DICTIONARY.items():
        avps.append([0, code, info["name"], info["type"].__name__, bool(info.get("mandatory", False))])
    for vendor, table in AVP_VENDOR_DICTIONARY.items():
        for code, info in table.items():
            avps.append([vendor, code, info["name"], info["type"].__name__,
                         bool(info.get("mandatory", False))])
    avps.sort(key=lambda a: (a[0], a[1]))

    constants = {}
    for name in dir(c):
        if name.startswith("_"):
            continue
        v = getattr(c, name)
        if isinstance(v, dict):
            v = {str(k): val for k, val in v.items()}
        elif not isinstance(v, (int, str)):
            continue
        constants[name] = v

    groups = []
    for cls_name, cls in sorted(vars(grouped).items()):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)
                and cls.__module__ == grouped.__name__):
            continue
        doc = cls.__doc__ or ""
        m = re.search(r'"([^"]+)" \((\d+)\) grouped AVP', doc)
        if not m:
            continue
        spec = doc.strip().splitlines()[-1].strip() if "\n" in doc.strip() else ""
        hints = typing.get_type_hints(cls, vars(grouped))
        avp_def = getattr(cls, "avp_def", ())
        members = []
        for d in avp_def:
            hint = str(hints.get(d.attr_name, ""))
            members.append([d.vendor_id, d.avp_code, bool(d.is_required),
                            hint.startswith("list")])
        groups.append({"class": cls_name, "name": m.group(1), "code": int(m.group(2)),
                       "spec": spec, "members": members})

    with open(out, "w") as f:
        json.dump({"source": "python-diameter 0.9.0", "avps": avps,
                   "constants": constants, "grouped": groups}, f, indent=0,
                  sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/dictionary/data/python_diameter_0_9_0.json")
