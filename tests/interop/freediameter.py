"""Run a real freeDiameterd (Debian packages freediameterd, freediameter-extensions).

Each daemon gets its own directory with a generated configuration, a
self-signed certificate (freeDiameterd refuses to start without TLS_Cred even
when TLS is not used; the certificate's CN must equal the Identity), an
``acl_wl`` whitelist (freeDiameter accepts unknown incoming peers only through
it) and an ``rt_default`` rules file.

Known freeDiameter 1.2.1 behaviour the tests rely on or work around:

* it listens on every address (``ListenOn`` is ignored for loopback) and
  advertises the machine's non-loopback addresses as Host-IP-Address;
* with no application extension loaded it advertises only the Relay
  application (Auth-Application-Id 0xffffffff) and relays everything;
* log lines go to stdout, one per line, flushed as written.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

FREEDIAMETERD = Path("/usr/bin/freeDiameterd")
EXTENSION_DIR = Path("/usr/lib/freeDiameter")
DICTIONARY_EXTENSIONS = ("dict_nasreq.fdx", "dict_dcca.fdx", "dict_dcca_3gpp.fdx")
READY_LINE = "freeDiameterd daemon initialized."


class FreeDiameterError(RuntimeError):
    """freeDiameterd failed to start, died, or did not log what was expected."""


def free_tcp_port() -> int:
    """A TCP port currently free on all IPv4 addresses (freeDiameterd binds 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def make_certificate(directory: Path, common_name: str) -> tuple[Path, Path]:
    """Generate a self-signed P-256 certificate and key with ``openssl``."""
    cert = directory / "cert.pem"
    key = directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={common_name}"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


@dataclass(frozen=True)
class ConnectPeer:
    """A ``ConnectPeer`` entry: a peer freeDiameterd connects to actively."""

    identity: str
    port: int
    address: str = "127.0.0.1"
    realm: str | None = None

    def render(self) -> str:
        opts = [f'ConnectTo = "{self.address}";', f"Port = {self.port};", "No_TLS;"]
        if self.realm:
            opts.append(f'Realm = "{self.realm}";')
        return f'ConnectPeer = "{self.identity}" {{ {" ".join(opts)} }};'


class FreeDiameter:
    """One freeDiameterd process on loopback, configured from Python.

    ``allow`` holds the acl_wl patterns (``*.realm`` or exact identities) of
    peers allowed to connect without being listed in ``peers``; ``routes`` are
    raw rt_default rules such as ``'dr="b.realm" : rlm="b.realm" += 100 ;'``.
    """

    def __init__(
        self,
        workdir: Path,
        identity: str,
        realm: str,
        *,
        port: int | None = None,
        peers: tuple[ConnectPeer, ...] | list[ConnectPeer] = (),
        allow: tuple[str, ...] | list[str] | None = None,
        routes: tuple[str, ...] | list[str] = (),
        dump_messages: bool = False,
        tc_timer: int = 2,
        tw_timer: int = 6,
        extra_config: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.identity = identity
        self.realm = realm
        self.port = port if port is not None else free_tcp_port()
        self.peers = tuple(peers)
        self.allow = tuple(allow) if allow is not None else (f"*.{realm}",)
        self.routes = tuple(routes)
        self.dump_messages = dump_messages
        self.tc_timer = tc_timer
        self.tw_timer = tw_timer
        #: further configuration lines (e.g. ``LoadExtension`` of test_app, see fd_test_app.py)
        self.extra_config = tuple(extra_config)
        self.config_path = self.workdir / "freeDiameter.conf"
        self.log_path = self.workdir / "freeDiameterd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    # -- configuration -------------------------------------------------
    def write_config(self) -> Path:
        """Write certificate, ACL, routing and main configuration files."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = make_certificate(self.workdir, self.identity)
        acl = self.workdir / "acl_wl.conf"
        acl.write_text("".join(f"ALLOW_IPSEC {p}\n" for p in self.allow) if self.allow else "\n")
        rt = self.workdir / "rt_default.conf"
        rt.write_text("".join(f"{r}\n" for r in self.routes) or "# no rules\n")
        ext = EXTENSION_DIR
        lines = [
            f'Identity = "{self.identity}";',
            f'Realm = "{self.realm}";',
            f"Port = {self.port};",
            "SecPort = 0;",
            "No_SCTP;",
            "No_IPv6;",
            f"TcTimer = {self.tc_timer};",
            f"TwTimer = {self.tw_timer};",
            f'TLS_Cred = "{cert}", "{key}";',
            f'TLS_CA = "{cert}";',
            *(f'LoadExtension = "{ext / name}";' for name in DICTIONARY_EXTENSIONS),
            f'LoadExtension = "{ext / "acl_wl.fdx"}" : "{acl}";',
        ]
        if self.routes:
            lines.append(f'LoadExtension = "{ext / "rt_default.fdx"}" : "{rt}";')
        if self.dump_messages:
            # 0x0444: errors, send/receive and routing decisions, one log line per message.
            lines.append(f'LoadExtension = "{ext / "dbg_msg_dumps.fdx"}" : "0x0444";')
        lines += self.extra_config
        lines += [p.render() for p in self.peers]
        self.config_path.write_text("\n".join(lines) + "\n")
        return self.config_path

    # -- process -------------------------------------------------------
    def start(self, timeout: float = 15.0) -> FreeDiameter:
        """Start the daemon and wait until it logs that it is initialized."""
        if not FREEDIAMETERD.exists():
            raise FreeDiameterError(
                f"{FREEDIAMETERD} not found: apt-get install freediameterd freediameter-extensions")
        self.write_config()
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [str(FREEDIAMETERD), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=self.workdir, start_new_session=True,
        )
        self.wait_for_log(re.escape(READY_LINE), timeout)
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        """Wait until the daemon accepts TCP connections on its port (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError as exc:
                if not self.running or time.monotonic() > deadline:
                    raise FreeDiameterError(
                        f"freeDiameterd does not accept connections on port {self.port}: {exc}\n"
                        f"{self.log()[-2000:]}") from exc
                time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        """The daemon's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """The daemon's whole log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0, *, start: int = 0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears in the log after offset ``start``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(), start)
            if m:
                return m
            if self._proc is not None and self._proc.poll() is not None:
                m = rx.search(self.log(), start)
                if m:
                    return m
                raise FreeDiameterError(
                    f"freeDiameterd {self.identity} exited with {self._proc.returncode} "
                    f"before logging {pattern!r}\n{self.log()}")
            if time.monotonic() >= deadline:
                raise FreeDiameterError(
                    f"timeout after {timeout}s waiting for {pattern!r} in the log of "
                    f"{self.identity}\n{self.log()}")
            time.sleep(0.05)

    def wait_peer_state(self, peer: str, state: str = "STATE_OPEN", timeout: float = 10.0,
                        *, start: int = 0) -> re.Match[str]:
        """Wait for the log line of a peer state machine transition into ``state``."""
        return self.wait_for_log(rf"-> '?{re.escape(state)}'?(?: \(\w+\))?\s+'{re.escape(peer)}'",
                                 timeout, start=start)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the daemon (test_app starts its benchmark on SIGUSR1)."""
        if self._proc is None or self._proc.poll() is not None:
            raise FreeDiameterError(f"freeDiameterd {self.identity} is not running")
        self._proc.send_signal(sig)

    def log_size(self) -> int:
        """Current log length, to wait only for lines logged after this point."""
        return len(self.log())

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (freeDiameterd then sends DPR to its peers), SIGKILL after ``timeout``."""
        proc, self._proc = self._proc, None
        rc = None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            rc = proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return rc

    def __enter__(self) -> FreeDiameter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def have_freediameter() -> bool:
    """True when the daemon and the extensions used here are installed."""
    return FREEDIAMETERD.exists() and all(
        (EXTENSION_DIR / n).exists() for n in (*DICTIONARY_EXTENSIONS, "acl_wl.fdx", "rt_default.fdx")
    ) and shutil.which("openssl") is not None
