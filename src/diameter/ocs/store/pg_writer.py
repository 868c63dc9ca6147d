"""The PostgreSQL writer process: runs the batched money path's statements (asyncpg).

:class:`diameter.ocs.store.postgres.PostgresStorage` runs this file as a child process
(``python -P pg_writer.py FD PARENT_PID``; it imports nothing of `diameter`), so encoding a
batch's parameters for the wire, the round trip and decoding the reply, asyncpg's work,
run on their own interpreter and core instead of competing with the event loop for the
GIL. The event loop decides a batch on its account cache and sends the statement's
parameters; the reply comes after the statement returned (for the batch's write, after
its commit). It dies with its parent: ``PR_SET_PDEATHSIG`` on Linux, and it exits on
end-of-file of its socket anywhere.

Messages are length-prefixed marshal dumps of tuples; replies carry the request's id and
may come in any order (each request runs on its own connection):

* first ``("url", URL)`` (not on the command line: it may hold a password): connect once
  and reply ``(0, "ready", None)`` or ``(0, "failed", text)``;
* ``("sql", key, text)``: remember a statement under a small integer (no reply);
* ``(id, key, args, json_args)``: run statement `key` with `args` (autocommit; the
  values named in `json_args` are stored as JSON text: `encode_json`), reply
  ``(id, "ok", rows)`` (rows as tuples), ``(id, "failed", text)`` (the database refused
  it: nothing was written), ``(id, "recorded", text)`` (refused so because a request's
  outcome is recorded already: `RECORDED_KEY`) or ``(id, "lost", text)`` (the connection
  broke: unknown).
"""

from __future__ import annotations

import asyncio
import gc
import json
import marshal
import os
import signal
import socket
import struct
import sys
from typing import Any

