"""The SQLite writer process's WAL checkpoints, the bulk of them off its main thread (stdlib only).

A checkpoint copies the WAL's frames into the database file: a sync of the WAL, the pages
copied, a sync of the database file (measured under the bench's load: ~20-25 ms for the
~1,000 frames of 50 commits). Run by the writer's thread, every batch that arrives
meanwhile waits for it. `Checkpointer` runs it in a thread of the writer process with its
own connection (SQLite in multi-thread mode: each connection used by one thread at a
time; the sqlite3 module releases the GIL while SQLite works), while the writer's thread
goes on committing.

The WAL restarts from its start only at a transaction that begins when every frame of it
has been copied; a checkpoint beside constant commits never gets there (new frames
arrive while it copies), so the WAL would grow without bound. `Policy` (the writer's
thread) therefore asks for a background checkpoint every `Policy.CHECKPOINT` commits,
again while more than `Policy.CATCH_UP` commits came during the last one, and copies the
few frames left itself when nothing waits on its socket (a catch-up: the next BEGIN then
restarts the WAL); after `Policy.ANYWAY` commits without a catch-up it runs one however
busy (the WAL stays bounded under any load).

Durability is as at any checkpoint: the checkpointing connection runs at the writer's
requested ``synchronous`` level, so SQLite syncs the WAL before copying frames and the
database file before it records them as copied (:mod:`.sqlite_sync`, point 3).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable


def checkpoint(conn: sqlite3.Connection) -> int:
    """A PASSIVE checkpoint on `conn` (readers are not waited for): the WAL's frames then,
    or 0 if it failed (another checkpoint ran: the next copies these frames too)."""
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[1]) if row and row[0] == 0 else 0


class Checkpointer:
    """A thread with its own connection to `path` that runs a checkpoint when asked."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute(f"PRAGMA synchronous={synchronous}")  # the checkpoint's syncs
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self._cond = threading.Condition()
        self.running = False  # asked for and not finished
        self.runs = 0  # finished
        self.frames = 0  # in the WAL at the last one
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="ocs-wal-checkpoint", daemon=True)
        self._thread.start()

    def start(self) -> None:
        """Ask for a checkpoint (returns at once); one at a time: see `running`."""
        with self._cond:
            self.running = True
            self._cond.notify()

    def wait(self) -> None:
        """Until the checkpoint asked for has finished."""
        with self._cond:
            while self.running:
                self._cond.wait()

    def close(self) -> None:
        """Stop the thread (after the checkpoint running, if any) and close its connection."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()
        self.conn.close()

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self.running and not self._stop:
                    cond.wait()
                if not self.running:
                    return
            frames = checkpoint(self.conn)
            with cond:
                self.frames = frames
                self.running = False
                self.runs += 1
                cond.notify_all()


class Policy:
    """When the writer's thread checkpoints (`after`, called between transactions): with a
    `Checkpointer`, as the module says; without one, itself, every `CHECKPOINT` commits
    when nothing waits and after `ANYWAY` in any case."""

    #: commits between two checkpoints (a commit of the bench's load writes ~20 pages to
    #: the WAL: about SQLite's 1,000-page automatic checkpoint) ...
    CHECKPOINT = 50
    #: ... and before one in any case (without a background checkpointer)
    ANYWAY = 4 * CHECKPOINT
    #: with one: a catch-up on the writer's thread when the WAL holds this many frames
    #: (~16 MB; it syncs the WAL and the database file as any checkpoint, 7-31 ms on the
    #: bench's contended host however few frames it copies) and nothing waits ...
    RESTART = 4000
    #: ... and at most this many commits came since the last background checkpoint began
    #: (fewer frames left to copy and pages to sync) ...
    CATCH_UP = 8
    #: ... and at this many frames in any case (the WAL's bound, give or take the frames
    #: of the `CHECKPOINT` commits between two background checkpoints)
    MOST = 2 * RESTART

    def __init__(self, conn: sqlite3.Connection, background: Checkpointer | None = None) -> None:
        self.conn = conn
        self.background = background
        self.commits = 0  # since the last checkpoint began
        self.frames = 0  # in the WAL at the last checkpoint
        self._runs = 0  # background checkpoints seen
        self.catch_ups = 0

    def committed(self) -> None:
        self.commits += 1

    def after(self, idle: Callable[[], bool]) -> None:
        """Checkpoint now if due (`idle`: nothing waits to be handled)."""
        if self.conn.in_transaction:
            return
        bg = self.background
        if bg is None:
            if self.commits >= self.CHECKPOINT and (self.commits >= self.ANYWAY or idle()):
                self.catch_up()
            return
        if bg.runs != self._runs:
            self._runs = bg.runs
            self.frames = bg.frames
        if bg.running:
            if self.frames < self.MOST:
                return
            bg.wait()  # one checkpoint at a time
        if self.frames >= self.MOST or (self.frames >= self.RESTART and self.commits <= self.CATCH_UP
                                        and idle()):
            self.catch_up()
        elif self.commits >= self.CHECKPOINT:
            self.commits = 0
            bg.start()

    def catch_up(self) -> None:
        """A checkpoint on the writer's connection: it copies every frame of the WAL (this
        connection is its one writer), so the next BEGIN restarts the WAL (unless a reader
        still uses it: then a later catch-up's)."""
        self.commits = self.frames = 0
        self.catch_ups += 1
        if self.background is not None:
            self._runs = self.background.runs  # frames it saw are before this
        checkpoint(self.conn)
