"""The WAL's sync out of the SQLite writer's COMMIT, its promise kept (stdlib only).

With ``synchronous=FULL`` SQLite calls ``fdatasync`` on the WAL file at the end of every
COMMIT, and the writer process cannot start on the next batch until it returns (~0.8 ms
on a quiet disk, most of a batch's time in the writer). Instead the writer process runs
its connection with ``synchronous=NORMAL`` and `Syncer` threads sync the WAL: after a
COMMIT returns, its replies are queued; a thread takes what is queued, then calls
``fdatasync`` on the WAL file, then sends those replies. Meanwhile the writer writes
and commits the next batches; one sync covers every COMMIT queued before it began.

Why every reply sent is as durable as with FULL:

1. NORMAL writes what FULL writes (frames, commit frame last, with the same checksums);
   it only leaves out FULL's ``fdatasync`` of the WAL at COMMIT (strace: the same
   ``pwrite`` calls, one ``fdatasync`` fewer per COMMIT).
2. A reply is queued after its COMMIT returned, so after SQLite's last write of its
   frames; the thread takes it from the queue before it calls ``fdatasync``, so the sync
   began after those writes. ``fdatasync`` is of the file (its inode), not of the
   descriptor: every write to it that completed before the call, SQLite's included, and
   the size they gave the file, are on disk when it returns. The transaction's frames and
   all frames before them in the WAL then are, which is the state FULL's own sync leaves.
3. Checkpoints are as with FULL, on whichever connection runs them (the writer's, at
   NORMAL, or its checkpointer's, :mod:`.sqlite_checkpoint`, at the level asked for):
   SQLite syncs the WAL before copying frames to the database file and syncs the
   database file before it records them as copied, at any level but OFF.
4. The WAL restarts from its start (new salts, older frames then ignored by recovery)
   only after a checkpoint copied every frame of it into the database file and synced
   it: what the old frames held is durable in the database file. SQLite syncs the new
   header before the first new frame at NORMAL too (at any level but OFF). A batch
   committed after the restart is in the new frames: point 2.
5. SQLite removes the WAL file only when its last connection to the database closes,
   never while the writer's is open; still, before each sync the thread checks that the
   path names the file it holds, and opens it again if not.
6. A sync that fails: the process exits at once, nothing queued is sent; the event loop
   fails those requests as for any death of the writer (they may or may not be
   committed; a retransmission is answered from the record).
7. Other connections can read a commit before it is synced (at FULL SQLite syncs before it
   publishes the frames to readers); nothing they read is reported before a sync covers
   it. Every access to an OCS file goes through `SqliteStorage`, whose results are
   released only by the reply to a ``batch`` or ``commit`` message: a sync of the one WAL
   of the file (every writer's frames, synced whole) begun after that COMMIT, so after
   whatever its transaction or the event loop's read-only connection read for it was
   committed. Without a writer process, a transaction that wrote rows is synced by SQLite
   (FULL) and one that wrote nothing syncs the WAL itself (`sync_wal`).

`wal_syncer` decides whether a connection can have it (a file in WAL mode).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

Reply = tuple[str, Any]


class Syncer:
    """Send replies in order from `threads` threads, those marked durable only after a
    sync of the WAL file that began after they were queued. A thread takes what is
    queued, syncs, and sends it when what was taken before it has been sent: while one
    thread waits for the disk, the next COMMIT's replies are taken by another, whose sync
    starts at once (two syncs at once took about the time of one on the disk measured)."""

    def __init__(self, wal: str, send: Callable[[list[Reply]], None], threads: int = 2) -> None:
        self.path = wal
        self.fd = os.open(wal, os.O_RDONLY | os.O_CLOEXEC)
        self._old: list[int] = []  # descriptors of a WAL file replaced (point 5), kept open
        self._send = send
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # something queued
        self._turn = threading.Condition(lock)  # a slot was sent (or the socket failed)
        self._queue: list[Reply] = []
        self._durable = False  # a reply queued waits for a sync
        self._taken = 0  # slots (what a thread took at once) taken, in order ...
        self._sent = 0  # ... and sent, in the same order
        self.syncs = 0
        self.closed = False  # the socket failed: nothing more is sent
        for i in range(threads):
            threading.Thread(target=self._run, name=f"ocs-wal-sync-{i}", daemon=True).start()

    def put(self, replies: list[Reply], durable: bool) -> None:
        """Queue replies (in order after those queued before); `durable`: they report a
        COMMIT that has returned, and are sent only after a sync of the WAL begun later."""
        with self._work:
            self._queue += replies
            self._durable = self._durable or durable
            self._work.notify()

    def drain(self) -> None:
        """Wait until everything queued was sent (or the socket failed)."""
        with self._turn:
            while (self._queue or self._sent != self._taken) and not self.closed:
                self._turn.wait()

    def _run(self) -> None:
        try:
            self._serve()
        except OSError:  # the parent is gone: the main thread's read ends too
            pass
        except BaseException:  # cannot happen; if it did, replies would stop: end
            os._exit(70)
        with self._turn:
            self.closed = True
            self._turn.notify_all()

    def _serve(self) -> None:
        work, turn = self._work, self._turn
        while not self.closed:
            with work:
                while not self._queue:
                    work.wait()
                replies, durable = self._queue, self._durable
                self._queue, self._durable = [], False
                slot = self._taken
                self._taken += 1
            traced: list[dict[str, float]] = []  # replies with times (sqlite_trace)
            if durable:  # begun after every reply taken above was queued (see point 2)
                begun = time.monotonic()
                self.sync()
                synced = time.monotonic()
                traced = [d for _kind, d in replies if type(d) is dict and "committed" in d]
                for detail in traced:
                    detail["sync"], detail["synced"] = begun, synced
            with turn:
                while self._sent != slot and not self.closed:
                    turn.wait()
            if self.closed:
                return
            if traced:
                sending = time.monotonic()
                for detail in traced:
                    detail["sending"] = sending
            self._send(replies)  # slots are sent one at a time, in the order taken
            with turn:
                self._sent += 1
                turn.notify_all()

    def sync(self) -> None:
        """``fdatasync`` of the WAL file; the process exits if it fails (point 6)."""
        try:
            with self._work:  # the descriptor is replaced under the lock, never closed
                if os.stat(self.path).st_ino != os.fstat(self.fd).st_ino:  # point 5
                    self._old.append(self.fd)
                    self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                fd = self.fd
            os.fdatasync(fd)
        except OSError:
            os._exit(70)  # nothing more is sent: what waited is reported as lost
        with self._work:
            self.syncs += 1


def wal_syncer(conn: sqlite3.Connection, path: str, send: Callable[[list[Reply]], None]) -> Syncer | None:
    """A `Syncer` for the WAL of `conn` (a connection to the file `path`), its connection
    set to ``synchronous=NORMAL``; None if it is not in WAL mode or its WAL cannot be
    opened (the connection is then left as it was)."""
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        return None
    try:
        syncer = Syncer(path + "-wal", send)
    except OSError:
        return None
    conn.execute("PRAGMA synchronous=NORMAL")
    return syncer


def sync_wal(path: str) -> None:
    """``fdatasync`` of the WAL of the database file `path`, if it has one (raises
    `OSError`): for a writer whose SQLite syncs at FULL but whose transaction wrote nothing,
    so that what it read of another writer's commits is on disk before it reports it."""
    try:
        fd = os.open(path + "-wal", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # no WAL: every commit is in the database file, synced by its writer
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
