"""protocol/inbound.py (compiled with mypyc in a full build): a local request's duplicate check and
answer completion behave like their Python source and like the codec's AVP look-ups."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from diameter.codec.frame import find_payload, find_u32
from diameter.node import protocol
from diameter.node.aio.stats import result_class as stats_result_class
from diameter.node.protocol import avps as A
from diameter.node.protocol import dedup, inbound

HERE = Path(protocol.__file__).resolve().parent


def _source(name: str):
    """A fresh copy of ``diameter.node.protocol.<name>`` executed from its .py file."""
    spec = importlib.util.spec_from_file_location(f"diameter.node.protocol._src_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SRC = _source("inbound")
SRC_DEDUP = _source("dedup")


def _avp(rng: random.Random, code: int) -> bytes:
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 4, 7, 12])))
    if rng.random() < 0.2:   # a V bit: vendor 0 (found) or another (skipped)
        return A.avp(code, payload, vendor=rng.choice([0, 10415]))
    return A.avp(code, payload)


def _message(rng: random.Random) -> bytes:
    codes = [rng.choice([263, 264, 268, 296, 1, 416]) for _ in range(rng.randrange(0, 6))]
    msg = A.message(rng.choice([0x80, 0x00, 0xC0]), 272, 4, rng.randrange(1 << 32), rng.randrange(1 << 32),
                    [_avp(rng, c) for c in codes])
    r = rng.random()
    if r < 0.15 and len(msg) > 20:   # a damaged AVP length or a cut message
        b = bytearray(msg)
        b[rng.randrange(20, len(b))] = rng.randrange(256)
        msg = bytes(b)
    elif r < 0.25:
        msg = msg[:rng.randrange(20, len(msg) + 1)]
    return msg


def test_look_ups_agree_with_the_codec_and_their_source():
    rng = random.Random(9)
    for _ in range(3000):
        msg = _message(rng)
        host = find_payload(msg, 264, 0, 20, len(msg)) or b""
        assert inbound.origin_host(msg) == SRC.origin_host(msg) == host
        assert inbound.result_code(msg) == SRC.result_code(msg) == find_u32(msg, 268, 20, len(msg))
    for rc in (0, 999, 1001, 2001, 2002, 3004, 4012, 5012, 9999, 10000, 12345, 5030000):
        assert inbound.result_class(rc) == SRC.result_class(rc) == stats_result_class(rc)


def _run(mod, cache, script):
    """Run ``script`` (admit/answered steps) through ``mod`` on ``cache``; everything it returns
    and sends, in order."""
    log: list = []
    for step in script:
        if step[0] == "admit":
            _, data, now, waiter = step
            res = mod.admit(cache, data, now, waiter)
            log.append(("admit", type(res).__name__, bytes(res) if res is not None else None))
        else:
            _, host, data, out, now = step
            sent: list = []
            try:
                res = mod.answered(cache, host, data, out, now, lambda w, b, sent=sent: sent.append((w, bytes(b))))
            except ValueError as exc:
                log.append(("answered", "ValueError", str(exc)))
                continue
            log.append(("answered", res, sent))
    log.append((len(cache), cache.size_bytes))
    return log


def test_admit_and_answered_agree_with_their_source():
    rng = random.Random(21)
    for _round in range(40):
        script: list = []
        now = 0.0
        requests = []
        for _ in range(60):
            now += rng.random() * 2
            if requests and rng.random() < 0.5:   # an answer (or a copy of an earlier request)
                data, host = rng.choice(requests)
                if rng.random() < 0.6:
                    answer = A.message(0, 272, 4, rng.choice([int.from_bytes(data[12:16], "big"), 5]),
                                       int.from_bytes(data[16:20], "big"),
                                       [_avp(rng, rng.choice([263, 268, 264])) for _ in range(rng.randrange(3))])
                    if rng.random() < 0.1:
                        answer = answer[:rng.randrange(0, 20)]
                    script.append(("answered", host, data, answer, now))
                else:
                    b = bytearray(data)
                    b[12:16] = rng.randrange(1 << 32).to_bytes(4, "big")   # a copy: another hop-by-hop id
                    script.append(("admit", bytes(b), now, rng.randrange(5)))
            else:
                data = A.message(0x80, 272, 4, rng.randrange(1 << 32), rng.randrange(6),
                                 [A.avp(264, rng.choice([b"a", b"bb", b""]))] if rng.random() < 0.9 else [])
                requests.append((data, inbound.origin_host(data)))
                script.append(("admit", data, now, rng.randrange(5)))
        compiled = _run(inbound, dedup.DuplicateCache(5.0, max_entries=10, max_bytes=300), script)
        source = _run(SRC, SRC_DEDUP.DuplicateCache(5.0, max_entries=10, max_bytes=300), script)
        assert compiled == source


def test_a_copy_gets_the_answer_with_its_own_hop_by_hop_identifier():
    cache = dedup.DuplicateCache(30.0)
    req = A.message(0x80, 272, 4, 0x01020304, 77, [A.avp(264, b"client")])
    assert inbound.admit(cache, req, 1.0, "first") == b"client"
    copy = bytearray(req)
    copy[12:16] = (0x0A0B0C0D).to_bytes(4, "big")
    assert inbound.admit(cache, bytes(copy), 1.5, "copy") is None   # waits for the first
    answer = A.message(0, 272, 4, 99, 99, [A.u32(268, 2001)])   # other identifiers: the request's are set
    sent: list = []
    out, cls = inbound.answered(cache, b"client", req, answer, 2.0, lambda w, b, sent=sent: sent.append((w, bytes(b))))
    assert cls == "2xxx" and out[12:20] == req[12:20] and out[20:] == answer[20:]
    expected = out[:12] + bytes(copy[12:16]) + out[16:]   # the answer with the copy's hop-by-hop id
    assert sent == [("copy", expected)]
    late = inbound.admit(cache, bytes(copy), 3.0, "late")   # answered already: the cached answer, its id
    assert type(late) is bytearray and bytes(late) == expected
    no_rc = A.message(0, 272, 4, 1, 2, [A.avp(263, b"s")])
    assert inbound.answered(cache, b"x", no_rc, no_rc, 4.0, print) == (no_rc, None)
    with pytest.raises(ValueError):
        inbound.answered(cache, b"client", req, b"\x01\x00", 5.0, print)
