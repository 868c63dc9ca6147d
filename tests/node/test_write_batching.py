"""Write batching, held writes, the threaded hand-off and the worker pool, over real sockets."""
from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from diameter.node.aio import transport
from diameter.node.application import _WorkerPool
from diameter.node.threads import Inbox as _Inbox, Waiter as _Waiter
from diameter.node.protocol.constants import (
    AVP_RESULT_CODE, CMD_CAPABILITIES_EXCHANGE, DIAMETER_SUCCESS)

from .aio_helpers import REALM, RawPeer, ccr, client, server


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


async def raw_server(frames: list[bytes], reads: list[int]):
    """A listening socket that records each read's frames and answers the CER only."""
    from diameter.node.protocol import avps as A
    from diameter.node.protocol.capabilities import Capabilities
    from diameter.node.protocol.framing import FrameDecoder, parse_header

    async def on_conn(reader, writer):
        dec = FrameDecoder()
        while True:
            data = await reader.read(1 << 20)
            if not data:
                return
            got = dec.feed(data)
            reads.append(len(got))
            for f in got:
                hdr = parse_header(f)
                if hdr.command_code == CMD_CAPABILITIES_EXCHANGE:
                    caps = Capabilities("raw.test.realm", REALM, ["127.0.0.1"], 0, "raw", 1, set(), {4})
                    avps = caps.avps()
                    avps.insert(2, A.u32(AVP_RESULT_CODE, DIAMETER_SUCCESS))
                    writer.write(A.message(0, CMD_CAPABILITIES_EXCHANGE, 0, hdr.hop_by_hop_identifier,
                                           hdr.end_to_end_identifier, avps))
                else:
                    frames.append(f)
    return await asyncio.start_server(on_conn, "127.0.0.1", 0)


@aio
async def test_requests_of_one_iteration_arrive_complete_and_in_order():
    frames: list[bytes] = []
    reads: list[int] = []
    srv = await raw_server(frames, reads)
    port = srv.sockets[0].getsockname()[1]
    cli = await client([("raw.test.realm", port)])
    n = 3 * transport.WRITE_BATCH + 5
    futs = [cli.request_future(ccr("client.test.realm", i), timeout=5) for i in range(n)]
    for _ in range(200):
        if len(frames) >= n:
            break
        await asyncio.sleep(0.01)
    assert len(frames) == n
    from diameter.message import Message
    assert [Message.from_bytes(f).cc_request_number for f in frames] == list(range(n))
    for f in futs:
        f.cancel()
    await cli.stop(0.2)
    srv.close()


@aio
async def test_held_writes_go_out_only_on_release():
    frames: list[bytes] = []
    reads: list[int] = []
    srv = await raw_server(frames, reads)
    port = srv.sockets[0].getsockname()[1]
    cli = await client([("raw.test.realm", port)])
    batch = transport.WRITE_BATCH
    cli.hold_writes()
    futs = [cli.request_future(ccr("client.test.realm", i), timeout=5) for i in range(batch - 1)]
    await asyncio.sleep(0.1)
    assert frames == []  # nothing written while held
    # a full batch goes out even while held (the peer is kept busy)
    futs += [cli.request_future(ccr("client.test.realm", i), timeout=5) for i in range(batch - 1, 2 * batch + 3)]
    for _ in range(200):
        if len(frames) >= 2 * batch:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert len(frames) == 2 * batch
    cli.release_writes()
    for _ in range(200):
        if len(frames) >= 2 * batch + 3:
            break
        await asyncio.sleep(0.01)
    assert len(frames) == 2 * batch + 3
    for f in futs:
        f.cancel()
    await cli.stop(0.2)
    srv.close()


@aio
async def test_held_large_messages_go_out_by_bytes_too():
    # a batch is also bounded in bytes, so that big messages cannot jump past the
    # write-buffer limits in one write
    from diameter.node.protocol import avps as A

    from .helpers import app_request
    frames: list[bytes] = []
    reads: list[int] = []
    srv = await raw_server(frames, reads)
    port = srv.sockets[0].getsockname()[1]
    cli = await client([("raw.test.realm", port)])
    big = A.avp(1, b"x" * (transport.WRITE_BATCH_BYTES // 3), vendor=99999, mandatory=False)
    cli.hold_writes()
    futs = [cli.request_future(app_request(origin="client.test.realm", e2e=i + 1, extra=[big]), timeout=5)
            for i in range(2)]
    await asyncio.sleep(0.1)
    assert frames == []  # under WRITE_BATCH_BYTES: held
    futs += [cli.request_future(app_request(origin="client.test.realm", e2e=i + 1, extra=[big]), timeout=5)
             for i in range(2, 4)]
    for _ in range(200):
        if len(frames) >= 3:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert len(frames) == 3   # the third reached the byte bound; the fourth is still held
    cli.release_writes()
    for _ in range(200):
        if len(frames) >= 4:
            break
        await asyncio.sleep(0.01)
    assert len(frames) == 4
    for f in futs:
        f.cancel()
    await cli.stop(0.2)
    srv.close()


@aio
async def test_unbatched_node_answers_everything():
    srv = await server()
    srv.batch_writes = False
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    cli.batch_writes = False
    answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(60)))
    assert sorted(a.cc_request_number for a in answers) == list(range(60))
    assert all(a.result_code == 2001 for a in answers)
    await cli.stop()
    await srv.stop()


