"""Messages as an indented tree, in the spirit of ``tshark -V``'s Diameter view.

One line per AVP: ``AVP: Name(code) l=length f=VMP vnd=Vendor val=value``,
enum values as ``LABEL (n)``, Grouped members indented below their AVP.
Styles are click styles: ``click.echo`` drops them when not on a terminal.
"""
from __future__ import annotations

import datetime
from typing import Any

import click

from .summary import Summary

__all__ = ["render_message", "frame_line", "format_value", "endpoint"]

_AVP_FLAG_CHARS = (("vendor", "V"), ("mandatory", "M"), ("private", "P"))


def format_value(a: dict[str, Any]) -> str:
    """The value part of an AVP line (``None`` for Grouped)."""
    if "value" in a:
        v = a["value"]
        if a.get("type") == "Enumerated" or a.get("enum") is not None:
            label = a.get("enum")
            return f"{label} ({v})" if label else str(v)
        return str(v)
    if "raw" in a:
        return "0x" + a["raw"] if a["raw"] else "(empty)"
    return ""


def _flags(f: dict[str, Any]) -> str:
    return "".join(c if f.get(n) else "-" for n, c in _AVP_FLAG_CHARS)


def _avp_length(a: dict[str, Any]) -> int:
    head = 12 if a["flags"].get("vendor") else 8
    if "avps" in a:
        return head + sum(_padded(m) for m in a["avps"])
    if "raw" in a:
        return head + len(a["raw"]) // 2
    from ..jsonview import JsonFormatError, dict_to_bytes
    try:  # the exact length the value encodes to
        wire = dict_to_bytes({"header": {"command_code": 0}, "avps": [a]})
    except JsonFormatError:  # a length is decoration only
        return head
    return int.from_bytes(wire[25:28], "big")


def _padded(a: dict[str, Any]) -> int:
    n = _avp_length(a)
    return n + (-n & 3)


def _avp_lines(avps: list[dict[str, Any]], indent: str, out: list[str]) -> None:
    for a in avps:
        name = click.style(a["name"], fg="cyan" if a["name"] != "Unknown" else "red", bold=True)
        line = f"{indent}AVP: {name}({a['code']}) l={_avp_length(a)} f={_flags(a['flags'])}"
        if a["vendor_id"]:
            line += f" vnd={a['vendor'] or a['vendor_id']}"
        if "avps" not in a:
            line += " val=" + click.style(format_value(a), fg="green")
        out.append(line)
        if "avps" in a:
            _avp_lines(a["avps"], indent + "    ", out)


def endpoint(ip: str, port: int) -> str:
    """``ip:port``, IPv6 in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def frame_line(frame: int, time: float, src: str, sport: int, dst: str, dport: int,
               transport: str) -> str:
    when = datetime.datetime.fromtimestamp(time, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S.%f")
    return click.style(f"Frame {frame}: {when} {endpoint(src, sport)} -> {endpoint(dst, dport)} "
                       f"{transport.upper()}", bold=True)


def render_message(s: Summary, extra: list[str] | None = None) -> str:
    """The tree of one message (header fields, then AVPs)."""
    h = s.doc["header"]
    flag_names = [n.capitalize() for n in ("request", "proxyable", "error", "retransmit")
                  if h["flags"][n]]
    flags_byte = sum(b for n, b in (("request", 0x80), ("proxyable", 0x40), ("error", 0x20),
                                    ("retransmit", 0x10)) if h["flags"][n]) | h["flags"]["reserved"]
    out = [
        click.style(f"Diameter Protocol ({s.label})", bold=True),
        f"    Version: 0x{h['version']:02x}",
        f"    Length: {h['length']}",
        f"    Flags: 0x{flags_byte:02x}" + (", " + ", ".join(flag_names) if flag_names else ""),
        f"    Command Code: {h['command_code']} {s.command_name}",
        f"    ApplicationId: {s.application_name} ({h['application_id']})",
        f"    Hop-by-Hop Identifier: 0x{h['hop_by_hop_identifier']:08x}",
        f"    End-to-End Identifier: 0x{h['end_to_end_identifier']:08x}",
    ]
    out += [f"    [{e}]" for e in extra or []]
    _avp_lines(s.avps, "    ", out)
    return "\n".join(out)
