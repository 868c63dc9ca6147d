"""Real Diameter traffic on loopback, captured by tshark, for the CLI tests.

``capture_gy_through_freediameter(dir)`` starts ``tshark -i lo -w``, then our
client node -> a freeDiameterd relay -> our server node, and runs Gy
credit-control sessions (CCR-I/U/T with rating groups, granted units,
Validity-Time, FUI, a 4012, Huawei DCC AVPs) and one request freeDiameter
cannot route (it answers 3002 itself). The server answers 4012 to MSISDNs
ending in 9 and adds Huawei AVPs when the request has IN-Information. Returns the capture path and ports.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diameter.cli._avpindex import complete_document
from diameter.jsonview import dict_to_bytes, to_dict
from diameter.node.aio.node import DiameterNode

from interop.freediameter import ConnectPeer, FreeDiameter, free_tcp_port

HUAWEI = 2011


def A(name: str, value: Any = None, *avps: dict, vendor: int | None = None) -> dict:
    d: dict[str, Any] = {"name": name}
    if vendor is not None:
        d["vendor_id"] = vendor
    if avps:
        d["avps"] = list(avps)
    else:
        d["value"] = value
    return d


def message(command: str, avps: list[dict], *, request: bool = True, hbh: int = 0,
            e2e: int = 0, error: bool = False) -> bytes:
    doc = {"header": {"command": command, "application_id": 4, "request": request,
                      "hop_by_hop_identifier": hbh, "end_to_end_identifier": e2e,
                      "flags": {"request": request, "proxyable": True, "error": error}},
           "avps": avps}
    return dict_to_bytes(complete_document(doc))


def ccr(session: str, kind: int, number: int, dest_realm: str, *mscc: dict,
        extra: tuple[dict, ...] = (), msisdn: str = "41780000001") -> bytes:
    return message("Credit-Control", [
        A("Session-Id", session), A("Origin-Host", "client.c.test"), A("Origin-Realm", "c.test"),
        A("Destination-Realm", dest_realm), A("Auth-Application-Id", 4),
        A("Service-Context-Id", "32251@3gpp.org"), A("CC-Request-Type", kind),
        A("CC-Request-Number", number),
        A("Subscription-Id", None, A("Subscription-Id-Type", 0), A("Subscription-Id-Data", msisdn)),
        A("Multiple-Services-Indicator", 1), *mscc, *extra])


def mscc(rg: int, *parts: dict) -> dict:
    return A("Multiple-Services-Credit-Control", None, *parts, A("Rating-Group", rg))


def units(kind: str, **values: int) -> dict:
    names = {"time": "CC-Time", "total": "CC-Total-Octets", "input": "CC-Input-Octets",
             "output": "CC-Output-Octets"}
    return A(kind, None, *(A(names[k], v) for k, v in values.items()))


def _find(avps: list[dict], code: int) -> list[dict]:
    return [a for a in avps if a["code"] == code]


def answer_for(data: bytes, identity: str, realm: str) -> bytes:
    """The server's CCA: quota per rating group, FUI on the last grant, 4012 for 'poor'."""
    req = to_dict(data)
    h, avps = req["header"], req["avps"]
    session = _find(avps, 263)[0]["value"]
    kind = _find(avps, 416)[0]["value"]
    number = _find(avps, 415)[0]["value"]
    subscription = next((d["value"] for s in _find(avps, 443) for d in _find(s["avps"], 444)), "")
    result = 4012 if subscription.endswith("9") else 2001  # the poor subscriber
    out = [A("Session-Id", session), A("Result-Code", result), A("Origin-Host", identity),
           A("Origin-Realm", realm), A("Auth-Application-Id", 4), A("CC-Request-Type", kind),
           A("CC-Request-Number", number)]
    if result == 2001 and kind != 3:
        for m in _find(avps, 456):
            rg = _find(m["avps"], 432)[0]["value"]
            parts = [units("Granted-Service-Unit", total=1048576) if rg == 10
                     else units("Granted-Service-Unit", time=300),
                     A("Validity-Time", 600), A("Result-Code", 2001)]
            if kind == 2 and rg == 10:
                parts.append(A("Final-Unit-Indication", None, A("Final-Unit-Action", 0)))
            out.append(mscc(rg, *parts))
    if _find(avps, 20300):  # Huawei IN-Information in the request
        out.append(A("IN-Information", None,
                     A("Balance-Info", None, A("Balance-Type", 2000, vendor=HUAWEI),
                       A("Current-Balance", 12345, vendor=HUAWEI), vendor=HUAWEI),
                     A("Access-Method", 2, vendor=HUAWEI), vendor=HUAWEI))
        out.append(A("Account-Change-Info", None, A("Account-Type", 2000, vendor=HUAWEI),
                     A("Current-Account-Balance", 9000, vendor=HUAWEI),
                     A("Account-Balance-Change", -345, vendor=HUAWEI), vendor=HUAWEI))
    return message("Credit-Control", out, request=False, hbh=h["hop_by_hop_identifier"],
                   e2e=h["end_to_end_identifier"])