@aio
async def test_batched_server_answers_a_burst_in_one_read():
    # one TCP write carrying many requests: every one is answered, in order
    srv = await server(clients=("raw.test.realm",))
    peer = await RawPeer.connect(srv.listen_ports[0])
    assert await peer.cer("raw.test.realm") == DIAMETER_SUCCESS
    reqs = [ccr("raw.test.realm", i) for i in range(100)]
    for i, r in enumerate(reqs):
        r.header.hop_by_hop_identifier = r.header.end_to_end_identifier = 1000 + i
    burst = b"".join(r.as_bytes() for r in reqs)
    peer.send(burst)
    from diameter.message import Message
    got = []
    for _ in range(100):
        data = await peer.recv()
        assert data is not None
        got.append(Message.from_bytes(data).cc_request_number)
    assert got == list(range(100))
    peer.writer.close()
    await srv.stop()


@aio
async def test_inbox_runs_posts_from_many_threads_in_order_per_thread():
    loop = asyncio.get_running_loop()
    srv = await server()
    inbox = _Inbox(loop, srv)
    seen: list[tuple[int, int]] = []
    loop_thread = threading.current_thread()
    wrong_thread = []

    def record(k: int, i: int) -> None:
        if threading.current_thread() is not loop_thread:
            wrong_thread.append((k, i))
        seen.append((k, i))

    def producer(k: int) -> None:
        for i in range(500):
            inbox.post(record, k, i)
    threads = [threading.Thread(target=producer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) or len(seen) < 4000:
        await asyncio.sleep(0.01)
    assert wrong_thread == []
    for k in range(8):
        assert [i for kk, i in seen if kk == k] == list(range(500))
    await srv.stop()


def test_waiter_hands_over_value_error_and_times_out():
    # the waiter is the node's future for a blocked thread's request: done/set_result/set_exception
    w = _Waiter()
    threading.Timer(0.01, w.set_result, args=("answer",)).start()
    assert w.wait(5) and w.value == "answer" and w.error is None and w.done()
    with pytest.raises(asyncio.InvalidStateError):   # the first answer counts
        w.set_result("again")
    w2 = _Waiter()
    assert not w2.wait(0.01) and not w2.done()
    w3 = _Waiter()
    w3.set_exception(ValueError("boom"))
    assert w3.wait(1) and isinstance(w3.error, ValueError) and w3.value is None
    w4 = _Waiter()
    assert w4.cancel() and w4.cancelled() and w4.wait(1) and not w4.cancel()


def test_worker_pool_bounds_threads_and_processes_everything():
    done: list[int] = []
    lock = threading.Lock()
    gate = threading.Event()

    def work(item: int) -> None:
        gate.wait(5)
        with lock:
            done.append(item)
    pool = _WorkerPool(4, work, "test-pool")
    for i in range(100):
        pool.submit(i)
    # the burst wakes one worker; while items wait behind blocked workers, the pool
    # grows (one worker per stall period) to its bound, no further
    for _ in range(500):
        if len(pool._threads) == 4:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)
    assert len(pool._threads) == 4
    gate.set()
    for _ in range(500):
        if len(done) == 100:
            break
        threading.Event().wait(0.01)
    assert sorted(done) == list(range(100))
    pool.shutdown()
    for t in pool._threads:
        t.join(5)
    assert not any(t.is_alive() for t in pool._threads)


def test_worker_pool_survives_a_failing_item():
    done: list[int] = []

    def work(item: int) -> None:
        if item == 3:
            raise RuntimeError("handler bug")
        done.append(item)
    pool = _WorkerPool(1, work, "test-pool")
    for i in range(6):
        pool.submit(i)
    for _ in range(500):
        if len(done) == 5:
            break
        threading.Event().wait(0.01)
    pool.shutdown()
    assert sorted(done) == [0, 1, 2, 4, 5]
