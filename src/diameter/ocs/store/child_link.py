"""The event loop's end of a writer child process: a socket pair carrying length-prefixed
marshal frames (the SQLite and the PostgreSQL writer processes share it).

A subclass names the process (``what``, for messages), the exception raised when the
process is gone (``lost``: what was sent may or may not have run), and how the replies it
still awaits fail (``_fail_waiting``).
"""

from __future__ import annotations

import asyncio
import select
from abc import ABC, abstractmethod
import socket
import struct
import subprocess
import time
import marshal
from collections.abc import Callable
from typing import Any

from .base import StorageError

LEN = struct.Struct(">I")


class ChildLink(ABC):
    """Start, write to and end a child process; the reading side is the subclass's."""

    what = "the writer process"
    lost: type[StorageError] = StorageError
    recv_size = 1 << 16

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buf = bytearray()
        self.dead: str | None = "not started"

    def _spawn(self, argv: Callable[[int], list[str]]) -> socket.socket:
        """Start the child with its end of a new socket pair (its descriptor number is
        given to ``argv``); returns ours, non-blocking."""
        mine, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(argv(theirs.fileno()), pass_fds=[theirs.fileno()],
                                         stdin=subprocess.DEVNULL)
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        mine.setblocking(False)
        return mine

    async def _handshake(self, loop: asyncio.AbstractEventLoop, mine: socket.socket,
                         ready: asyncio.Future[tuple[str, Any]],
                         first: tuple[Any, ...] | None = None) -> Any:
        """Watch our end of the socket, send ``first`` if any, and wait for the child's
        "ready"; its detail is returned, anything else ends the child and raises."""
        self._sock, self._loop, self._buf, self.dead = mine, loop, bytearray(), None
        loop.add_reader(mine.fileno(), self._readable)
        try:
            if first is not None:
                self._send(first)
            kind, detail = await asyncio.wait_for(ready, self.timeout)
        except BaseException:
            self._end("did not start")
            raise
        if kind != "ready":
            self._end(str(detail))
            raise StorageError(str(detail))
        return detail

    @abstractmethod
    def _readable(self) -> None:
        """Read what the child wrote (an event-loop reader callback) and resolve replies."""

    def _recv(self) -> bool:
        """Add what the child wrote to the buffer; False when it is gone (ended here)."""
        assert self._sock is not None
        try:
            data = self._sock.recv(self.recv_size)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            data, reason = b"", str(exc)
        else:
            reason = "end of file"
        if not data:
            self._end(self._exit_reason(reason))
            return False
        self._buf += data
        return True

    def _frames(self) -> list[Any]:
        """The whole frames in the buffer, decoded, taken out of it."""
        buf, out = self._buf, []
        while len(buf) >= 4:
            (n,) = LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            out.append(marshal.loads(buf[4:4 + n]))
            del buf[:4 + n]
        return out

    def _send(self, msg: tuple[Any, ...]) -> None:
        """One frame, whole, or ``lost`` (the child is then ended)."""
        if self.dead is not None or self._sock is None:
            raise self.lost(f"{self.what} is not running ({self.dead})")
        data = marshal.dumps(msg, 4)
        view = memoryview(LEN.pack(len(data)) + data)
        sock = self._sock
        deadline = time.monotonic() + self.timeout
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:  # the child is busy and its socket buffer full: wait
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [sock], [], left)[1]:
                    self._end("not reading")
                    raise self.lost(f"{self.what} stopped reading") from None
                continue
            except OSError as exc:
                self._end(str(exc))
                raise self.lost(f"{self.what} is gone: {exc}") from exc
            view = view[sent:]

    async def _reap(self) -> None:
        """Give the child 5 s to exit by itself, then end it (killed if still running)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for _ in range(100):  # bounded: 5 s, then killed by _end
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        self._end("closed")

    def _exit_reason(self, reason: str) -> str:
        proc = self.proc
        if proc is not None:
            try:
                return f"exit status {proc.wait(timeout=1.0)}"
            except subprocess.TimeoutExpired:
                pass
        return reason

    def _end(self, reason: str) -> None:
        """Forget the process (killed if still running); every awaited reply fails."""
        if self.dead is None:
            self.dead = reason
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._fail_waiting(self.lost(f"{self.what} ended ({self.dead})"))

    @abstractmethod
    def _fail_waiting(self, exc: StorageError) -> None:
        """Fail every reply still awaited with ``exc`` (the child is gone)."""
