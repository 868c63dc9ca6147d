"""Compare ``diameter decode --json`` records with tshark's dissection of the same capture."""
from __future__ import annotations

from typing import Any

from diameter.jsonview import dict_to_bytes

from .tshark_pdml import TsAvp, TsMessage

_INTS = {"Unsigned32", "Unsigned64", "Integer32", "Integer64", "Enumerated"}
_TEXT = {"UTF8String", "DiameterIdentity", "DiameterURI"}


def payload_hex(a: dict[str, Any]) -> str:
    """The payload bytes of one AVP of our JSON form, as hex."""
    wire = dict_to_bytes({"header": {"command_code": 0}, "avps": [a]})[20:]
    head = 12 if wire[4] & 0x80 else 8
    length = int.from_bytes(wire[5:8], "big")
    return wire[head:length].hex()


def _flags(a: dict[str, Any]) -> int:
    f = a["flags"]
    return (0x80 if f["vendor"] else 0) | (0x40 if f["mandatory"] else 0) | (
        0x20 if f["private"] else 0) | f["reserved"]


def compare_avps(ours: list[dict[str, Any]], theirs: list[TsAvp], where: str,
                 problems: list[str], stats: dict[str, int]) -> None:
    if len(ours) != len(theirs):
        problems.append(f"{where}: {len(ours)} AVPs, tshark {len(theirs)}")
        return
    for a, t in zip(ours, theirs):
        here = f"{where}/{a['name']}({a['code']})"
        stats["avps"] += 1
        if (a["code"], a["vendor_id"], _flags(a)) != (t.code, t.vendor, t.flags):
            problems.append(f"{here}: code/vendor/flags {(a['code'], a['vendor_id'], _flags(a))}"
                            f" vs tshark {(t.code, t.vendor, t.flags)}")
            continue
        if t.avps:  # tshark decoded a Grouped AVP: same members
            compare_avps(a.get("avps", []), t.avps, here, problems, stats)
            continue
        if t.value_hex is None:
            continue
        ours_hex = payload_hex(a)
        if ours_hex != t.value_hex:
            problems.append(f"{here}: payload {ours_hex} vs tshark {t.value_hex}")
            continue
        stats["values"] += 1
        if t.name == "Unknown":
            stats["unknown_to_tshark"] += 1
            if a["name"] != "Unknown":
                stats["named_only_by_us"] += 1
        elif "value" in a and a.get("type") in _INTS:
            if str(a["value"]) != t.show:
                problems.append(f"{here}: value {a['value']} vs tshark {t.show}")
        elif "value" in a and a.get("type") in _TEXT:
            if a["value"] != t.show:
                problems.append(f"{here}: value {a['value']!r} vs tshark {t.show!r}")


def compare(records: list[dict[str, Any]], dissected: list[TsMessage]) -> tuple[list[str], dict]:
    """Mismatches between our decode and tshark's, and what was compared."""
    problems: list[str] = []
    stats = {"messages": 0, "avps": 0, "values": 0, "unknown_to_tshark": 0,
             "named_only_by_us": 0, "latencies": 0}
    if len(records) != len(dissected):
        problems.append(f"{len(records)} messages, tshark {len(dissected)}")
        return problems, stats
    for r, t in zip(records, dissected):
        h = r["message"]["header"]
        where = f"frame {r['frame']}"
        stats["messages"] += 1
        flags = sum(b for n, b in (("request", 0x80), ("proxyable", 0x40), ("error", 0x20),
                                    ("retransmit", 0x10)) if h["flags"][n])
        mine = (r["frame"], h["command_code"], flags, h["application_id"],
                h["hop_by_hop_identifier"], h["end_to_end_identifier"])
        theirs = (t.frame, t.command_code, t.flags, t.application_id, t.hop_by_hop, t.end_to_end)
        if mine != theirs:
            problems.append(f"{where}: header {mine} vs tshark {theirs}")
            continue
        if t.response_time is not None:
            stats["latencies"] += 1
            if abs(r.get("latency_ms", -1) / 1000 - t.response_time) > 2e-6:
                problems.append(f"{where}: latency {r.get('latency_ms')} ms vs tshark "
                                f"{t.response_time * 1000} ms")
        compare_avps(r["message"]["avps"], t.avps, where, problems, stats)
    return problems, stats
