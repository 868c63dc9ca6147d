"""The command line: demo and decode, run as a user would (subprocess)."""
import subprocess
import sys

from diameter.demo import build_ccr


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "diameter", *args], capture_output=True,
                          input=input, timeout=60)


def test_demo_builds_encodes_decodes_and_dumps():
    out = run("demo")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "decoded as CreditControlRequest" in text
    assert "decoded as CreditControlAnswer, Result-Code 2001" in text
    assert "CC-Request-Type <Code: 0x1a0" in text and "(UPDATE_REQUEST)" in text
    assert "Vnd: 3GPP" in text


def test_decode_hex_and_stdin():
    wire = build_ccr().as_bytes()
    out = run("decode", wire.hex())
    assert out.returncode == 0 and b"Subscription-Id-Data" in out.stdout
    out = run("decode", "-", input=wire)
    assert out.returncode == 0 and b"Session-Id" in out.stdout


def test_decode_bad_input_is_a_clear_error():
    out = run("decode", "0100001c00")
    assert out.returncode != 0
    assert b"not a valid Diameter message" in out.stderr
    assert b"Traceback" not in out.stderr
