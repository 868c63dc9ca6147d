"""The node reads time on its loop's clock: asyncio's own loop is read with ``time.monotonic``
directly (its ``time()`` is exactly that, behind a Python frame), any other loop through its
``time()``. A loop whose clock is far from ``time.monotonic`` shows a mix-up: latencies,
duplicate-cache expiries, pending deadlines and watchdog deadlines would be off by its offset."""
from __future__ import annotations

import asyncio
import time

import pytest

from diameter.node.aio.transport import BASE_LOOP_TIME

from .aio_helpers import answer_for, ccr, client, server

OFFSET = 1_000_000.0


class _OffsetLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is ``time.monotonic() + OFFSET``."""

    def time(self) -> float:
        return time.monotonic() + OFFSET


async def _pair_checks() -> None:
    loop = asyncio.get_running_loop()
    srv = await server(handler=answer_for("server.test.realm", delay=0.05))
    cli = await client([("server.test.realm", srv.listen_ports[0])], request_timeout=7.0)
    try:
        fut = cli.request_future(ccr("client.test.realm", 1))
        # in flight: the client's deadline is on the loop's clock
        deadline = cli.pending.next_deadline()
        assert deadline is not None and abs(deadline - (loop.time() + 7.0)) < 2.0
        answer = await asyncio.wait_for(fut, 5)
        assert answer.result_code == 2001
        for _ in range(3):   # answered at once: the handler does not suspend
            assert (await cli.request(ccr("client.test.realm", 2))).result_code == 2001
        now = loop.time()
        # the client's latencies: answer time minus send time, both on one clock
        lat = [x for cs in cli.peers["server.test.realm"].stats.commands.values() for x in cs.latencies]
        assert len(lat) == 4 and all(0 <= x < 2.0 for x in lat), lat
        # the server's duplicate cache: expiries are the loop's time of receipt plus the window
        entries = list(srv.dedup._entries.values())
        assert len(entries) == 4
        assert all(abs(e.expires - (now + srv.dedup.window)) < 2.0 for e in entries)
        assert all(e.answer for e in entries)
        # the connections' watchdogs were reset by the traffic, on the loop's clock
        for node, key in ((cli, "server.test.realm"), (srv, "client.test.realm")):
            wd = node.peers[key].protocol.conn.watchdog
            assert abs(wd.deadline - (now + wd.tw)) < wd.tw / 2 + 2.0
        # server's per-minute counters still count (they run on time.monotonic); the current
        # and the previous minute, as the exchange may straddle a minute's turn
        st = srv.peers["client.test.realm"].stats
        assert st.received_per_minute.last(2) == 4
    finally:
        await cli.stop()
        await srv.stop()


@pytest.mark.parametrize("factory", [asyncio.SelectorEventLoop, _OffsetLoop], ids=["asyncio", "offset-clock"])
def test_node_reads_its_loops_clock(factory):
    probe = factory()
    try:   # the plain loop takes the time.monotonic shortcut, the other one its own time()
        assert (type(probe).time is BASE_LOOP_TIME) == (factory is asyncio.SelectorEventLoop)
    finally:
        probe.close()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(asyncio.wait_for(_pair_checks(), 60))
