"""python-diameter 0.9.0's examples (from its sdist) run against this package.

Each example runs unchanged except for addresses and ports, rewritten to free
loopback ports: the idle client/server pair must bring its peer connection up
and shut it down on Ctrl+C; the credit-control SMS client must get its answer
from an OCS built with this package's threaded Node API.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

OCS = """
import sys, threading
from diameter.message.constants import APP_DIAMETER_CREDIT_CONTROL_APPLICATION, E_RESULT_CODE_DIAMETER_SUCCESS
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

done = threading.Event()

def handle(app, request):
    answer = request.to_answer()
    answer.result_code = E_RESULT_CODE_DIAMETER_SUCCESS
    answer.origin_host = b"ocs.gy"
    answer.origin_realm = b"testrealm.local"
    answer.auth_application_id = request.auth_application_id
    answer.cc_request_type = request.cc_request_type
    answer.cc_request_number = request.cc_request_number
    sms = request.service_information.sms_information
    print("recipient", sms.recipient_info[0].recipient_address[0].address_data, flush=True)
    done.set()
    return answer

node = Node("ocs.gy", "testrealm.local", ip_addresses=["127.0.0.1"], tcp_port=int(sys.argv[1]))
peer = node.add_peer("aaa://smsgw.gy", "testrealm.local")
app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                 is_auth_application=True, request_handler=handle)
node.add_application(app, [peer])
node.start()
print("listening", flush=True)
done.wait(30)
node.stop()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(SRC), PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _example(sdist: Path, dest: Path, name: str, subs: list[tuple[str, str]]) -> Path:
    text = (sdist / "examples" / name).read_text()
    for pattern, replacement in subs:
        text, n = re.subn(pattern, replacement, text)
        assert n == 1, f"{pattern!r} matched {n} times in {name}"
    path = dest / name
    path.write_text(text)
    return path


def _start(script: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = script.with_suffix(".log")
    # the examples stop on CTRL+C (KeyboardInterrupt): a test run started in the background
    # by a shell without job control inherits SIGINT ignored, and Python then installs no
    # handler for it, so the child gets the default disposition back
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=script.parent, env=_env(),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, preexec_fn=_sigint_default)
    return proc, log


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace")):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not seen in {log.name}:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise


def test_idle_client_and_server_connect_and_disconnect(python_diameter_sdist: Path,
                                                       tmp_path: Path) -> None:
    server_port, client_port = _free_port("127.0.0.1"), _free_port("127.0.0.2")
    client = _example(python_diameter_sdist, tmp_path, "idle_client.py",
                      [(r"tcp_port=6091", f"tcp_port={client_port}")])
    server = _example(python_diameter_sdist, tmp_path, "idle_server.py",
                      [(r"tcp_port=6090", f"tcp_port={server_port}"),
                       (r"relay2\.test\.realm:6091", f"relay2.test.realm:{client_port}")])
    client_proc, client_log = _start(client)
    server_proc = None
    try:
        _wait_for(client_log, r"application started", client_proc)
        time.sleep(0.3)  # the client's listener starts with its node
        server_proc, server_log = _start(server)
        _wait_for(server_log, r"relay2\.test\.realm: open", server_proc)
        _wait_for(client_log, r"relay1\.test\.realm: open", client_proc)
    finally:
        if server_proc is not None:
            assert _stop(server_proc) == 0
        assert _stop(client_proc) == 0
    assert re.search(r"relay1\.test\.realm: closed", client_log.read_text())


def test_credit_control_sms_client_gets_its_answer(python_diameter_sdist: Path,
                                                   tmp_path: Path) -> None:
    port = _free_port("127.0.0.1")
    client = _example(python_diameter_sdist, tmp_path, "credit_control_sms_client.py",
                      [(r'"aaa://ocs\.gy"', f'"aaa://ocs.gy:{port}"'),
                       (r'"10\.0\.0\.50"', '"127.0.0.1"')])
    ocs = tmp_path / "ocs.py"
    ocs.write_text(OCS)
    ocs_proc, ocs_log = _start(ocs, str(port))
    try:
        _wait_for(ocs_log, r"listening", ocs_proc)
        result = subprocess.run([sys.executable, str(client)], cwd=tmp_path, env=_env(),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.split() == ["2001"], result.stdout + result.stderr
        _wait_for(ocs_log, r"recipient 41780000002", ocs_proc)
    finally:
        _stop(ocs_proc)
