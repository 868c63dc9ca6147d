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

``--write`` (on an empty database) first creates the accounts `ocs_loop` creates (same ids,
versions and balances), so the replayed statements write what the recorded run wrote, in
the same batches: PostgreSQL's own work per batch, deterministic (the postmaster under
callgrind: the difference of the writer backend's totals). ``--current-sql`` sends this
tree's `pg_batch_sql.WRITE` instead of the recorded text (a new form of the statement, on
the same parameters).

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
    from diameter.ocs.store import open_storage, pg_batch_sql, pg_writer

    async with open_storage(args.db) as store:  # the schema (the row types of WRITE's arrays)
        if args.write:
            from diameter.ocs import AccountKind
            from diameter.ocs.accounting import default_balances
            for i in range(args.accounts):  # as bench/ocs_loop.py
                await store.create_account(f"bench{i}", kind=AccountKind.PREPAID,
                                           subscriptions=[(0, f"4917{i:08d}")],
                                           balances=default_balances(1, 10**12))
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
            if args.current_sql and "INSERT INTO ledger" in msg[2]:
                msg = ("sql", msg[1], pg_batch_sql.WRITE)
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
    ap.add_argument("--write", action="store_true",
                    help="replay: create ocs_loop's accounts first, so the statements write")
    ap.add_argument("--accounts", type=int, default=100, help="with --write: as ocs_loop's --accounts")
    ap.add_argument("--current-sql", action="store_true",
                    help="replay: this tree's WRITE statement instead of the recorded one")
    args, rest = ap.parse_known_args()
    if args.save:
        save(args, rest)
    elif args.replay:
        asyncio.run(replay(args))
    else:
        ap.error("--save or --replay")


if __name__ == "__main__":
    main()
