"""protocol/outbound.py's typed-request path (``filled``, ``open_message``, the header's
hop-by-hop identifier given by ``send``): compiled like its source, and the node's fast path
records what its general path records."""
from __future__ import annotations

import asyncio
import random
from typing import Any

from diameter.message import Message
from diameter.message.commands.credit_control import CreditControlRequest
from diameter.node.aio import DiameterNode
from diameter.node.protocol import outbound
from diameter.node.protocol.connection import SequenceCounter
from diameter.node.protocol.pending import PendingTable

from .aio_helpers import REALM, answer_for, ccr, server
from .test_outbound import _source


def _typed(rng: random.Random) -> CreditControlRequest:
    """A CCR with some of what fill_request completes missing, destinations as bytes, str
    or absent, zero or set end-to-end identifier and application id."""
    r = CreditControlRequest()
    for name, values in (("session_id", ["c;1;2", "", None]), ("origin_host", [b"c.realm", "c.realm", b"", None]),
                         ("origin_realm", [b"realm", "realm", None]),
                         ("destination_realm", [b"d.realm", "d.realm", b"", b"\xff\xfe", None]),
                         ("destination_host", [b"h.realm", "h.realm", None])):
        v = rng.choice(values)
        if v is not None:
            setattr(r, name, v)
    r.auth_application_id = rng.choice([4, 0])
    r.header.application_id = rng.choice([0, 4, 5])
    r.header.end_to_end_identifier = rng.choice([0, 0, 77])
    r.cc_request_type = 1
    r.cc_request_number = rng.randrange(5)
    return r


def _opened(mod, r: CreditControlRequest, start: int, has_host: bool, peer: Any):
    ticks = iter([3.5])
    e = mod.open_message(r, r.__dict__, SequenceCounter(start), lambda: next(ticks), 2.0, "fut", has_host, peer)
    if e is None:
        return None
    h = r.header
    return (bytes(e.data), e.app_id, e.command, e.end_to_end, e.fixed, e.sent_at, e.deadline, e.raw, e.future,
            e.dest_realm, e.dest_host, e.header is h, h.end_to_end_identifier, h.application_id)


def test_filled_and_open_message_agree_with_their_source():
    src = _source()
    rng = random.Random(11)
    seen = set()
    for _ in range(400):
        seed = rng.randrange(1 << 30)
        start, has_host = rng.choice([0, 9, 0xFFFFFFFF]), rng.random() < 0.7
        peer = rng.choice([None, None, "p.realm", b"p.realm"])
        out = []
        for mod in (outbound, src):
            r = _typed(random.Random(seed))
            out.append((mod.filled(r.__dict__), _opened(mod, r, start, has_host, peer)))
        assert out[0] == out[1]
        seen.add((out[0][0], out[0][1] is None))
    assert seen == {(True, False), (False, True)}   # both kinds came up


def test_open_message_takes_only_complete_requests_built_from_attributes():
    r = ccr("client.test.realm", 1, dest_host="server.test.realm")
    d = r.__dict__
    assert outbound.filled(d)
    e = outbound.open_message(r, d, SequenceCounter(0), lambda: 1.0, 3.0, None, True, None)
    assert (e.dest_realm, e.dest_host, e.sent_at, e.deadline, e.header) == (REALM, "server.test.realm", 1.0, 4.0,
                                                                            r.header)
    assert e.data[20:] == r.as_bytes()[20:]
    decoded = Message.from_bytes(r.as_bytes())                    # decoded from bytes: "_raw"
    assert outbound.open_message(decoded, decoded.__dict__, SequenceCounter(0), lambda: 1.0, 3.0, None, True,
                                 None) is None
    no_header = ccr("client.test.realm", 2)
    del no_header.__dict__["header"]
    assert outbound.open_message(no_header, no_header.__dict__, SequenceCounter(0), lambda: 1.0, 3.0, None, True,
                                 None) is None
    for missing in ("origin_host", "origin_realm", "session_id", "destination_realm"):
        m = ccr("client.test.realm", 3)
        m.__dict__.pop(missing, None)
        assert not outbound.filled(m.__dict__)


def test_the_header_gets_the_first_hop_by_hop_identifier_only():
    """A request failed over to another peer is sent again with a new hop-by-hop identifier:
    its header keeps the one it was first sent with (as before send wrote it)."""
    r = ccr("client.test.realm", 1)
    e = outbound.open_message(r, r.__dict__, SequenceCounter(0), lambda: 1.0, 3.0, None, False, None)
    table, counter = PendingTable(), SequenceCounter(40)
    first = outbound.send(e, "a", counter, table)
    assert r.header.hop_by_hop_identifier == first == 41 and e.header is None
    second = outbound.send(e, "b", counter, table)
    assert second == 42 and r.header.hop_by_hop_identifier == 41 and e.data[12:16] == (42).to_bytes(4, "big")
    assert e.tried == {"a", "b"}


class _General(DiameterNode):
    """A node whose own ``prepare`` sends every request down the general path."""

    def prepare(self, message: Any) -> bytearray:
        return super().prepare(message)


def test_fast_and_general_paths_record_the_same():
    async def run() -> list:
        got = []
        for cls in (DiameterNode, _General):
            srv = await server(handler=answer_for("server.test.realm"))
            cli = cls("client.test.realm", REALM, ip_addresses=["127.0.0.1"])
            cli.add_application(4)
            cli.add_peer("server.test.realm", addresses=["127.0.0.1"], port=srv.listen_ports[0], persistent=True)
            await cli.start()
            await cli.wait_open("server.test.realm", 5)
            try:
                reqs = [ccr("client.test.realm", 1, dest_host="server.test.realm"), ccr("client.test.realm", 2),
                        ccr("client.test.realm", 3, dest_realm="x.realm")]
                reqs[1].destination_realm = "str.realm"
                reqs[2].header.application_id = 0
                futs = [cli.request_future(reqs[0]), cli.request_future(reqs[1]),
                        cli.request_future(reqs[2], peer="server.test.realm", timeout=7.0)]
                entries = sorted((e.end_to_end for _k, _h, e in cli.pending.items()))
                rows = []
                for (k, h, e), r in zip(sorted(cli.pending.items(), key=lambda i: i[2].end_to_end), reqs):
                    assert e.end_to_end in entries
                    hd = r.header
                    rows.append((k, e.app_id, e.dest_realm, e.dest_host, round(e.deadline - e.sent_at, 6),
                                 e.header, hd.hop_by_hop_identifier == h, hd.end_to_end_identifier == e.end_to_end,
                                 hd.application_id, e.data[20:] == r.as_bytes()[20:]))
                answers = await asyncio.gather(*futs)
                assert [a.result_code for a in answers] == [2001] * 3
                got.append(rows)
            finally:
                await cli.stop()
                await srv.stop()
        return got

    fast, general = asyncio.run(asyncio.wait_for(run(), 60))
    assert fast == general
    assert [r[2:4] for r in fast] == [(REALM, "server.test.realm"), ("str.realm", None),
                                      ("x.realm", "server.test.realm")]
    assert all(r[5] is None and r[6] and r[7] and r[9] for r in fast) and fast[2][1] == fast[2][8] == 4
