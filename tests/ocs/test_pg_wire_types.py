"""The writer process's faster array checks (`pg_writer.fast_arrays`): the same values reach
PostgreSQL, and the same values are refused, as with asyncpg's own checks, but sets (never
sent: arrays come as lists and tuples), which it refuses."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from diameter.ocs import open_storage

SRC = Path(__file__).resolve().parents[2] / "src"

# Run in a child process: the change is to asyncpg's module, for the process that makes it
# (the writer process), so it must not reach the tests' own connections.
CHILD = r'''
import asyncio, json, sys
import asyncpg, asyncpg.protocol.protocol as proto
from diameter.ocs.store import pg_writer

CASES = [
    ("SELECT $1::bigint[]::text", [1, 2, None]),
    ("SELECT $1::bigint[]::text", (3, 4)),
    ("SELECT $1::bigint[]::text", []),
    ("SELECT $1::float8[]::text", [1.5, None, -2.0]),
    ("SELECT $1::text[]::text", ["a", "b;c", "", None, "{x}"]),
    ("SELECT $1::int[]::text", [[1, 2], [3, 4]]),
    ("SELECT $1::int[]::text", ((1, 2), (3, 4))),
    ("SELECT $1::outcomes[]::text", [("s;1", 1, 1.5, None, b"[\\x0c\\x00"), None]),
    ("SELECT $1::outcomes[]::text", ({"session_id": "m", "request_number": 2, "ts": 0.5,
                                      "outcome": "{}"},)),
    ("SELECT $1::ledger[]::text", [(None, 2.5, 1, 2, "debit", -10, 90, 1048576, "s", 3, 1)]),
    ("SELECT $1::text[]::text", "not an array"),
    ("SELECT $1::bigint[]::text", 5),
    ("SELECT $1::bigint[]::text", {2}),
    ("SELECT $1::bigint[]::text", frozenset([3])),
    ("SELECT $1::text[]::text", b"bytes"),
    ("SELECT $1::outcomes[]::text", [{"session_id": "m"}]),
    ("SELECT $1::int[]::text", [[1, 2], [3]]),
    ("SELECT $1::int[]::text", [[1, 2], 3]),
    ("SELECT $1::outcomes[]::text", [("s", 1)]),
]

async def run(url):
    conn = await asyncpg.connect(url)
    out = []
    try:
        for sql, value in CASES:
            try:
                out.append(["ok", await conn.fetchval(sql, value)])
            except Exception as exc:
                out.append(["error", type(exc).__name__, str(exc)])
    finally:
        await conn.close()
    return out

url = sys.argv[1]
before = asyncio.run(run(url))
changed = pg_writer.fast_arrays(proto)
again = pg_writer.fast_arrays(proto)  # no longer as expected: left alone
after = asyncio.run(run(url))
print(json.dumps({"changed": changed, "again": again, "before": before, "after": after,
                  "iterable": repr(proto.IterableABC)}))
'''


def test_fast_arrays_sends_and_refuses_the_same_values_as_asyncpg(pg_cluster):
    url = pg_cluster.new_database()

    async def schema():
        async with open_storage(url):  # the table types the writer's arrays are of
            pass
    asyncio.run(schema())
    done = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["changed"] is True and got["again"] is False
    assert got["iterable"] == "(<class 'tuple'>, <class 'list'>)"
    sets = [i for i, case in enumerate(got["before"]) if case[0] == "ok" and case[1] in ("{2}", "{3}")]
    assert sets == [12, 13]
    for i, (before, after) in enumerate(zip(got["before"], got["after"])):
        if i in sets:  # a set is no array to the writer's checks: refused, nothing sent
            assert after[0] == "error", after
        else:
            assert after == before
    kinds = [r[0] for r in got["before"]]
    # (nested tuples are records to asyncpg, not sub-arrays)
    assert kinds == (["ok"] * 6 + ["error"] + ["ok"] * 3 + ["error"] * 2 + ["ok"] * 2 + ["error"]
                     + ["ok"] + ["error"] * 3), got["before"]


def test_the_writer_process_uses_the_faster_checks(pg_cluster):
    """The writer process applies them as it starts (asyncpg as installed has the names)."""
    url = pg_cluster.new_database()
    probe = ("import asyncpg.protocol.protocol as proto, sys; sys.argv = ['w']\n"
             "from diameter.ocs.store import pg_writer\n"
             "class Out:\n    def write(self, data): pass\n"
             "pg_writer.Writer(sys.argv[0], Out())\n"
             "print(proto.IterableABC, proto.SizedABC, proto.MappingABC)")
    done = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    iterable = "(<class 'tuple'>, <class 'list'>)"
    assert done.stdout.strip() == f"{iterable} {iterable} <class 'dict'>"


def test_encode_json_writes_what_json_dumps_writes():
    """The writer's JSON texts (`pg_writer.encode_json`, its encoders made once) are the
    texts ``json.dumps`` makes: compact, or with sorted keys as SQLite stores CDR records."""
    import pytest

    from diameter.ocs.store import pg_writer

    values = [{"b": 1.5, "a": [1, None, 'x\u00e9"\n'], "c": {"z": True, "y": False}}, "text",
              1e100, -0.0, float("inf"), [], {}, 12345678901234567890, [[1, 2, 3]], {1: 2},
              [2, 2001, 49, 999999999860, -10, 978, None, [], [(1, 2001, None, "octets")]]]
    rows = [("s", i, v, 7) for i, v in enumerate(values)] + [("s", 99, None, 7)]
    got = pg_writer.encode_json([rows, values, [None, *values]], ((0, 2), (1, None), (2, None, True)))
    compact = [None if v is None else json.dumps(v, separators=(",", ":")) for v in
               [r[2] for r in rows]]
    assert got[0] == [("s", r[1], c, 7) for r, c in zip(rows, compact)]
    assert got[1] == [json.dumps(v, separators=(",", ":")) for v in values]
    assert got[2] == [None] + [json.dumps(v, sort_keys=True) for v in values]
    with pytest.raises(TypeError, match="not JSON serializable"):
        pg_writer.encode_json([[object()]], ((0, None),))
    with pytest.raises(TypeError, match="not supported"):  # keys of two types, as json.dumps
        pg_writer.encode_json([[{1: 2, "a": 3}]], ((0, None, True),))
