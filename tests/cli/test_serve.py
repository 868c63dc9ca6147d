"""``diameter serve``: a node from a config file, answering by rule, relaying, reloading on SIGHUP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from interop.freediameter import ConnectPeer, FreeDiameter, free_tcp_port

from .conftest import SRC, run_cli

pytestmark = pytest.mark.interop

RESPONDER = """\
[node]
identity = "srv.a.test"
realm = "a.test"
listen = ["127.0.0.1"]
port = {port}
metrics_port = {metrics}
accept_unknown_peers = true

[[applications]]
name = "gy"

[[applications.rules]]
name = "termination"
command = "CCR"
match = {{ CC-Request-Type = "TERMINATION_REQUEST" }}
result_code = 2001

[[applications.rules]]
name = "poor subscriber"
command = "CCR"
match = {{ "Subscription-Id.Subscription-Id-Data" = "*9" }}
result_code = 4012

[[applications.rules]]
name = "grant"
command = "CCR"
result_code = 2001
avps = [
  {{ name = "Multiple-Services-Credit-Control", avps = [
      {{ name = "Granted-Service-Unit", avps = [{{ name = "CC-Total-Octets", value = 1048576 }}] }},
      {{ name = "Rating-Group", value = "{{Rating-Group}}" }},
      {{ name = "Validity-Time", value = 600 }} ] }},
]
"""


class Served:
    def __init__(self, config: Path) -> None:
        env = dict(os.environ, PYTHONPATH=SRC)
        self.err = config.with_suffix(".log")
        self.proc = subprocess.Popen([sys.executable, "-m", "diameter", "-v", "serve", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.err, "wb"),
                                     env=env)
        self.wait_log("listening on")

    def log(self) -> str:
        return self.err.read_text()

    def wait_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


@pytest.fixture
def responder(tmp_path):
    port, metrics = free_tcp_port(), free_tcp_port()
    cfg = tmp_path / "a.toml"
    cfg.write_text(RESPONDER.format(port=port, metrics=metrics))
    served = Served(cfg)
    yield served, port, metrics
    assert served.stop() == 0
    assert "stopped" in served.log() and "Traceback" not in served.log()


def _send(port: int, *args: str, host: str = "cli.c.test"):
    return run_cli("send", "--to", f"127.0.0.1:{port}", "--origin-host", host, "-b", *args)


def test_rules_answer_and_metrics(responder):
    served, port, metrics = responder
    grant = _send(port, "-c", "CCR", "--set", "Multiple-Services-Credit-Control.Rating-Group=33",
                  "--json")
    assert grant.returncode == 0, grant.stderr
    [rec] = json.loads(grant.stdout)
    answer = rec["answer"]
    assert [a["name"] for a in answer["avps"][:3]] == ["Session-Id", "Result-Code", "Origin-Host"]
    assert answer["avps"][0]["value"] == rec["request"]["avps"][0]["value"]
    mscc = next(a for a in answer["avps"] if a["name"] == "Multiple-Services-Credit-Control")
    assert {m["name"]: m.get("value") for m in mscc["avps"]}["Rating-Group"] == 33  # from the request
    term = _send(port, "-c", "CCR", "--set", "CC-Request-Type=TERMINATION_REQUEST")
    assert term.returncode == 0 and b"CCA-T" in term.stdout and b"result=2001" in term.stdout
    poor = _send(port, "-c", "CCR", "--set", "Subscription-Id.Subscription-Id-Data=41780000009",
                 "--set", "Subscription-Id.Subscription-Id-Type=END_USER_E164")
    assert poor.returncode == 1 and b"result=4012" in poor.stdout
    unknown = _send(port, "-c", "RAR", "-a", "gy")  # no rule for it
    assert unknown.returncode == 1 and b"result=3001" in unknown.stdout
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10).read()
    assert b"diameter_" in text


def test_freediameter_relays_to_served_node(responder, tmp_path):
    _served, port, _ = responder
    relay = FreeDiameter(tmp_path / "relay", "relay.relay.test", "relay.test",
                         allow=["*.c.test"], peers=[ConnectPeer("srv.a.test", port, realm="a.test")],
                         routes=['dr="a.test" : rlm="a.test" += 100 ;'])
    relay.start()
    try:
        relay.wait_peer_state("srv.a.test", "STATE_OPEN", timeout=15)
        out = _send(relay.port, "-c", "CCR", "--set", "Destination-Realm=a.test")
        assert out.returncode == 0 and b"CCA-I" in out.stdout and b"result=2001" in out.stdout
    finally:
        relay.stop()


def test_sighup_reloads_peers_and_routes(responder, tmp_path):
    _served, port_a, _ = responder
    port_b = free_tcp_port()
    cfg = tmp_path / "b.yaml"
    base = (f"node: {{identity: agent.b.test, realm: b.test, port: {port_b}, "
            "accept_unknown_peers: true, relay: true}\n")
    cfg.write_text(base)
    agent = Served(cfg)
    try:
        before = _send(port_b, "-c", "CCR", "--set", "Destination-Realm=a.test")
        assert before.returncode == 1 and b"result=3" in before.stdout  # no route to a.test
        cfg.write_text(base + f"peers:\n  - {{identity: srv.a.test, realm: a.test, "
                              f"address: 127.0.0.1, port: {port_a}}}\n"
                              "routes:\n  - {realm: a.test, servers: [srv.a.test]}\n")
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_log("reloaded")
        for _ in range(100):
            after = _send(port_b, "-c", "CCR", "--set", "Destination-Realm=a.test")
            if after.returncode == 0:
                break
            time.sleep(0.1)
        assert after.returncode == 0 and b"result=2001" in after.stdout, after.stdout
        cfg.write_text("node: {identity: broken")  # a bad file keeps the running configuration
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_log("reload of")
        assert _send(port_b, "-c", "CCR", "--set", "Destination-Realm=a.test").returncode == 0
    finally:
        assert agent.stop() == 0


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[node]\nidentity = "x.test"\n')
    out = run_cli("serve", str(cfg))
    assert out.returncode == 1 and b"[node] needs 'realm'" in out.stderr
    cfg.write_text('[node]\nidentity = "x.test"\nrealm = "test"\n[[peers]]\nidentity = "aaa://p:3868"\n')
    out = run_cli("serve", str(cfg), "--check")
    assert out.returncode == 1 and b"is a URI" in out.stderr
    cfg.write_text('[node]\nidentity = "x.test"\nrealm = "test"\n')
    assert run_cli("serve", str(cfg), "--check", check=True).stdout.startswith(b"")


ALL_APPS = """\
[node]
identity = "srv.a.test"
realm = "a.test"
port = {port}
tls_port = {tls_port}
accept_unknown_peers = true

