"""Dissect Diameter message bytes with a real tshark (Debian package tshark).

``dissect(messages)`` writes each message into a pcap as its own TCP stream
between 127.0.0.1 endpoints (requests towards port 3868, answers from it),
runs ``tshark -T pdml`` on it and returns one :class:`Dissection` per message:
header fields, the AVP tree with Wireshark's names, and every expert info the
Diameter dissector raised (malformed packet, wrong AVP length, unknown AVP...).

One stream per message means a broken message can not desynchronise the
dissection of the next one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

DIAMETER_PORT = 3868
FIRST_CLIENT_PORT = 20000
MAX_SEGMENT = 60000

# epan/proto.h PI_* severity values as tshark writes them in PDML.
SEVERITIES = {0x100000: "comment", 0x200000: "chat", 0x400000: "note",
              0x600000: "warning", 0x800000: "error"}


class TsharkError(RuntimeError):
    """tshark is missing or failed to run."""


@dataclass
class ExpertInfo:
    severity: str  # "error", "warning", "note", "chat" or "comment"
    group: str  # e.g. "Malformed", "Undecoded", "Protocol"
    message: str


@dataclass
class DissectedAvp:
    code: int
    name: str  # Wireshark's name, "Unknown" for AVPs not in its dictionary
    flags: int
    length: int
    vendor_id: int | None
    value: str | None  # tshark's "show" text of the value (None for grouped AVPs)
    avps: list[DissectedAvp] = field(default_factory=list)  # members of a grouped AVP

    def walk(self):
        """This AVP and all AVPs nested in it, depth first."""
        yield self
        for child in self.avps:
            yield from child.walk()


@dataclass
class Dissection:
    """What tshark made of one message."""

    index: int
    command_code: int | None = None
    command_name: str = ""
    application_id: int | None = None
    flags: int | None = None
    length: int | None = None
    hop_by_hop: int | None = None
    end_to_end: int | None = None
    avps: list[DissectedAvp] = field(default_factory=list)
    experts: list[ExpertInfo] = field(default_factory=list)
    malformed: bool = False
    pdu_count: int = 0  # Diameter PDUs tshark found in this message's bytes

    @property
    def is_request(self) -> bool:
        return bool((self.flags or 0) & 0x80)

    @property
    def errors(self) -> list[str]:
        """Malformed markers and error-severity expert infos (must be empty for valid input)."""
        out = [f"{e.group}: {e.message}" for e in self.experts if e.severity == "error"]
        if self.malformed and not any(e.group == "Malformed" for e in self.experts):
            out.append("Malformed Packet")
        if self.pdu_count != 1:
            out.append(f"tshark found {self.pdu_count} Diameter PDUs in one message")
        return out

    @property
    def warnings(self) -> list[str]:
        return [f"{e.group}: {e.message}" for e in self.experts if e.severity == "warning"]

    def all_avps(self) -> list[DissectedAvp]:
        """Every AVP of the message, nested ones included, depth first."""
        return [a for top in self.avps for a in top.walk()]

    def find(self, name_or_code: str | int) -> list[DissectedAvp]:
        """All AVPs (at any depth) with this Wireshark name or code."""
        key = "code" if isinstance(name_or_code, int) else "name"
        return [a for a in self.all_avps() if getattr(a, key) == name_or_code]


def have_tshark() -> bool:
    return shutil.which("tshark") is not None


def write_pcap(path: Path, messages: list[bytes]) -> None:
    """Write each message as its own loopback TCP stream (split in <= 60000-byte segments)."""
    lo = socket.inet_aton("127.0.0.1")
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        ts = 1.0
        for i, msg in enumerate(messages):
            client = FIRST_CLIENT_PORT + i
            request = len(msg) > 4 and bool(msg[4] & 0x80)
            sport, dport = (client, DIAMETER_PORT) if request else (DIAMETER_PORT, client)
            seq = 1
            for off in range(0, max(len(msg), 1), MAX_SEGMENT):
                chunk = msg[off : off + MAX_SEGMENT]
                tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=1, win=65535,
                                   flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data=chunk)
                ip = dpkt.ip.IP(src=lo, dst=lo, p=dpkt.ip.IP_PROTO_TCP, ttl=64, data=tcp)
                ip.len = len(bytes(ip))
                eth = dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6,
                                             type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
                writer.writepkt(bytes(eth), ts=ts)
                ts += 0.001
                seq += len(chunk)


def run_tshark(pcap: Path, timeout: float = 120.0) -> str:
    """PDML text of the Diameter dissection of ``pcap``."""
    if not have_tshark():
        raise TsharkError("tshark not found: apt-get install tshark libwireshark-data")
    cmd = ["tshark", "-n", "-r", str(pcap), "-d", f"tcp.port=={DIAMETER_PORT},diameter",
           "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "diameter.desegment:TRUE", "-T", "pdml"]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise TsharkError(f"tshark exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode("utf-8", errors="replace")


def dissect(messages: list[bytes]) -> list[Dissection]:
    """Dissect each message with tshark; result ``i`` belongs to ``messages[i]``."""
    with tempfile.TemporaryDirectory(prefix="tshark-") as tmp:
        pcap = Path(tmp) / "messages.pcap"
        write_pcap(pcap, messages)
        pdml = run_tshark(pcap)
    return parse_pdml(pdml, len(messages))


def dissect_one(message: bytes) -> Dissection:
    return dissect([message])[0]


# -- PDML parsing -----------------------------------------------------------

def _int(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    return int(text, 0)


def _stream_index(packet: ET.Element) -> int | None:
    for proto in packet.findall("proto"):
        if proto.get("name") == "tcp":
            ports = {}
            for f in proto.iter("field"):
                if f.get("name") in ("tcp.srcport", "tcp.dstport"):
                    ports[f.get("name")] = int(f.get("show", "0"))
            client = ports.get("tcp.srcport") if ports.get("tcp.dstport") == DIAMETER_PORT \
                else ports.get("tcp.dstport")
            return None if client is None else client - FIRST_CLIENT_PORT
    return None


def _expert(el: ET.Element) -> ExpertInfo:
    sev = group = msg = None
    for child in el:
        name = child.get("name")
        if name == "_ws.expert.severity":
            sev = SEVERITIES.get(_int(child.get("show")) or 0, child.get("show"))
        elif name == "_ws.expert.group":
            group = (child.get("showname") or "").removeprefix("Group: ")
        elif name == "_ws.expert.message":
            msg = child.get("show")
    if msg is None:
        msg = (el.get("showname") or "").split("): ", 1)[-1]
    return ExpertInfo(sev or "unknown", group or "", msg)


def _collect_experts(root: ET.Element, out: Dissection) -> None:
    for el in root.iter():
        name = el.get("name")
        if el.tag == "field" and name == "_ws.expert":
            out.experts.append(_expert(el))
        elif name in ("_ws.malformed", "_ws.short"):
            out.malformed = True


def _avp(el: ET.Element) -> DissectedAvp:
    code = flags = length = 0
    name = "Unknown"
    vendor: int | None = None
    value: str | None = None
    children: list[DissectedAvp] = []
    for child in el.findall("field"):
        cname = child.get("name") or ""
        if cname == "diameter.avp.code":
            code = int(child.get("show", "0"))
            parts = (child.get("showname") or "").split(None, 3)
            if len(parts) == 4:
                name = parts[3]
        elif cname == "diameter.avp.flags":
            flags = int(child.get("show", "0"), 0)
        elif cname == "diameter.avp.len":
            length = int(child.get("show", "0"))
        elif cname == "diameter.avp.vendorId":
            vendor = int(child.get("show", "0"))
        elif cname in ("diameter.avp.pad", "diameter.vendorId", ""):
            continue
        elif cname.startswith("diameter."):
            nested = [_avp(g) for g in child.findall("field") if g.get("name") == "diameter.avp"]
            if nested:
                children.extend(nested)
            elif value is None:
                value = child.get("show")
    return DissectedAvp(code, name, flags, length, vendor, value, children)


def _header(proto: ET.Element, out: Dissection) -> None:
    for f in proto.findall("field"):
        name = f.get("name")
        if name == "diameter.cmd.code":
            out.command_code = int(f.get("show", "0"))
            out.command_name = (f.get("showname") or "").removeprefix("Command Code: ").rsplit(" (", 1)[0]
        elif name == "diameter.applicationId":
            out.application_id = int(f.get("show", "0"))
        elif name == "diameter.flags":
            out.flags = int(f.get("show", "0"), 0)
        elif name == "diameter.length":
            out.length = int(f.get("show", "0"))
        elif name == "diameter.hopbyhopid":
            out.hop_by_hop = int(f.get("show", "0"), 0)
        elif name == "diameter.endtoendid":
            out.end_to_end = int(f.get("show", "0"), 0)
        elif name == "diameter.avp":
            out.avps.append(_avp(f))


def parse_pdml(pdml: str, count: int) -> list[Dissection]:
    """Turn tshark's PDML into one Dissection per message index."""
    results = [Dissection(index=i) for i in range(count)]
    root = ET.fromstring(pdml)
    for packet in root.findall("packet"):
        idx = _stream_index(packet)
        if idx is None or not 0 <= idx < count:
            continue
        out = results[idx]
        seen_diameter = False
        for proto in packet.findall("proto"):
            pname = proto.get("name")
            if pname == "diameter":
                seen_diameter = True
                out.pdu_count += 1
                if out.pdu_count == 1:
                    _header(proto, out)
                _collect_experts(proto, out)
            elif seen_diameter and pname in ("_ws.malformed", "_ws.short", "_ws.expert"):
                out.malformed = out.malformed or pname != "_ws.expert"
                _collect_experts(proto, out)
    return results
