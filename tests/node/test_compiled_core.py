"""The node's sans-IO core may be compiled (mypyc, setup.py's NODE_COMPILED_MODULES):
the build is all or nothing, and the modules that run behave like their Python source."""
from __future__ import annotations

import importlib
import importlib.util
import random
from pathlib import Path

from diameter.node import protocol
from diameter.node.protocol import avps as A
from diameter.node.protocol import dedup, framing, pending

HERE = Path(protocol.__file__).resolve().parent


def _running_modules():
    return [importlib.import_module(f"diameter.node.protocol.{name}") for name in protocol._COMPILED_MODULES]


def _source(name: str):
    """A fresh copy of ``diameter.node.protocol.<name>`` executed from its .py file."""
    spec = importlib.util.spec_from_file_location(f"diameter.node.protocol._src_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_is_all_compiled_or_all_source(assert_one_build):
    assert_one_build(_running_modules())


def _msg(e2e: int, size: int) -> bytes:
    return A.message(0x80, 272, 4, e2e, e2e, [A.avp(263, b"s" * size)])


def _outcome(decoder, chunks: list[bytes]):
    out: list = []
    for c in chunks:
        try:
            out.append(decoder.feed(c))
        except Exception as exc:  # noqa: BLE001 - compared between the two implementations
            out.append((type(exc).__name__, getattr(exc, "result_code", None), getattr(exc, "frames", None),
                        getattr(exc, "header", None), str(exc)))
            break
    return out, decoder.buffered


def test_frame_decoder_agrees_with_its_source():
    src = _source("framing")
    rng = random.Random(16)
    for _ in range(300):
        stream = b"".join(_msg(i, rng.randrange(0, 60)) for i in range(rng.randrange(1, 6)))
        if rng.random() < 0.3:   # a bad version or length somewhere
            b = bytearray(stream)
            b[rng.randrange(0, len(b))] = rng.randrange(256)
            stream = bytes(b)
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randrange(0, 5))))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
        max_size = rng.choice([64, 4096])
        assert _outcome(framing.FrameDecoder(max_size), chunks) == _outcome(src.FrameDecoder(max_size), chunks)
    hdr = _msg(7, 3)
    assert framing.parse_header(hdr) == src.parse_header(hdr) == (32, 0x80, 272, 4, 7, 7)


def test_duplicate_cache_and_pending_table_agree_with_their_source():
    src_dedup, src_pending = _source("dedup"), _source("pending")
    rng = random.Random(12)
    caches = [dedup.DuplicateCache(5.0, max_entries=20, max_bytes=400),
              src_dedup.DuplicateCache(5.0, max_entries=20, max_bytes=400)]
    tables = [pending.PendingTable(), src_pending.PendingTable()]
    now = 0.0
    for _ in range(2000):
        now += rng.random()
        host, e2e = rng.choice([b"a", b"b"]), rng.randrange(30)
        op = rng.randrange(6)
        answer, deadline = b"x" * rng.randrange(80), now + rng.random() * 3
        if op == 0:
            res = [c.check(host, e2e, now, waiter=e2e) for c in caches]
        elif op == 1:
            res = [c.record(host, e2e, answer, now) for c in caches]
        elif op == 2:
            res = [c.trim(now) for c in caches]
        elif op == 3:
            res = [t.add(host, e2e, deadline, e2e) for t in tables]
        elif op == 4:
            res = [t.pop(host, e2e) for t in tables]
        else:
            res = [(t.expire(now), t.next_deadline(), len(t)) for t in tables]
        assert res[0] == res[1]
        assert (len(caches[0]), caches[0].size_bytes) == (len(caches[1]), caches[1].size_bytes)
