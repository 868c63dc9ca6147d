"""``diameter replay``: a tshark capture played again through freeDiameter to our node."""
from __future__ import annotations

import json

import pytest

from .conftest import run_cli

pytestmark = pytest.mark.interop


def _replay(gy_capture, network, *args: str):
    ports = [x for p in gy_capture.ports for x in ("-p", str(p))]
    return run_cli("replay", str(gy_capture.path), *ports, "--to",
                   f"127.0.0.1:{network.relay_port}", "--origin-host", "replay.c.test", *args)


def test_replay_gets_the_captured_results(gy_capture, network):
    out = _replay(gy_capture, network, "--fast", "--json")
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    summary = json.loads(out.stdout)
    # each request once although the capture holds it on both hops of the relay
    assert [r["message"] for r in summary["results"]] == \
        ["CCR-I", "CCR-U", "CCR-T", "CCR-E", "CCR-I", "CCR-I"]
    assert [r["captured_result_code"] for r in summary["results"]] == \
        [2001, 2001, 2001, 2001, 4012, 3002]
    assert summary["same_result_as_captured"] == summary["requests"] == 6
    # new Session-Ids, one per captured session, under our identity
    sids = [r["session_id"] for r in summary["results"]]
    assert sids[0] == "client.c.test;1;gy"  # reported by the captured id


def test_replay_keeps_timing_and_filters(gy_capture, network):
    out = _replay(gy_capture, network, "-s", "*;gy", "--speed", "2")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert text.count("CCR-") == 3 and "3/3 answered, 3 with the captured Result-Code" in text


def test_replay_reports_differences(gy_capture, network):
    # to a realm nobody serves: every answer is freeDiameter's 3002, unlike the capture
    out = _replay(gy_capture, network, "--fast", "--destination-realm", "nowhere.test")
    assert out.returncode == 1
    assert b"<-- differs" in out.stdout and b"1 with the captured Result-Code" in out.stdout
