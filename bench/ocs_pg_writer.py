"""The PostgreSQL writer process's work per CCR (`pg_writer`), on recorded batches.

``--save FILE --db URL`` runs `bench/ocs_loop.py --node` (the OCS event loop, charging on
the PostgreSQL database URL, which must be empty) in this process and keeps every message
sent to the writer process. ``--replay FILE --db URL --messages K`` sends the first K
recorded WRITE statements (-1: all) through the writer's own code (`pg_writer.Writer.run`:
unmarshalling, JSON encoding, asyncpg's encoding and round trip) one after the other, as
the writer process does, on a database holding the schema (none of the accounts: nothing
is written, which changes nothing of the writer's work). Run the replay under
``valgrind --tool=callgrind`` with all and with none of the messages: per CCR is the
difference of the two totals over the CCRs replayed (printed).

    python bench/ocs_pg_writer.py --save /tmp/pgw.rec --db postgresql://.../empty1 [--inflight 14]
    valgrind --tool=callgrind python bench/ocs_pg_writer.py --replay /tmp/pgw.rec \\
        --db postgresql://.../empty2 --messages -1      # and --messages 0

`--inflight` (passed to ocs_loop) sets the batch size: about that many CCRs per batch.
The writer measured is the one of the tree whose ``src`` is on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import marshal
import runpy
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def save(args: argparse.Namespace, rest: list[str]) -> None:
    from diameter.ocs.store import pg_link

    messages: list[Any] = []
    send = pg_link.WriterLink._send

    def keep(self: Any, msg: tuple[Any, ...]) -> None:
        if msg[0] != "url":  # (it may hold a password)
            messages.append(msg)
        send(self, msg)
    pg_link.WriterLink._send = keep  # type: ignore[method-assign]
    sys.argv = ["ocs_loop.py", "--node", "--db", args.db, *rest]
    sys.path.insert(0, str(HERE))
    try:
        runpy.run_path(str(HERE / "ocs_loop.py"), run_name="__main__")
    finally:
        with open(args.save, "wb") as f:
            marshal.dump(messages, f)
    print(f"{len(messages)} messages recorded in {args.save}")


async def replay(args: argparse.Namespace) -> None:
    from diameter.ocs.store import open_storage, pg_writer

    async with open_storage(args.db):  # the schema (the row types of WRITE's arrays)
        pass
    with open(args.replay, "rb") as f:
        messages = [marshal.dumps(m, 4) for m in marshal.load(f)]

    class Out:
        def write(self, data: bytes) -> None:
            pass
    writer = pg_writer.Writer(args.db, Out())  # type: ignore[arg-type]
    await writer.connect()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)  # as the writer process
    sent = ccrs = 0
    limit = len(messages) if args.messages < 0 else args.messages
    for data in messages:
        msg = marshal.loads(data)
        if msg[0] == "sql":
            writer.request(msg)
            continue
        text = writer.sql[msg[1]]
        if "INSERT INTO ledger" not in text or sent >= limit:
            continue
        await writer.run(msg[0], text, msg[2], msg[3])
        sent += 1
        ccrs += len(msg[2][19])  # the outcomes: one per CCR
    await writer.close()
    print(f"{sent} WRITE statements, {ccrs} CCRs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a PostgreSQL URL (for --save: an empty database)")
    ap.add_argument("--save", help="record the writer's messages of an ocs_loop run in this file")
    ap.add_argument("--replay", help="replay the WRITE statements recorded in this file")
    ap.add_argument("--messages", type=int, default=-1, help="how many WRITEs to replay (-1: all)")
    args, rest = ap.parse_known_args()
    if args.save:
        save(args, rest)
    elif args.replay:
        asyncio.run(replay(args))
    else:
        ap.error("--save or --replay")


if __name__ == "__main__":
    main()
