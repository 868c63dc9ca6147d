"""freeDiameter's test_app extension (built by tools/build_fd_test_app.sh) in a freeDiameterd.

test_app (application 16777215, vendor 999999, command 16777214 Test-Request,
one Test-AVP 16777215/999999 echoed by the server) is freeDiameter's own test
and benchmark tool. In benchmark mode the client, on SIGUSR1, keeps
``concurrency`` requests in flight for ``duration`` seconds and logs its
results; the server answers silently. Debian does not package it: the build
script compiles it from Debian's freeDiameter source package (cached).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .freediameter import FreeDiameter, FreeDiameterError

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "build_fd_test_app.sh"
TEST_APP_ID = 16777215
TEST_VENDOR_ID = 999999
TEST_COMMAND = 16777214
TEST_AVP = 16777215
COMPLETE_LINE = "--------------- Test Complete --------------"


def build_test_app(timeout: float = 600.0) -> Path:
    """Path of test_app.fdx: ``$DIAMETER_TEST_APP_FDX``, else the build script's (cached) output."""
    explicit = os.environ.get("DIAMETER_TEST_APP_FDX")
    if explicit:
        return Path(explicit)
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise FreeDiameterError(f"building test_app failed ({out.returncode}):\n{out.stderr[-4000:]}")
    path = Path(out.stdout.strip().splitlines()[-1])
    if not path.is_file():
        raise FreeDiameterError(f"the build script printed {path}, which does not exist")
    return path


def app_config(workdir: Path, fdx: Path, *, mode: str, dest_realm: str | None = None,
                    bench: tuple[int, int] | None = None) -> list[str]:
    """Write test_app's configuration; returns the ``LoadExtension`` line for freeDiameterd.

    ``mode`` is ``server``, ``client`` or ``both``; ``bench=(seconds, in_flight)``
    switches to benchmark mode.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "test_app.conf"
    lines = [f"vendor-id = {TEST_VENDOR_ID};", f"appli-id = {TEST_APP_ID};",
             f"cmd-id = {TEST_COMMAND};", f"avp-id = {TEST_AVP};",
             f"mode = {mode};", f"signal = {int(signal.SIGUSR1)};"]
    if dest_realm:
        lines.append(f'dest-realm = "{dest_realm}";')
    if bench:
        lines.append(f"benchmark {int(bench[0])} {int(bench[1])};")
    conf.write_text("\n".join(lines) + "\n")
    return [f'LoadExtension = "{fdx}" : "{conf}";']


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run, as test_app logs it when sending stops (its "+0s" block)."""

    seconds: float          # time spent sending
    sent: int
    errors: int             # answers without Result-Code 2001
    answers: int            # answers with 2001, received while sending
    final_answers: int      # with 2001, once every request was answered or given up
    final_errors: int

    @property
    def rate(self) -> float:
        """Successful answers per second while sending."""
        return self.answers / self.seconds if self.seconds else 0.0


_BLOCK = re.compile(
    r"app_test Benchmark results, end sending \+(\d+)s -+\s*\n"
    r".*?Executing for: (\d+)\.(\d+) sec\s*\n"
    r".*?(\d+) messages sent\s*\n"
    r".*?(\d+) error\(s\) received\s*\n"
    r".*?(\d+) answer\(s\) received")


def parse_bench(log: str) -> BenchResult:
    """The results of the last benchmark in a freeDiameterd log."""
    start = log.rfind("Starting benchmark client")
    blocks = list(_BLOCK.finditer(log, max(start, 0)))
    if not blocks:
        raise FreeDiameterError("no benchmark results in the log")
    first, last = blocks[0], blocks[-1]
    return BenchResult(
        seconds=int(first.group(2)) + int(first.group(3)) / 1e6,
        sent=int(first.group(4)), errors=int(first.group(5)), answers=int(first.group(6)),
        final_answers=int(last.group(6)), final_errors=int(last.group(5)))


def run_bench(fd: FreeDiameter, duration: float, timeout: float = 60.0) -> BenchResult:
    """Trigger the benchmark client of ``fd`` (SIGUSR1) and wait for its results.

    test_app logs a results block every second after sending stopped until every
    request is answered ("Test Complete"); the wait ends at that line, or at
    ``timeout`` with the blocks logged so far.
    """
    mark = fd.log_size()
    fd.send_signal(signal.SIGUSR1)
    fd.wait_for_log(re.escape("Starting benchmark client"), 10, start=mark)
    try:
        fd.wait_for_log(re.escape(COMPLETE_LINE), duration + timeout, start=mark)
    except FreeDiameterError:
        if "end sending +" not in fd.log()[mark:]:
            raise
    return parse_bench(fd.log()[mark:])
