"""An Erlang/OTP diameter node (Debian's erlang-base + erlang-diameter) driven by erlang_peer.escript."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

SCRIPT = Path(__file__).with_name("erlang_peer.escript")


def have_erlang() -> bool:
    return shutil.which("escript") is not None and any(Path("/usr/lib/erlang/lib").glob("diameter-*"))


class ErlangPeer:
    """``erl.test.realm`` listening on ``port``; :meth:`connect` makes it connect to ``peer_port`` too."""

    def __init__(self, identity: str, port: int, peer_port: int, tw_ms: int = 6000) -> None:
        self.identity, self.port, self.peer_port, self.tw_ms = identity, port, peer_port, tw_ms
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task | None = None

    async def start(self) -> ErlangPeer:
        self.proc = await asyncio.create_subprocess_exec(
            "escript", str(SCRIPT), self.identity, str(self.port), str(self.peer_port), str(self.tw_ms),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if line.strip() != b"READY":
            raise RuntimeError(f"erlang peer did not start: {line!r}")
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip())

    async def command(self, cmd: str) -> None:
        self.proc.stdin.write(cmd.encode() + b"\n")
        await self.proc.stdin.drain()

    async def wait_for(self, line: str, timeout: float = 10.0) -> None:
        """Wait until the node printed ``line`` (e.g. its watchdog reached OKAY)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while line not in self.lines:
            if loop.time() > deadline:
                raise TimeoutError(f"erlang peer never printed {line!r}: {self.lines}")
            await asyncio.sleep(0.02)

    def events(self, prefix: str = "") -> list[str]:
        return [x for x in self.lines if x.startswith(prefix)]

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.command("quit")
            await asyncio.wait_for(self.proc.wait(), 10)
        except (asyncio.TimeoutError, ConnectionError):
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