@dataclass
class Capture:
    path: Path
    ports: list[int]  # ports carrying Diameter in the capture
    sessions: list[str]


class Tshark:
    """``tshark -i lo -w path`` running until ``stop()``."""

    def __init__(self, path: Path, ports: list[int]) -> None:
        self.path = path
        bpf = " or ".join(f"tcp port {p}" for p in ports)
        self.err = path.with_suffix(".stderr")
        self._err_file = open(self.err, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(["tshark", "-i", "lo", "-w", str(path), "-f", bpf],
                                     stdout=subprocess.DEVNULL, stderr=self._err_file,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while b"Capturing on" not in self.err.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tshark did not start: {self.err.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        time.sleep(0.5)  # let the last packets reach the capture
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._err_file.close()


def capture_gy_through_freediameter(workdir: Path) -> Capture:
    workdir.mkdir(parents=True, exist_ok=True)
    port_srv, port_relay = free_tcp_port(), free_tcp_port()
    pcap = workdir / "gy.pcapng"
    shark = Tshark(pcap, [port_srv, port_relay])
    relay = FreeDiameter(workdir / "relay", "relay.relay.test", "relay.test", port=port_relay,
                         allow=["*.c.test"], peers=[ConnectPeer("srv.a.test", port_srv,
                                                                realm="a.test")],
                         routes=['dr="a.test" : rlm="a.test" += 100 ;'])
    sessions = ["client.c.test;1;gy", "client.c.test;2;huawei", "client.c.test;3;poor"]

    async def scenario() -> None:
        srv = DiameterNode("srv.a.test", "a.test", ip_addresses=["127.0.0.1"], decode=bytes,
                           tcp_port=port_srv, listen_addresses=["127.0.0.1"])
        srv.add_application(4, lambda data: answer_for(data, "srv.a.test", "a.test"),
                            validate=False)
        srv.add_peer("relay.relay.test", "relay.test")
        client = DiameterNode("client.c.test", "c.test", ip_addresses=["127.0.0.1"],
                              decode=bytes)
        client.add_application(4)
        await srv.start()
        await client.start()
        try:
            await asyncio.to_thread(relay.start)
            await srv.wait_open("relay.relay.test", timeout=15)
            await asyncio.to_thread(relay.wait_peer_state, "srv.a.test", "STATE_OPEN")
            hop = client.add_peer("relay.relay.test", "relay.test", ["127.0.0.1"],
                                  port=port_relay)
            await client.connect(hop, timeout=10)
            client.add_route("a.test", ["relay.relay.test"])
            client.add_route("nowhere.test", ["relay.relay.test"])
            gy, hw, poor = sessions
            both = (mscc(10, units("Requested-Service-Unit", total=0)),
                    mscc(20, units("Requested-Service-Unit", time=0)))
            await client.request_bytes(ccr(gy, 1, 0, "a.test", *both), timeout=10)
            await client.request_bytes(ccr(gy, 2, 1, "a.test", mscc(
                10, units("Requested-Service-Unit", total=0),
                units("Used-Service-Unit", total=524288, input=262144, output=262144)),
                mscc(20, units("Used-Service-Unit", time=120))), timeout=10)
            await asyncio.gather(
                client.request_bytes(ccr(gy, 3, 2, "a.test", mscc(
                    10, units("Used-Service-Unit", total=1048576))), timeout=10),
                client.request_bytes(ccr(hw, 4, 0, "a.test", extra=(
                    A("IN-Information", None, A("Account-Query-Method", 1, vendor=HUAWEI),
                      vendor=HUAWEI),)), timeout=10),
                client.request_bytes(ccr(poor, 1, 0, "a.test", *both, msisdn="41780000009"),
                                     timeout=10))
            await client.request_bytes(ccr("client.c.test;4;lost", 1, 0, "nowhere.test", *both),
                                       timeout=10)
        finally:
            await client.stop(timeout=3)
            await srv.stop(timeout=3)
            await asyncio.to_thread(relay.stop)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        shark.stop()
    return Capture(pcap, [port_srv, port_relay], sessions)
