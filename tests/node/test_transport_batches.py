"""Batches of the transport's writes over real sockets: coalesced requests, merged and split reads."""
from __future__ import annotations

import asyncio

from diameter.message import Message
from diameter.node.aio import transport
from diameter.node.protocol.constants import DIAMETER_SUCCESS

from .aio_helpers import RawPeer, ccr, client, server
from .test_write_batching import aio, raw_server


def _record_writes(proto) -> list[int]:
    """The number of messages of each write the connection makes."""
    writes: list[int] = []
    write_frames = proto.write_frames

    def recording(frames: list[bytes]) -> None:
        writes.append(len(frames))
        write_frames(frames)
    proto.write_frames = recording
    return writes


async def _until(cond, what: str) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@aio
async def test_coalesced_requests_go_out_in_batches_of_write_batch():
    # coalesce_requests: even the iteration's first request waits, and a full batch
    # (WRITE_BATCH messages) is written at once like every other batch
    frames: list[bytes] = []
    srv = await raw_server(frames, [])
    cli = await client([("raw.test.realm", srv.sockets[0].getsockname()[1])], coalesce_requests=True)
    writes = _record_writes(cli.peers["raw.test.realm"].protocol)
    batch = transport.WRITE_BATCH
    n = 2 * batch + 5
    futs = [cli.request_future(ccr("client.test.realm", i), timeout=5) for i in range(n)]
    assert writes == [batch, batch]   # the full batches, before the iteration ends
    await _until(lambda: len(frames) >= n, "the requests")
    assert writes == [batch, batch, 5]   # the rest at the iteration's end
    assert [Message.from_bytes(f).cc_request_number for f in frames] == list(range(n))
    for f in futs:
        f.cancel()
    await cli.stop(0.2)
    srv.close()


@aio
async def test_messages_split_across_reads_and_merged_in_one_read_are_all_answered():
    srv = await server(clients=("raw.test.realm",))
    peer = await RawPeer.connect(srv.listen_ports[0])
    assert await peer.cer("raw.test.realm") == DIAMETER_SUCCESS
    reqs = [ccr("raw.test.realm", i) for i in range(40)]
    for i, r in enumerate(reqs):
        r.header.hop_by_hop_identifier = r.header.end_to_end_identifier = 2000 + i
    data = b"".join(r.as_bytes() for r in reqs)
    # cuts at odd places: inside headers, inside AVPs, several messages and a part in one piece
    cuts = [0, 1, 3, 19, 20, 21, 150, len(reqs[0].as_bytes()) * 3 + 7]
    cuts += list(range(cuts[-1] + 997, len(data), 997)) + [len(data)]
    for a, b in zip(cuts, cuts[1:]):
        peer.send(data[a:b])
        await peer.writer.drain()
        await asyncio.sleep(0.001)   # separate reads on the node's side
    got = []
    for _ in range(len(reqs)):
        answer = await peer.recv()
        assert answer is not None
        got.append(Message.from_bytes(answer).cc_request_number)
    assert got == list(range(len(reqs)))
    peer.writer.close()
    await srv.stop()
