"""`diameter ocs` as a user runs it: subprocesses of `python -m diameter`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from diameter.cc.wire import parse_cca

from .netsupport import ccr

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "diameter", "ocs", *args], env=ENV, capture_output=True,
                       text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_demo_charges_a_gy_session_and_a_huawei_recharge():
    p = cli("demo")
    assert "CCR-T  used 2 MiB + 1 octet    -> 2001" in p.stdout
    assert "Amount-Before-Recharge 4.00 EUR, New-Money 14.00 EUR" in p.stdout
    assert "audit: 1 balance(s), 8 ledger rows, clean" in p.stdout


def test_account_administration_audit_and_cdrs(tmp_path):
    db = str(tmp_path / "admin.db")
    assert "account 1 created" in cli("-d", db, "account", "create", "eve", "--sub", "e164:4917001",
                                      "--sub", "nai:eve@example.net", "--amount", "300").stdout
    assert cli("-d", db, "account", "create", "eve", check=False).returncode == 1
    assert cli("-d", db, "account", "create", "x", "--sub", "bogus", check=False).returncode == 2
    assert "balance 300 -> 400" in cli("-d", db, "account", "recharge", "nai:eve@example.net", "100",
                                       "--reference", "t1").stdout
    assert "already applied" in cli("-d", db, "account", "recharge", "eve", "100",
                                    "--reference", "t1").stdout
    assert "balance 400 -> 350" in cli("-d", db, "account", "recharge", "eve", "50", "--reversal").stdout
    assert cli("-d", db, "account", "recharge", "eve", "5000", "--reversal", check=False).returncode == 1
    cli("-d", db, "account", "suspend", "id:1")
    shown = json.loads(cli("-d", db, "account", "show", "eve").stdout)
    assert shown["state"] == "suspended" and shown["balances"][0]["amount"] == 350
    assert shown["subscriptions"] == [[0, "4917001"], [3, "eve@example.net"]]
    assert cli("-d", db, "account", "list").stdout.split("\t")[:2] == ["1", "eve"]
    assert "clean" in cli("-d", db, "audit").stdout
    assert cli("-d", db, "cdr").stdout == ""


def test_serve_answers_a_client_and_stops_on_sigterm(tmp_path):
    db = str(tmp_path / "serve.db")
    cli("-d", db, "account", "create", "fay", "--sub", "e164:491700000001", "--amount", "1000")
    proc = subprocess.Popen([sys.executable, "-m", "diameter", "ocs", "-d", db, "serve", "--port", "0",
                             "--identity", "ocs.example.net", "--realm", "example.net"],
                            env=ENV, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(re.search(r":(\d+) ", line).group(1))

        async def client():
            from diameter.node.aio import DiameterNode
            node = DiameterNode("pgw.example.net", "example.net", ip_addresses=["127.0.0.1"])
            node.add_application(4)
            node.add_peer("ocs.example.net", addresses=["127.0.0.1"], port=port, persistent=True)
            await node.start()
            try:
                await node.wait_open("ocs.example.net", 10)
                a = parse_cca(await node.request(ccr("cli1", 1, 0, requested=0), timeout=10))
                b = parse_cca(await node.request(ccr("cli1", 3, 1, used=1 << 20), timeout=10))
                return a.result_code, b.result_code
            finally:
                await node.stop(1)
        assert asyncio.run(asyncio.wait_for(client(), 30)) == (2001, 2001)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    shown = json.loads(cli("-d", db, "account", "show", "fay").stdout)
    assert shown["balances"][0]["amount"] == 990 and shown["reservations"] == []
    records = [json.loads(x) for x in cli("-d", db, "cdr").stdout.splitlines()]
    assert [(r["session_id"], r["charged"]) for r in records] == [("cli1", 10)]
    assert "1 CDR(s) exported" in cli("-d", db, "cdr", "--export", str(tmp_path / "cdr")).stdout
    assert "0 CDR(s) exported" in cli("-d", db, "cdr", "--export", str(tmp_path / "cdr")).stdout
    exported = (tmp_path / "cdr" / "cdr.jsonl").read_text().splitlines()
    assert [json.loads(x)["session_id"] for x in exported] == ["cli1"]
