"""tshark's own dissection of a capture (``tshark -T pdml``), as plain data for comparison."""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

_AVP_META = {"diameter.avp.code", "diameter.avp.flags", "diameter.avp.len",
             "diameter.avp.vendorId", "diameter.avp.pad", "diameter.avp", ""}


@dataclass
class TsAvp:
    code: int
    vendor: int
    flags: int
    length: int
    name: str  # from "AVP: Name(code) ..." ("Unknown" when tshark does not know it)
    value_hex: str | None = None  # payload bytes tshark shows as the value
    show: str | None = None  # tshark's display value
    avps: list[TsAvp] = field(default_factory=list)


@dataclass
class TsMessage:
    frame: int
    command_code: int
    flags: int
    application_id: int
    hop_by_hop: int
    end_to_end: int
    response_time: float | None
    avps: list[TsAvp]


def _avp(el: ET.Element) -> TsAvp:
    fields = {c.get("name"): c for c in el if c.tag == "field"}
    name = (el.get("showname") or "").removeprefix("AVP: ").split("(", 1)[0]
    a = TsAvp(int(fields["diameter.avp.code"].get("show")),
              int(fields["diameter.avp.vendorId"].get("show")) if "diameter.avp.vendorId" in fields else 0,
              int(fields["diameter.avp.flags"].get("show"), 16),
              int(fields["diameter.avp.len"].get("show")), name)
    for c in el:
        n = c.get("name")
        if c.tag != "field":
            continue
        if n == "diameter.avp":
            a.avps.append(_avp(c))
        elif n not in _AVP_META and n.startswith("diameter."):
            nested = [x for x in c if x.tag == "field" and x.get("name") == "diameter.avp"]
            if nested:  # a grouped AVP's members sit under its named field
                a.avps.extend(_avp(x) for x in nested)
            elif a.value_hex is None:
                a.value_hex = c.get("value")
                a.show = c.get("show")
    return a


def dissect(pcap: Path, decode_as: list[str]) -> list[TsMessage]:
    cmd = ["tshark", "-n", "-r", str(pcap), "-o", "tcp.desegment_tcp_streams:TRUE",
           "-o", "tcp.reassemble_out_of_order:TRUE", "-o", "diameter.desegment:TRUE", "-T", "pdml"]
    for d in decode_as:
        cmd += ["-d", d]
    out = subprocess.run(cmd, capture_output=True, timeout=120, check=True).stdout
    root = ET.fromstring(out)
    msgs = []
    for pkt in root.findall("packet"):
        frame = None
        for proto in pkt.findall("proto"):
            if proto.get("name") == "frame":
                frame = int(next(f.get("show") for f in proto.iter("field")
                                 if f.get("name") == "frame.number"))
            if proto.get("name") != "diameter":
                continue
            f = {c.get("name"): c for c in proto if c.tag == "field"}
            rt = f.get("diameter.resp_time")
            msgs.append(TsMessage(
                frame, int(f["diameter.cmd.code"].get("show")),
                int(f["diameter.flags"].get("show"), 16),
                int(f["diameter.applicationId"].get("show")),
                int(f["diameter.hopbyhopid"].get("show"), 16),
                int(f["diameter.endtoendid"].get("show"), 16),
                float(rt.get("show")) if rt is not None else None,
                [_avp(c) for c in proto if c.tag == "field" and c.get("name") == "diameter.avp"]))
    return msgs
