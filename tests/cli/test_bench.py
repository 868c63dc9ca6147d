"""``diameter bench`` against freeDiameter: its test_app server, and a relay in front of our node."""
from __future__ import annotations

import json

import pytest

from interop.fd_test_app import app_config, build_test_app
from interop.freediameter import FreeDiameter

from .conftest import run_cli

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def test_app_server(tmp_path_factory):
    """freeDiameter's test_app server (C), accepting clients of realm fd.bench."""
    work = tmp_path_factory.mktemp("ta")
    fd = FreeDiameter(work / "server", "server.srv.bench", "srv.bench", allow=["*.fd.bench"],
                      extra_config=app_config(work / "ta", build_test_app(), mode="server"))
    fd.start()
    yield fd
    fd.stop()


def _bench(port: int, *args: str, host: str = "cli.fd.bench"):
    return run_cli("bench", "--to", f"127.0.0.1:{port}", "--origin-host", host, "--no-progress",
                   *args, timeout=180)


def test_closed_model_count_against_test_app(test_app_server, tmp_path):
    png = tmp_path / "load.png"
    out = _bench(test_app_server.port, "--scenario", "test_app", "-c", "20", "-n", "2000",
                 "--connections", "2", "--json", "--plot", str(png))
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["sent"] == s["answered"] == 2000 and s["errors"] == s["timeouts"] == 0
    assert s["result_codes"] == {"2001": 2000} and s["connections"] == 2
    assert sum(b["count"] for b in s["histogram"]) == 2000
    lat = s["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = _bench(test_app_server.port, "--scenario", "test_app", "-n", "300").stdout.decode()
    assert "latency histogram (ms)" in text and "2001 DIAMETER_SUCCESS" in text


def test_workers_share_the_load(test_app_server):
    out = _bench(test_app_server.port, "--scenario", "test_app", "-c", "10", "-n", "401",
                 "--workers", "2", "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["sent"] == s["answered"] == 401 and s["result_codes"] == {"2001": 401}
    assert s["connections"] == 2 and s["cpu_us_per_answer"] > 0


def test_progress_bar_forced_off_a_terminal(test_app_server):
    out = run_cli("bench", "--to", f"127.0.0.1:{test_app_server.port}", "--origin-host",
                  "cli.fd.bench", "--scenario", "test_app", "--rate", "300", "-d", "2s",
                  "--progress", timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"rate " in out.stdout  # the summary on stdout; the bar went to stderr


def test_open_model_rate(test_app_server):
    out = _bench(test_app_server.port, "--scenario", "test_app", "--rate", "400", "-d", "2s",
                 "--json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["model"] == "open" and 560 <= s["sent"] <= 1040  # Poisson around 800
    uniform = json.loads(_bench(test_app_server.port, "--scenario", "test_app", "--rate", "400",
                                "-d", "1s", "--arrival", "uniform", "--json").stdout)
    assert 360 <= uniform["sent"] <= 440


def test_find_max(test_app_server):
    out = _bench(test_app_server.port, "--scenario", "test_app", "--find-max", "--p99", "200ms",
                 "--start-rate", "200", "--step", "2", "--max-rate", "800", "-d", "1s", "--json")
    assert out.returncode == 0, out.stderr
    steps = json.loads(out.stdout)["find_max"]
    assert [st["target_rate"] for st in steps] == [200, 400, 800] and all(st["ok"] for st in steps)
    text = _bench(test_app_server.port, "--scenario", "test_app", "--find-max", "--p99", "200ms",
                  "--start-rate", "200", "--max-rate", "200", "-d", "1s").stdout.decode()
    assert "knee:" in text


def test_template_requests(test_app_server, tmp_path):
    tmpl = tmp_path / "test-request.yaml"
    tmpl.write_text("header: {command_code: 16777214, application_id: 16777215}\n"
                    "avps:\n  - {code: 16777215, vendor_id: 999999, raw: '0000002a'}\n"
                    "  - {name: User-Name, value: 'user-{n}'}\n")
    out = _bench(test_app_server.port, "--template", str(tmpl), "-n", "200", "-c", "10",
                 "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result_codes"] == {"2001": 200}


def test_gy_sessions_through_freediameter(network):
    """Gy sessions through freeDiameter to our node, which answers 4012 to every
    tenth subscriber (IMSI ending in 9): those sessions end at their CCR-I."""
    out = _bench(network.relay_port, "--scenario", "gy", "-n", "300", "-c", "10",
                 "--session-length", "uniform:0-3", "--destination-realm", "a.test", "--json",
                 host="bench.c.test")
    assert out.returncode == 1  # the 4012s are failed requests
    s = json.loads(out.stdout)
    codes = s["result_codes"]
    assert s["answered"] == 300 and set(codes) == {"2001", "4012"}
    # sessions last 2-5 requests (mean 3.5); one in ten ends at its first with 4012
    assert 300 / 3.5 / 10 * 0.5 <= codes["4012"] <= 300 / 3.5 / 10 * 2


def test_errors_exit_1(network):
    # a realm nobody serves: freeDiameter answers 3002 to every request
    out = _bench(network.relay_port, "--scenario", "gy", "-n", "50", "--destination-realm",
                 "nowhere.test", "--json", host="bench.c.test")
    assert out.returncode == 1
    assert json.loads(out.stdout)["result_codes"] == {"3002": 50}
    assert _bench(network.relay_port, "--session-length", "sometimes").returncode == 2
