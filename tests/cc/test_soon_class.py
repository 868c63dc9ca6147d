"""A handler's ``soon_class``: the server builds that `SoonAnswer` subclass for each request
on the ``answer_soon`` path and hands it over as ``done`` (one object per request for both)."""
from __future__ import annotations

import asyncio

import pytest

from diameter.cc import CCResult, CreditControlServer, Grant, Units
from diameter.cc.server import SOON_SLOTS, SoonAnswer, _Soon
from diameter.cc.wire import parse_cca
from tests.cc.test_server_loopback import ccr, run
from tests.node.aio_helpers import client, server


class Pending(SoonAnswer):
    """The handler's own per-request object: the server's slots and one of its own."""

    __slots__ = (*SOON_SLOTS, "key", "note")


class Later:
    """Answers every CCR-I/U/T on the next loop turn through ``done``, kept as its own object."""

    soon_class = Pending

    def __init__(self) -> None:
        self.seen: list[SoonAnswer] = []

    def answer_soon(self, req, done):
        done.note = req.request_number  # the handler's slot on the server's object
        self.seen.append(done)
        res = CCResult(grants=[Grant(m.rating_group, granted=Units(total_octets=1000)) for m in req.mscc])
        asyncio.get_running_loop().call_soon(done, res, None)
        return None

    async def on_event(self, req):
        return CCResult()


def test_the_server_builds_the_handlers_soon_class():
    async def main():
        h = Later()
        s = await server(handler=None)
        srv = CreditControlServer(s, h)
        c = await client([("server.test.realm", s.listen_ports[0])])
        try:
            assert srv._soon_class is Pending
            for n, kind in enumerate((1, 2, 3)):
                a = parse_cca(await c.request(ccr(n, kind, used=10 if n else None)))
                assert a.result_code == 2001 and a.request_number == n
                assert a.grants[0].granted == Units(total_octets=1000)
            assert [type(p) for p in h.seen] == [Pending] * 3
            assert [p.note for p in h.seen] == [0, 1, 2]
            assert [p.key for p in h.seen] == [("client.test.realm;1;1", n) for n in range(3)]
            assert all(p.dropped and p.server is srv for p in h.seen) and srv.sessions == {}
        finally:
            await c.stop(1)
            await srv.close()
            await s.stop(1)
    run(main())


def test_a_soon_class_must_be_a_soon_answer_with_the_servers_slots():
    class NoKey(SoonAnswer):
        __slots__ = SOON_SLOTS

    async def main():
        s = await server(handler=None)
        try:
            for bad, message in ((dict, "not a SoonAnswer"), (NoKey, "no slot for key")):
                h = Later()
                h.soon_class = bad
                with pytest.raises(TypeError, match=message):
                    CreditControlServer(s, h)
            plain = Later()
            plain.soon_class = None  # not offered: the server's own
            assert CreditControlServer(s, plain)._soon_class is _Soon
        finally:
            await s.stop(1)
    run(main())
