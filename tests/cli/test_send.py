"""``diameter send`` and ``diameter encode`` against freeDiameter (a relay in front of our node)."""
from __future__ import annotations

import base64
import json

import pytest

from diameter.jsonview import to_dict

from .conftest import invoke, run_cli

pytestmark = pytest.mark.interop

CCR_YAML = """\
header: {command: CCR, application: gy}
avps:
  - {name: Destination-Realm, value: a.test}
  - {name: CC-Request-Type, value: INITIAL_REQUEST}
  - {name: CC-Request-Number, value: 0}
  - name: Multiple-Services-Credit-Control
    avps:
      - {name: Requested-Service-Unit, avps: [{name: CC-Total-Octets, value: 0}]}
      - {name: Rating-Group, value: 10}
"""


def _send(net, *args: str):
    return run_cli("send", "--to", f"127.0.0.1:{net.relay_port}", "--origin-host", "cli.c.test",
                   *args)


def test_dwr_to_freediameter(network):
    out = _send(network, "-c", "DWR", "-b")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"DWA ") and b"result=2001" in out.stdout


def test_yaml_request_through_freediameter_with_retransmission(network, tmp_path):
    path = tmp_path / "ccr.yaml"
    path.write_text(CCR_YAML)
    out = _send(network, str(path), "--retransmit", "--json")
    assert out.returncode == 0, out.stderr
    [rec] = json.loads(out.stdout)
    assert rec["result_code"] == 2001
    names = [a["name"] for a in rec["request"]["avps"]]
    assert names[:5] == ["Session-Id", "Origin-Host", "Origin-Realm", "Destination-Realm",
                         "Auth-Application-Id"]  # filled in, in grammar order
    mscc = next(a for a in rec["answer"]["avps"] if a["name"] == "Multiple-Services-Credit-Control")
    members = {m["name"]: m for m in mscc["avps"]}
    assert members["Rating-Group"]["value"] == 10
    assert members["Granted-Service-Unit"]["avps"][0]["value"] == 1048576
    assert rec["retransmission"]["result_code"] == 2001
    assert rec["retransmission"]["verdict"] in ("same answer", "different answer: AVPs differ")
    tree = _send(network, str(path))
    assert b"AVP: Granted-Service-Unit(431)" in tree.stdout and b"Response time:" in tree.stdout


def test_typed_command_with_set_and_error_exit(network):
    ok = _send(network, "-c", "CCR", "--set", "Destination-Realm=a.test",
               "--set", "Multiple-Services-Credit-Control.Rating-Group=20",
               "--set", "CC-Request-Type=EVENT_REQUEST", "-b")
    assert ok.returncode == 0 and b"CCA-E" in ok.stdout and b"result=2001" in ok.stdout
    lost = _send(network, "-c", "CCR", "--set", "Destination-Realm=nowhere.test", "-b")
    assert lost.returncode == 1 and b"result=3002" in lost.stdout  # freeDiameter's own answer


def test_connection_and_usage_errors(network, free_tcp_port):
    refused = run_cli("send", "--to", f"127.0.0.1:{free_tcp_port}", "-c", "DWR")
    assert refused.returncode == 1 and b"cannot connect" in refused.stderr
    unknown = _send(network, "-c", "CCR", "--set", "No-Such-Avp=1")
    assert unknown.returncode == 2 and b"unknown AVP" in unknown.stderr
    nothing = _send(network)
    assert nothing.returncode == 2


def test_encode_yaml_to_hex_base64_bytes(tmp_path):
    path = tmp_path / "ccr.yaml"
    path.write_text(CCR_YAML)
    hexed = run_cli("encode", str(path), "--set", "Session-Id=a;1", check=True).stdout.strip()
    wire = bytes.fromhex(hexed.decode())
    d = to_dict(wire)
    assert d["header"]["command_code"] == 272 and d["header"]["flags"]["request"]
    assert [a["name"] for a in d["avps"]][-1] == "Session-Id"
    b64 = invoke("encode", str(path), "-f", "base64", "--set", "Session-Id=a;1",
                  ).stdout.strip()
    assert base64.b64decode(b64) == wire
    raw = run_cli("encode", "-", "-f", "bytes", "--set", "Session-Id=a;1",
                  input=CCR_YAML.encode(), check=True).stdout
    assert raw == wire
    # what decode prints for it, and JSON in, JSON out
    assert b"CC-Request-Type(416) l=12 f=-M- val=INITIAL_REQUEST (1)" in run_cli(
        "decode", hexed.decode(), check=True).stdout
    js = invoke("json", hexed.decode()).stdout
    (tmp_path / "m.json").write_bytes(js)
    assert invoke("encode", str(tmp_path / "m.json")).stdout.strip() == hexed
    bad = invoke("encode", "-", input=b"header: {command: NOPE}\n")
    assert bad.returncode == 1 and b"unknown command" in bad.stderr