[tls]
cert = "{cert}"
key = "{key}"

[[applications]]
name = "gx"
rules = [{{ result_code = 2001 }}]

[[applications]]
name = "s6a"
rules = [{{ command = "AIR", result_code = 2001 }}, {{ command = "ULR", result_code = 2001 }}]

[[applications]]
name = "sy"
rules = [{{ result_code = 2001 }}]
"""


def test_tls_and_every_bench_scenario(tmp_path):
    from interop.freediameter import make_certificate
    cert, key = make_certificate(tmp_path, "srv.a.test")
    port, tls_port = free_tcp_port(), free_tcp_port()
    cfg = tmp_path / "all.toml"
    cfg.write_text(ALL_APPS.format(port=port, tls_port=tls_port, cert=cert, key=key))
    served = Served(cfg)
    try:
        tls = run_cli("send", "--to", f"aaas://127.0.0.1:{tls_port}", "--ca", str(cert),
                      "--insecure", "--origin-host", "cli.c.test", "-c", "CCR", "-a", "gx", "-b")
        assert tls.returncode == 0 and b"CCA-I" in tls.stdout and b"result=2001" in tls.stdout
        for scenario in ("gx", "s6a", "sy"):
            out = run_cli("bench", "--to", f"127.0.0.1:{port}", "--origin-host", "cli.c.test",
                          "--scenario", scenario, "-n", "40", "-c", "4", "--no-progress",
                          "--json", timeout=120)
            assert out.returncode == 0, (scenario, out.stdout[-800:], out.stderr)
            assert json.loads(out.stdout)["result_codes"] == {"2001": 40}
    finally:
        assert served.stop() == 0


def test_bench_gy_think_time_bounded_by_validity_time(tmp_path):
    port = free_tcp_port()
    cfg = tmp_path / "vt.yaml"
    cfg.write_text(f"""\
node: {{identity: srv.a.test, realm: a.test, port: {port}, accept_unknown_peers: true}}
applications:
  - name: gy
    rules:
      - command: CCR
        result_code: 2001
        avps:
          - name: Multiple-Services-Credit-Control
            avps:
              - {{name: Granted-Service-Unit, avps: [{{name: CC-Total-Octets, value: 1000}}]}}
              - {{name: Rating-Group, value: "{{Rating-Group}}"}}
              - {{name: Validity-Time, value: 1}}
""")
    served = Served(cfg)
    try:
        # think 5 s, but the grant is valid for 1 s: each CCR-U/T follows within 0.9 s
        out = run_cli("bench", "--to", f"127.0.0.1:{port}", "--origin-host", "cli.c.test",
                      "--scenario", "gy", "-n", "12", "-c", "4", "--session-length", "fixed:2",
                      "--think", "5s", "--no-progress", "--json", timeout=60)
        assert out.returncode == 0, out.stderr
        s = json.loads(out.stdout)
        assert s["result_codes"] == {"2001": 12}
        assert 2.0 <= s["seconds"] < 4.5  # 3 pauses of 0.9 s, not of 5 s
    finally:
        assert served.stop() == 0


def test_redirect_agent(tmp_path):
    port = free_tcp_port()
    cfg = tmp_path / "redirect.toml"
    cfg.write_text(f"""\
[node]
identity = "redir.b.test"
realm = "b.test"
port = {port}
accept_unknown_peers = true

[[peers]]
identity = "srv.a.test"
realm = "a.test"
connect = false

[[applications]]
name = "gy"
mode = "redirect"
servers = ["srv.a.test"]
""")
    served = Served(cfg)
    try:
        out = run_cli("send", "--to", f"127.0.0.1:{port}", "--origin-host", "cli.c.test",
                      "-c", "CCR", "--set", "Destination-Realm=b.test")
        assert out.returncode == 1  # 3006 is not a success
        assert b"DIAMETER_REDIRECT_INDICATION (3006)" in out.stdout
        assert b"AVP: Redirect-Host(292) l=24 f=-M- val=aaa://srv.a.test" in out.stdout
    finally:
        assert served.stop() == 0
