"""The SQLite writer process: the one connection that writes an OCS file (stdlib only).

:class:`diameter.ocs.store.sqlite.SqliteStorage` runs this file as a child process
(``python -I -S sqlite_writer.py FD PATH SYNCHRONOUS PARENT_PID``), so writing and
committing, SQLite's work, runs on its own interpreter and its own core instead of
competing with the event loop for the GIL. The event loop decides a batch of units on
its account cache and sends the rows; this process writes them and commits, and only its
reply (after the batch is on disk: with ``synchronous=FULL`` after a sync of the WAL
that began after the COMMIT returned, run by a thread while the next batches are
written, see :mod:`.sqlite_sync`) lets the answers out. It dies with its parent:
``PR_SET_PDEATHSIG`` on Linux, and it exits on end-of-file of its socket anywhere. The
WAL's checkpoints run mostly in a thread of this process (:mod:`.sqlite_checkpoint`).

Messages are length-prefixed `marshal` frames of tuples, one reply per message, in order:

* ``("batch", epoch, version, rows)`` (rows: see `.sqlite_rows.write_rows`): ``BEGIN
  IMMEDIATE``; if ``PRAGMA data_version`` is not `version` (another connection committed
  since the rows were decided) roll back and reply ``("stale", now)``; else write the rows
  and ``COMMIT``: ``("ok", None)``. After a batch that did not commit, every later batch
  of the same `epoch` is refused (``("rejected", None)``): it was decided on top of the
  one that failed.
* ``("lock",)``: ``BEGIN IMMEDIATE``, reply ``("ok", data_version)``; then ``("query",
  sql, args, mode)``, ``("write", rows)``, ``("commit", rows)`` or ``("rollback",)``.
* ``("close",)``: reply, close the connection, exit.

Errors are replied as ``("begin_failed", text)`` (the transaction could not start) or
``("failed", text)`` (rolled back).
"""

from __future__ import annotations

import gc
import os
import marshal
import select
import signal
import socket
import sqlite3
import struct
import sys
import time
from typing import Any

if __package__:
    from .sqlite_checkpoint import Checkpointer, Policy
    from .sqlite_rows import connect, query, write_rows
    from .sqlite_sync import Syncer, wal_syncer
else:  # run as a script (``python -I -S``: no package): its siblings are stdlib-only files
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    from sqlite_checkpoint import Checkpointer, Policy  # type: ignore[no-redef,import-not-found,unused-ignore]
    from sqlite_rows import connect, query, write_rows  # type: ignore[no-redef,import-not-found,unused-ignore]
    from sqlite_sync import Syncer, wal_syncer  # type: ignore[no-redef,import-not-found,unused-ignore]

_LEN = struct.Struct(">I")
#: bytes asked of each recv: a 1 MiB request makes CPython allocate (mmap) and free 1 MiB
#: per call, ~13 us; 64 KiB comes from the heap (frames longer than that take several)
RECV = 1 << 16


