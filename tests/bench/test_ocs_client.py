"""bench/ocs.py's load clients (bench/ocs_client.py) speak Diameter correctly and count every
answer: against `diameter ocs serve` (the whole bench, audit included) and against a scripted
peer that sends DWR, answers some CCRs with an error, checks the scheduling and drops a request
(the run must then fail, not hang). The figures are the bench's business, not checked here."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from diameter.message import Message
from diameter.message.commands import CapabilitiesExchangeAnswer, DeviceWatchdogRequest

ROOT = Path(__file__).resolve().parents[2]
OCS = ROOT / "bench" / "ocs.py"
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))


class ScriptedPeer(threading.Thread):
    """A one-connection Diameter server: CEA to the CER, one DWR after the first CCR (with
    ``dwr``; the node client takes a DWR that early for a peer in REOPEN, RFC 3539),
    CCA 4012 to every 7th CCR (2001 otherwise), none to the CCR numbered ``drop``,
    DPA to the DPR, answers to what one read brought sent together; records what it saw."""

    def __init__(self, drop: int | None = None, dwr: bool = True) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.drop, self.dwr = drop, dwr
        self.ccrs = self.max_outstanding = 0
        self.codes: dict[int, int] = {}
        self.outstanding: dict[bytes, str] = {}  # hop-by-hop id -> Session-Id of unanswered CCRs
        self.overlaps = 0  # a session's request sent while another of it was outstanding
        self.dwa: Message | None = None
        self.got_dpr = False
        self.answered: list[bytes] = []

    def answer(self, msg: Message, code: int) -> bytes:
        return msg.answer(code, origin_host="peer.bench.example.net",
                          origin_realm="bench.example.net").as_bytes()

    def run(self) -> None:
        conn, _ = self.sock.accept()
        buf = b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf, out, self.answered = buf + data, [], []
                while len(buf) >= 20 and len(buf) >= int.from_bytes(buf[1:4], "big"):
                    n = int.from_bytes(buf[1:4], "big")
                    raw, buf = buf[:n], buf[n:]
                    out.append(self.handle(raw, Message.from_bytes(raw)))
                for hbh in self.answered:  # all that arrived together were outstanding together
                    del self.outstanding[hbh]
                conn.sendall(b"".join(out))

    def handle(self, raw: bytes, msg: Message) -> bytes:
        command, hbh = msg.header.command_code, raw[12:16]
        if command == 257:
            cea = CapabilitiesExchangeAnswer.from_bytes(self.answer(msg, 2001))
            cea.host_ip_address, cea.vendor_id = ["127.0.0.1"], 0
            cea.product_name, cea.auth_application_id = "scripted", [4]
            return cea.as_bytes()
        if command == 280 and not msg.header.is_request:
            self.dwa = msg
            return b""
        if command == 282:
            self.got_dpr = True
            return self.answer(msg, 2001)
        assert command == 272, command
        self.ccrs += 1
        self.overlaps += msg.session_id in self.outstanding.values()
        self.outstanding[hbh] = msg.session_id
        self.max_outstanding = max(self.max_outstanding, len(self.outstanding))
        out = b""
        if self.ccrs == 1 and self.dwr:
            dwr = DeviceWatchdogRequest()
            dwr.origin_host, dwr.origin_realm = b"peer.bench.example.net", b"bench.example.net"
            dwr.header.hop_by_hop_identifier = dwr.header.end_to_end_identifier = 0xD0D0
            out = dwr.as_bytes()
        if self.ccrs == self.drop:
            return out
        code = 4012 if self.ccrs % 7 == 0 else 2001
        self.codes[code] = self.codes.get(code, 0) + 1
        self.answered.append(hbh)
        return out + self.answer(msg, code)


def run_client(port: int, client: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(OCS), "--load-client", "--client", client,
                           "--port", str(port), "--server-identity", "peer.bench.example.net",
                           "--sessions", "9", "--updates", "2", "--concurrency", "4",
                           "--inflight", "3", "--accounts", "5", "--timeout", str(timeout)],
                          env=ENV, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("client", ["lean", "node"])
def test_client_answers_the_peer_and_counts_every_code(client):
    peer = ScriptedPeer(dwr=client == "lean")
    peer.start()
    out = run_client(peer.port, client)
    peer.join(10)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["client"] == client and r["requests"] == peer.ccrs == 9 * 4
    assert {int(k): v for k, v in r["codes"].items()} == peer.codes == {2001: 31, 4012: 5}
    assert peer.max_outstanding <= 3 and peer.overlaps == 0 and not peer.outstanding
    assert peer.got_dpr
    if client == "lean":  # it writes the whole window at once at the start
        assert peer.max_outstanding == 3
        assert peer.dwa is not None and peer.dwa.result_code == 2001
        assert peer.dwa.header.hop_by_hop_identifier == 0xD0D0
    assert r["client_cpu_us"] > 0 and r["p50_ms"] <= r["p99_ms"]


def test_lean_client_fails_loudly_on_an_unanswered_request():
    peer = ScriptedPeer(drop=5)
    peer.start()
    out = run_client(peer.port, "lean", timeout=1.0)
    assert out.returncode != 0 and out.stdout == ""
    assert "1 requests unanswered" in out.stderr, out.stderr


def test_ocs_bench_with_the_lean_client_is_exact():
    out = subprocess.run([sys.executable, str(OCS), "--db", "sqlite", "--sessions", "20",
                          "--concurrency", "10", "--inflight", "8"],
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "load client (lean)" in out.stdout
    results = [ln for ln in out.stdout.splitlines() if " CCR/s " in ln]
    assert len(results) == 2 and all("results 2001:120" in ln for ln in results), results
    assert "audit clean, 400 ledger rows, balances exact" in out.stdout


def test_ratios_to_a_reference_that_measured_no_cpu_print_a_dash():
    """CPU time is read in 10 ms clock ticks: a short reference run can measure none, and the
    bench then prints "- x" instead of dying on a division by zero (a CI run did)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_ocs", OCS)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.times(1000.0, 0.0, 1) == "- x"
    assert bench.times(1000.0, 167.0, 1) == "6.0 x"
    assert bench.times(1995.0, 7022.0, 2) == "0.28 x"
