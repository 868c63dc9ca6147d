"""Print dictionary counts: AVPs per vendor, applications, commands, enums,
grouped AVPs, and the grouped AVPs whose members all still read `*[ X ]`.

    PYTHONPATH=src python3 tools/dictionary_stats.py
"""
from __future__ import annotations

import collections

from diameter.dictionary.source import load_all


def main() -> None:
    d = load_all()
    per_vendor = collections.Counter(a.vendor for a in d.avps.values())
    print(f"AVPs: {len(d.avps)} in {len(per_vendor)} vendors")
    for vid, n in per_vendor.most_common():
        v = d.vendors.get(vid)
        print(f"  {vid:>6} {v.name if v else 'IETF/none':<28} {n}")
    enums = [a for a in d.avps.values() if a.enum]
    print(f"applications: {len(d.applications)}")
    print(f"commands: {len(d.commands)}")
    print(f"enumerated AVPs with value names: {len(enums)}, "
          f"values: {sum(len(a.enum) for a in enums)}")
    grouped = [a for a in d.avps.values() if a.type == "Grouped"]
    print(f"grouped AVPs: {len(grouped)}")
    star = []
    for a in grouped:
        members = [r for r in a.grammar if not r.is_any]
        if len(members) >= 2 and all(r.min == 0 and r.max is None for r in members):
            star.append((len(members), a.name, a.vendor, a.code, a.source))
    by_source = collections.Counter(s[4] for s in star)
    print(f"grouped AVPs whose members all read *[ X ] (2+ members): {len(star)}")
    print("  by source: " + ", ".join(f"{s} {n}" for s, n in by_source.most_common()))
    print("  biggest:")
    for n, name, vendor, code, source in sorted(star, reverse=True)[:15]:
        print(f"    {name} ({vendor}, {code}) {source}: {n} members")


if __name__ == "__main__":
    main()