def lean_sqlite(threads: bool = False) -> bool:
    """Put SQLite in single-thread mode (`threads`: multi-thread mode, each connection used
    by one thread at a time) without memory statistics (True if it took): no mutex taken
    by each call on a connection and each allocation. Only for a process that uses SQLite
    that way (the writer process: its connection, and its checkpointer's in a thread of
    its own), before its first connection: the library is shut down (the sqlite3 module
    initialised it on import), configured and initialised again. Where the library's
    functions cannot be reached it stays as it is (False), and off Linux too
    (``sqlite3_config`` is variadic: `ctypes` passes its arguments right only where
    variadic and fixed arguments are passed alike, as on Linux; not on macOS arm64)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import _sqlite3
        lib = ctypes.CDLL(_sqlite3.__file__)  # finds the SQLite library it is linked with
        if lib.sqlite3_shutdown() != 0:
            return False
    except (ImportError, OSError, AttributeError):
        return False
    # SQLITE_CONFIG_SINGLETHREAD = 1, SQLITE_CONFIG_MULTITHREAD = 2, SQLITE_CONFIG_MEMSTATUS = 9
    ok = lib.sqlite3_config(2 if threads else 1) == 0 and lib.sqlite3_config(9, ctypes.c_int(0)) == 0
    return bool(lib.sqlite3_initialize() == 0 and ok)


class Writer:
    """The message handling of the process (sans-IO: `handle(message)` returns the reply)."""

    def __init__(self, conn: sqlite3.Connection, trace: bool = False,
                 checkpointer: Checkpointer | None = None) -> None:
        self.conn = conn
        self.rejecting = -1  # batches of this epoch or older are refused
        #: a committed batch's reply carries its times (`diameter.ocs.store.sqlite_trace`)
        self.trace = trace
        self.read_at = 0.0  # when the socket read that brought the message returned
        #: the WAL's checkpoints (`.sqlite_checkpoint`), after the replies of each read
        self.checkpoints = Policy(conn, checkpointer)

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def handle(self, msg: tuple[Any, ...]) -> tuple[str, Any]:
        kind = msg[0]
        conn = self.conn
        try:
            if kind == "batch":
                return self._batch(msg[1], msg[2], msg[3])
            if kind == "lock":
                self._rollback()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return "ok", int(conn.execute("PRAGMA data_version").fetchone()[0])
                except Exception as exc:
                    self._rollback()
                    return "begin_failed", f"{type(exc).__name__}: {exc}"
            if kind == "query":
                return "ok", query(conn, msg[1], msg[2], msg[3])
            if kind == "write":
                write_rows(conn, msg[1])
                return "ok", None
            if kind == "commit":
                write_rows(conn, msg[1])
                conn.execute("COMMIT")
                return "ok", None
            if kind == "rollback":
                self._rollback()
                return "ok", None
            return "failed", f"unknown message {kind!r}"
        except Exception as exc:
            if kind != "query":  # a failed query leaves the transaction to its caller
                self._rollback()
            return "failed", f"{type(exc).__name__}: {exc}"

    def _batch(self, epoch: int, version: int | None, rows: Any) -> tuple[str, Any]:
        return self.group([("batch", epoch, version, rows)])[0]

    def group(self, msgs: list[tuple[Any, ...]]) -> list[tuple[str, Any]]:
        """Batches that arrived together (``("batch", epoch, version, rows)``), in order: those
        of one epoch and version are written in one transaction, one COMMIT (one sync) for
        all, and each is replied to after it; a group that fails is rolled back whole, its
        first batch replied to with the failure and the others refused (as after it)."""
        out: list[tuple[str, Any]] = []
        i = 0
        while i < len(msgs):
            epoch, version = msgs[i][1], msgs[i][2]
            j = i + 1
            while j < len(msgs) and msgs[j][1] == epoch and msgs[j][2] == version:
                j += 1
            out += self._commit_group(epoch, version, [m[3] for m in msgs[i:j]])
            i = j
        return out

    def _commit_group(self, epoch: int, version: int | None, group: list[Any]) -> list[tuple[str, Any]]:
        refused = [("rejected", None)] * (len(group) - 1)
        if epoch <= self.rejecting:
            return [("rejected", None), *refused]
        begin = time.monotonic() if self.trace else 0.0
        conn = self.conn
        self._rollback()
        try:
            conn.execute("BEGIN IMMEDIATE")
            now = int(conn.execute("PRAGMA data_version").fetchone()[0])
        except Exception as exc:
            self._rollback()
            self.rejecting = epoch
            return [("begin_failed", f"{type(exc).__name__}: {exc}"), *refused]
        if now != version:
            conn.execute("ROLLBACK")
            self.rejecting = epoch
            return [("stale", now), *refused]
        if self.trace:
            begun = time.monotonic()
        try:
            for rows in group:
                write_rows(conn, rows)
            if self.trace:
                written = time.monotonic()
            conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            self.rejecting = epoch
            return [("failed", f"{type(exc).__name__}: {exc}"), *refused]
        self.checkpoints.committed()
        if self.trace:
            times = {"read": self.read_at, "begin": begin, "begun": begun, "written": written,
                     "committed": time.monotonic(), "group": len(group)}
            return [("ok", times)] * len(group)
        return [("ok", None)] * len(group)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def frame(msg: Any) -> bytes:
    data = marshal.dumps(msg, 4)
    return _LEN.pack(len(data)) + data


def send(sock: socket.socket, msg: Any) -> None:
    sock.sendall(frame(msg))


def serve(sock: socket.socket, writer: Writer, syncer: Syncer | None = None) -> None:
    """Messages from the socket until it ends or a ``close``. Whatever the socket holds is
    read before it is handled, so the batches sent while the last COMMIT ran are
    committed together (`Writer.group`); their replies leave in one write. With a
    `syncer` (:mod:`.sqlite_sync`) every reply leaves through it, in order, those of a
    COMMIT after the WAL's sync; this thread goes on to the next batches meanwhile."""
    def out(replies: list[tuple[str, Any]], durable: bool) -> None:
        if syncer is None:
            sock.sendall(b"".join(map(frame, replies)))
        else:
            syncer.put(replies, durable)

    buf = bytearray()
    while True:
        data = sock.recv(RECV)
        if not data:
            return  # the parent is gone
        buf += data
        while len(data) == RECV or _partial(buf):  # more may be there already: take it
            try:
                data = sock.recv(RECV, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break  # the end: seen by the next blocking read
            buf += data
        if writer.trace:
            writer.read_at = time.monotonic()
        msgs = []
        while len(buf) >= 4:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            msgs.append(marshal.loads(buf[4:4 + n]))
            del buf[:4 + n]
        i = 0
        while i < len(msgs):
            kind = msgs[i][0]
            if kind == "close":
                writer._rollback()
                out([("ok", None)], False)
                if syncer is not None:
                    syncer.drain()
                return
            if kind == "batch":
                j = i + 1
                while j < len(msgs) and msgs[j][0] == "batch":
                    j += 1
                out(writer.group(msgs[i:j]), True)
                i = j
                continue
            out([writer.handle(msgs[i])], kind == "commit")
            i += 1
        writer.checkpoints.after(lambda: not select.select([sock], [], [], 0)[0])


def _partial(buf: bytearray) -> bool:
    """The buffer ends inside a frame."""
    i, size = 0, len(buf)
    while size - i >= 4:
        i += 4 + _LEN.unpack_from(buf, i)[0]
    return i != size


def tune() -> None:
    """Garbage collection for this process: what it holds after start is frozen, and a
    collection runs every 50,000 allocations instead of every 700 (each batch unpacks
    thousands of tuples, none of which form cycles)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def main(argv: list[str]) -> int:
    fd, path, synchronous, parent = int(argv[0]), argv[1], argv[2], int(argv[3])
    _die_with_parent(parent)
    for sig in (signal.SIGINT, signal.SIGTERM):  # the parent decides when this ends (Ctrl-C, a
        signal.signal(sig, signal.SIG_IGN)      # service manager stopping the process group)
    sock = socket.socket(fileno=fd)
    lean_sqlite(threads=True)  # each connection used by one thread: its own
    try:
        conn = connect(path, synchronous)
    except Exception as exc:
        send(sock, ("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints out of the COMMITs (.sqlite_checkpoint)
    try:
        checkpointer: Checkpointer | None = Checkpointer(path, synchronous)
    except sqlite3.Error:
        checkpointer = None  # the writer's thread checkpoints alone
    syncer = None
    if synchronous.upper() == "FULL":  # FULL's promise, its sync out of the COMMIT (.sqlite_sync)
        syncer = wal_syncer(conn, path, lambda replies: sock.sendall(b"".join(map(frame, replies))))
    tune()
    send(sock, ("ready", sqlite3.sqlite_version))
    try:
        serve(sock, Writer(conn, bool(os.environ.get("DIAMETER_SQLITE_TRACE")), checkpointer), syncer)
    except (OSError, EOFError):
        pass
    finally:
        if checkpointer is not None:
            checkpointer.close()
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
