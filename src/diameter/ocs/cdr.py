"""CDR export: the committed CDR rows of the database as JSON lines files, rotated by size.

CDRs are written in the same transaction as the debits they describe (table `cdrs`), so a
crash never loses one; `export_cdrs` copies the new ones to ``<dir>/<name>.jsonl``
(fsynced) and then records how far it got, so an export interrupted midway repeats at
most the last batch. When the file passes `max_bytes` it is renamed
``<name>-<UTC time>.jsonl`` and a new one is started.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .store import Storage


def _rotate(path: Path, max_bytes: int) -> None:
    if path.exists() and path.stat().st_size >= max_bytes:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = path.with_name(f"{path.stem}-{stamp}.jsonl")
        n = 1
        while target.exists():
            target = path.with_name(f"{path.stem}-{stamp}-{n}.jsonl")
            n += 1
        path.rename(target)


async def export_cdrs(store: Storage, directory: str | Path, *, name: str = "cdr",
                      max_bytes: int = 64 << 20, batch: int = 1000) -> int:
    """Append CDRs not yet exported under `name`; returns how many were written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    position = await store.export_position(name)
    written = 0
    while True:
        rows = await store.cdrs(position, batch)
        if not rows:
            return written
        _rotate(path, max_bytes)
        with open(path, "a", encoding="utf-8") as fh:
            for cdr_id, record in rows:
                fh.write(json.dumps({"id": cdr_id, **record}, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        position = rows[-1][0]
        await store.set_export_position(name, position)
        written += len(rows)