_LEN = struct.Struct(">I")
#: the outcomes' primary key: a statement it refuses wrote nothing, and some request of it
#: is recorded already
RECORDED_KEY = "outcomes_pkey"
#: this process's connections run only the batch's two statements, whose joins are a few
#: rows of the batch against the tables' keys: nested loops on the indexes (no hash table
#: built per join and batch, no whole-table scan chosen while a table's statistics are small),
#: planned once (a custom plan of WRITE costs ~3M instructions; the planner may prefer them
#: when a batch's arrays are nearly empty)
PLANNER = {"enable_hashjoin": "off", "enable_mergejoin": "off", "plan_cache_mode": "force_generic_plan"}


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def one_shot_encoder(sort_keys: bool, item_sep: str, key_sep: str) -> Any:
    """``json.JSONEncoder(sort_keys=..., separators=(item_sep, key_sep)).encode``, the same
    text, made once: `JSONEncoder.encode` builds its C encoder again on every call (and
    runs two Python frames around it), which cost more than the encoding of the small
    values here. No check for circular references (what marshal delivers is a tree); the
    pure-Python encoder where the C one is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(sort_keys=sort_keys, separators=(item_sep, key_sep)).encode
    enc = make(None, _not_json, json.encoder.encode_basestring_ascii, None, key_sep, item_sep,
               sort_keys, False, True)
    join = "".join
    return lambda value: join(enc(value, 0))


_encode = one_shot_encoder(False, ",", ":")
_encode_sorted = one_shot_encoder(True, ", ", ": ")  # as ``json.dumps(v, sort_keys=True)``


def encode_json(args: Any, which: Any) -> list[Any]:
    """`args` with the values named in `which` encoded (None stays None): each entry
    ``(i, None)`` names every value of argument `i` (a sequence of values), ``(i, p)`` the
    value at position `p` of every row of argument `i` (a sequence of tuples); compact JSON,
    or, for an entry ``(i, p, True)``, ``json.dumps(value, sort_keys=True)`` (CDR records)."""
    out = list(args)
    for entry in which:
        i, p = entry[0], entry[1]
        how = entry[2] if len(entry) > 2 else False
        enc = _encode_sorted if how else _encode
        if p is None:
            out[i] = [None if v is None else enc(v) for v in out[i]]
        else:
            q = p + 1
            out[i] = [r[:p] + (None if r[p] is None else enc(r[p]),) + r[q:] for r in out[i]]
    return out


def is_recorded(exc: BaseException) -> bool:
    """Whether `exc` is the outcomes' primary key refusing a statement (asyncpg's error)."""
    return getattr(exc, "constraint_name", None) == RECORDED_KEY and getattr(exc, "sqlstate", None) == "23505"


def fast_arrays(protocol: Any) -> bool:
    """Let asyncpg's array encoder (module `protocol`) test containers by their concrete types.

    asyncpg tests every element of every array parameter (and every row of a composite
    array) against ``collections.abc`` Iterable, Sized and Mapping: each test a call of
    ``ABCMeta.__instancecheck__``, a Python function, which made up about a quarter of this
    process's work per request. Its values come out of marshal, and `pg_batch` sends every
    array as a list or a tuple (never a set): for lists, tuples and dicts the concrete types
    give the same answers as the abstract ones, in C (a set, never sent, is refused). Only
    the two array types: every scalar fails each type in turn, and each failure costs an
    attribute lookup of ``__class__`` (two types instead of four: about 4k instructions per
    CCR less). The tuple first: every row of a composite array is a tuple, tested twice
    (iterable, sized) and found at the first type (list first: about 4k instructions per CCR
    more). Changed in this process only, and only if asyncpg's module has those names as
    expected (else nothing changes: returns False)."""
    from collections import abc
    expected = {"IterableABC": abc.Iterable, "SizedABC": abc.Sized, "MappingABC": abc.Mapping}
    if not all(getattr(protocol, name, None) is cls for name, cls in expected.items()):
        return False
    protocol.IterableABC = protocol.SizedABC = (tuple, list)
    protocol.MappingABC = dict
    return True


def frame(msg: Any) -> bytes:
    data = marshal.dumps(msg, 4)
    return _LEN.pack(len(data)) + data


class Writer:
    def __init__(self, url: str, out: asyncio.StreamWriter) -> None:
        import asyncpg  # type: ignore[import-untyped]
        import asyncpg.protocol.protocol  # type: ignore[import-untyped]
        self.asyncpg = asyncpg
        fast_arrays(asyncpg.protocol.protocol)
        self.lost = (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError,
                     asyncpg.PostgresConnectionError)
        self.url = url
        self.out = out
        self.idle: list[Any] = []
        self.sql: dict[int, str] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        self.idle.append(await self.asyncpg.connect(self.url, server_settings=PLANNER))

    def request(self, msg: tuple[Any, ...]) -> None:
        if msg[0] == "sql":
            self.sql[msg[1]] = msg[2]
            return
        task = asyncio.get_running_loop().create_task(self.run(msg[0], self.sql[msg[1]], msg[2], msg[3]))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, rid: int, text: str, args: Any, json_args: Any) -> None:
        conn = self.idle.pop() if self.idle else None
        broken = False
        try:
            if json_args:
                args = encode_json(args, json_args)
            if conn is None:
                conn = await self.asyncpg.connect(self.url, server_settings=PLANNER)
            rows = await conn.fetch(text, *args)
            reply = frame((rid, "ok", [tuple(r) for r in rows]))
        except self.lost as exc:
            broken = True
            reply = frame((rid, "lost", f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # refused by the database (or its rows cannot be sent)
            kind = "recorded" if is_recorded(exc) else "failed"
            reply = frame((rid, kind, f"{type(exc).__name__}: {exc}"))
        if conn is not None:
            if broken or conn.is_closed() or conn.is_in_transaction():
                conn.terminate()
            else:
                self.idle.append(conn)
        self.out.write(reply)

    async def close(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        idle, self.idle = self.idle, []
        await asyncio.gather(*(c.close() for c in idle), return_exceptions=True)


async def serve(fd: int) -> int:
    reader, out = await asyncio.open_connection(sock=socket.socket(fileno=fd))

    async def message() -> Any:
        (n,) = _LEN.unpack(await reader.readexactly(4))
        return marshal.loads(await reader.readexactly(n))

    try:
        _, url = await message()
    except (OSError, asyncio.IncompleteReadError):
        return 1
    writer = Writer(url, out)
    try:
        await writer.connect()
    except Exception as exc:
        out.write(frame((0, "failed", f"{type(exc).__name__}: {exc}")))
        await out.drain()
        return 1
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)  # each batch makes thousands of tuples, none in cycles
    out.write(frame((0, "ready", None)))
    try:
        while True:
            writer.request(await message())
            await out.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass  # the parent closed its end (or died)
    finally:
        await writer.close()
    return 0


def main(argv: list[str]) -> int:
    fd, parent = int(argv[0]), int(argv[1])
    _die_with_parent(parent)
    for sig in (signal.SIGINT, signal.SIGTERM):  # the parent decides when this ends
        signal.signal(sig, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(fd))
    return uvloop.run(serve(fd))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
