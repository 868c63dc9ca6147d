"""``diameter decode --sessions``: a timeline per Session-Id.

For credit control each event lists, per rating group (Multiple-Services-Credit-Control),
the requested, granted and used units, Validity-Time, Final-Unit-Indication and the
MSCC Result-Code, next to the message's Result-Code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .capture import CapturedMessage
from .summary import Summary, find_all, find_avp, value_of
from .tree import endpoint

__all__ = ["SessionTimeline", "units_of", "mscc_of"]

MSCC, RATING_GROUP, SERVICE_IDENTIFIER = 456, 432, 439
RSU, GSU, USU = 437, 431, 446
VALIDITY_TIME, FUI, FINAL_UNIT_ACTION, RESULT_CODE = 448, 430, 449, 268
UNIT_AVPS = {420: "time", 421: "total", 412: "input", 414: "output", 417: "units", 413: "money"}
UNIT_VALUE_DIGITS, UNIT_EXPONENT = 447, 429


def units_of(group: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"time": 60, "total": 1000, ...}`` of a *-Service-Unit AVP."""
    if group is None:
        return None
    out: dict[str, Any] = {}
    for a in group.get("avps", []):
        name = UNIT_AVPS.get(a["code"]) if a["vendor_id"] == 0 else None
        if name == "money":
            uv = find_avp(a.get("avps", []), 445)  # Unit-Value
            if uv is not None:
                digits = value_of(uv.get("avps", []), UNIT_VALUE_DIGITS)
                exp = value_of(uv.get("avps", []), UNIT_EXPONENT) or 0
                out["money"] = f"{digits}e{exp}" if exp else digits
        elif name is not None:
            out[name] = a.get("value", a.get("raw"))
    return out


def mscc_of(avps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per MSCC (and top-level units, rating group None) the unit facts."""
    out = []
    holders = [(m.get("avps", []), True) for m in find_all(avps, MSCC)]
    if any(find_avp(avps, c) for c in (RSU, GSU, USU)):
        holders.append((avps, False))
    for members, is_mscc in holders:
        row: dict[str, Any] = {
            "rating_group": value_of(members, RATING_GROUP),
            "service_identifier": value_of(members, SERVICE_IDENTIFIER),
        }
        for key, code in (("requested", RSU), ("granted", GSU)):
            u = units_of(find_avp(members, code))
            if u is not None:
                row[key] = u
        used = [units_of(a) for a in find_all(members, USU)]
        if used:
            row["used"] = used[0] if len(used) == 1 else used
        vt = value_of(members, VALIDITY_TIME)
        if vt is not None:
            row["validity_time"] = vt
        fui = find_avp(members, FUI)
        if fui is not None:
            action = find_avp(fui.get("avps", []), FINAL_UNIT_ACTION)
            row["final_unit_action"] = (action.get("enum") or action.get("value")) if action else True
        if is_mscc:
            rc = value_of(members, RESULT_CODE)
            if rc is not None:
                row["result_code"] = rc
        out.append({k: v for k, v in row.items() if v is not None})
    return out


@dataclass
class SessionTimeline:
    """Events per Session-Id, in capture order."""
    sessions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, m: CapturedMessage, s: Summary, latency: float | None) -> None:
        if s.session_id is None:
            return
        event: dict[str, Any] = {"time": m.time, "frame": m.frame, "message": s.label,
                                 "src": endpoint(m.src, m.sport), "dst": endpoint(m.dst, m.dport),
                                 "request": s.request, "origin_host": s.origin_host}
        if s.cc_request_number is not None:
            event["cc_request_number"] = s.cc_request_number
        if s.result_code is not None:
            event["result_code"] = s.result_code
        if latency is not None:
            event["latency_ms"] = round(latency * 1000, 3)
        units = mscc_of(s.avps)
        if units:
            event["mscc"] = units
        self.sessions.setdefault(s.session_id, []).append(event)

    def as_list(self) -> list[dict[str, Any]]:
        out = []
        for sid, events in self.sessions.items():
            start = events[0]["time"]
            out.append({"session_id": sid, "start": start,
                        "duration_s": round(events[-1]["time"] - start, 6),
                        "flow": " -> ".join(e["message"] for e in events if e["request"]),
                        "events": events})
        return out

    def render(self) -> str:
        lines: list[str] = []
        for sess in self.as_list():
            lines.append(f"Session {sess['session_id']}  ({len(sess['events'])} messages, "
                         f"{sess['duration_s']:.3f} s)")
            for e in sess["events"]:
                head = (f"  +{e['time'] - sess['start']:9.3f}s frame {e['frame']:<6} "
                        f"{e['message']:<8}")
                if e["src"] != ":0":
                    head += f" {e['src']} -> {e['dst']}"
                if "cc_request_number" in e:
                    head += f" #{e['cc_request_number']}"
                if "result_code" in e:
                    head += f" result={e['result_code']}"
                if "latency_ms" in e:
                    head += f" ({e['latency_ms']:.3f} ms)"
                lines.append(head)
                for u in e.get("mscc", []):
                    parts = [f"RG {u['rating_group']}" if "rating_group" in u else "units"]
                    for key in ("requested", "granted", "used"):
                        if key in u:
                            parts.append(f"{key} {_units_text(u[key])}")
                    if "validity_time" in u:
                        parts.append(f"validity {u['validity_time']}s")
                    if "final_unit_action" in u:
                        parts.append(f"FUI {u['final_unit_action']}")
                    if "result_code" in u:
                        parts.append(f"result={u['result_code']}")
                    lines.append("               " + ", ".join(parts))
            lines.append("")
        return "\n".join(lines).rstrip("\n")


def _units_text(u: Any) -> str:
    if isinstance(u, list):
        return " + ".join(_units_text(x) for x in u)
    if not u:
        return "(none)"
    return " ".join(f"{k}={v}" for k, v in u.items())
