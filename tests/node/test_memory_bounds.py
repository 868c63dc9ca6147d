"""Memory a peer can make the server keep is bounded and released: validator caches, closed
connections, the duplicate cache and peers that connected with unknown identities."""
from __future__ import annotations

import asyncio
import functools
import gc
import random
import struct
import tracemalloc
import weakref

from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import DIAMETER_SUCCESS
from diameter.node.protocol.dedup import DuplicateCache
from diameter.validation import validate
from diameter.validation.rules import MAX_CACHE_ENTRIES, RuleSet

from .aio_helpers import RawPeer, answer_for, ccr, client, server
from .helpers import app_request, result_of


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


def _with_unknown_avps(n: int, rng: random.Random, e2e: int) -> bytes:
    # unknown vendor-specific AVPs without the M bit: valid, ignored (RFC 6733 4.1)
    extra = [struct.pack("!IIII", rng.getrandbits(31) | 1 << 20, 0x80 << 24 | 16, 99999, 7) for _ in range(n)]
    return app_request(e2e=e2e, extra=extra)


def test_validator_caches_stay_bounded_whatever_the_avp_codes():
    rules = RuleSet()
    rng = random.Random(5)
    for i in range(30):  # 60,000 distinct unknown AVPs
        assert validate(_with_unknown_avps(2000, rng, i), rules) == []
    assert len(rules._avps) <= MAX_CACHE_ENTRIES + 2000
    assert len(rules._fast) <= MAX_CACHE_ENTRIES + 2000
    # a bound on the bytes too: the caches of one RuleSet stay a few MB
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(30, 60):
        validate(_with_unknown_avps(2000, rng, i), rules)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 8 << 20, grown


def test_duplicate_cache_bounded_by_bytes_and_trimmed_by_time():
    c = DuplicateCache(window=10, max_bytes=1000)
    for i in range(10):
        assert c.check(b"h", i, 0.0) is None
        assert c.record(b"h", i, bytes(300), 0.0) == []
    assert c.size_bytes <= 1000 and len(c) <= 3
    assert c.check(b"h", 9, 1.0) == bytes(300)   # the newest answers are kept
    c.check(b"h", 100, 5.0)                      # in progress, expires at 15
    assert c.trim(12.0) == 3 and len(c) == 1 and c.size_bytes == 0
    assert c.trim(15.0) == 1 and len(c) == 0


@aio
async def test_duplicate_cache_expires_on_the_timer_without_new_requests():
    srv = await server(accept_unknown_peers=True, duplicate_window=0.2, tick=0.02)
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("client.test.realm") == DIAMETER_SUCCESS
    raw.send(app_request(hbh=1, e2e=1, extra=[A.avp(999999, bytes(100_000), mandatory=False)]))
    assert result_of(await raw.recv()) == 2001
    assert len(srv.dedup) == 1
    await asyncio.sleep(0.4)
    assert len(srv.dedup) == 0 and srv.dedup.size_bytes == 0
    raw.close()
    await srv.stop()


@aio
async def test_closed_connections_are_freed_without_a_garbage_collection():
    srv = await server(accept_unknown_peers=True)
    gc.collect()
    gc.disable()
    try:
        refs = []
        for i in range(5):
            raw = await RawPeer.connect(srv.listen_ports[0])
            assert await raw.cer(f"c{i}.test.realm") == DIAMETER_SUCCESS
            raw.send(b"\x01\x00\x80\x00" + bytes(5000))  # a part of a 32 KB message
            await asyncio.sleep(0.05)
            refs += [weakref.ref(p) for p in srv.protocols]
            raw.close()
        for _ in range(20):
            await asyncio.sleep(0.02)
            if not srv.protocols:
                break
        await asyncio.sleep(0.05)
        assert not srv.protocols
        assert all(r() is None for r in refs), "a closed connection is still referenced"
    finally:
        gc.enable()
    await srv.stop()


@aio
async def test_peer_without_cer_may_send_only_a_small_message():
    srv = await server()
    raw = await RawPeer.connect(srv.listen_ports[0])
    raw.send(b"\x01\x10\x00\x00" + bytes(60_000))  # announces 1 MB, no CER
    assert await raw.closed(timeout=3)
    for _ in range(20):
        if not srv.protocols:
            break
        await asyncio.sleep(0.02)
    assert not srv.protocols
    await srv.stop()


@aio
async def test_unknown_peers_are_forgotten_when_their_connection_ends():
    srv = await server(accept_unknown_peers=True)
    configured = set(srv.peers)
    for i in range(20):
        raw = await RawPeer.connect(srv.listen_ports[0])
        assert await raw.cer(f"stranger{i}.test.realm") == DIAMETER_SUCCESS
        raw.send(app_request(origin=f"stranger{i}.test.realm", hbh=1, e2e=1))
        assert result_of(await raw.recv()) == 2001
        raw.close()
    for _ in range(50):
        if set(srv.peers) == configured:
            break
        await asyncio.sleep(0.02)
    assert set(srv.peers) == configured
    await srv.stop()


@aio
async def test_a_sent_request_is_not_kept_alive_while_its_answer_is_awaited():
    """request() drops its message once it is encoded and sent: a request nobody else holds is
    freed at once, not kept (and walked by the GC) for its whole round trip."""
    srv = await server(handler=answer_for("server.test.realm", delay=0.2))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    msg = ccr("client.test.realm", 1)
    ref = weakref.ref(msg)
    task = asyncio.ensure_future(cli.request(msg))
    del msg
    try:
        await asyncio.sleep(0.05)   # sent, the server's handler still sleeping: in flight
        assert not task.done() and len(cli.pending) == 1
        assert ref() is None
        assert (await task).result_code == DIAMETER_SUCCESS
    finally:
        task.cancel()
        await cli.stop(0.5)
        await srv.stop(0.5)
