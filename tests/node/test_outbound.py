"""protocol/outbound.py (a request's header fix-ups and pending record; compiled with the node
core): the running module behaves like its source, and the node's request path uses it."""
from __future__ import annotations

import asyncio
import importlib.util
import random
from pathlib import Path

import pytest

from diameter.node import protocol
from diameter.node.aio.base import _Pending
from diameter.node.errors import NodeError
from diameter.node.protocol import avps as A
from diameter.node.protocol import outbound
from diameter.node.protocol.connection import SequenceCounter
from diameter.node.protocol.constants import (AVP_ACCT_APPLICATION_ID, AVP_AUTH_APPLICATION_ID,
                                              BASE_COMMANDS)
from diameter.node.protocol.pending import PendingTable

HERE = Path(protocol.__file__).resolve().parent


def _source():
    """protocol/outbound.py executed from its source (in the same package, so that it uses the
    running SequenceCounter and PendingTable)."""
    spec = importlib.util.spec_from_file_location("diameter.node.protocol._src_outbound", HERE / "outbound.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_outbound_runs_with_the_rest_of_the_node_core(assert_one_build):
    from diameter.node.protocol import pending
    assert_one_build([outbound, pending])


def _request(rng: random.Random) -> bytes:
    """An encoded request with random identifiers, application, command and AVPs (some of them
    with an Auth-/Acct-Application-Id, some 0 or absent), or a short buffer."""
    if rng.random() < 0.05:
        return rng.randbytes(rng.randrange(0, 20))
    avps = [A.text(263, "s;1")]
    for code in rng.sample([AVP_AUTH_APPLICATION_ID, AVP_ACCT_APPLICATION_ID], rng.randrange(3)):
        avps.append(A.u32(code, rng.choice([0, 4, 3, 0xFFFFFFFF])))
    if rng.random() < 0.1:
        avps.append(A.avp(AVP_AUTH_APPLICATION_ID, b"\x01\x02"))   # not 4 bytes: not a value
    rng.shuffle(avps)
    command = rng.choice([272, 271, 0xFFFFFF, 0, *BASE_COMMANDS])
    app = rng.choice([0, 0, 4, 0xFFFFFFFF])
    hbh, e2e = rng.choice([0, rng.randrange(1 << 32)]), rng.choice([0, 0, 1, 0xFFFFFFFF])
    return A.message(rng.choice([0x80, 0xC0, 0x00]), command, app, hbh, e2e, avps)


def _opened(mod, data: bytes, counter_start: int, now: float, timeout: float):
    counter = SequenceCounter(counter_start)
    fut = object()
    try:
        e = mod.open_request(data, counter, now, timeout, fut, now > 0.5)
    except NodeError as exc:
        return ("NodeError", str(exc), counter.value)
    assert e.future is fut and e.tried == set() and type(e.tried) is set
    assert type(e.data) is bytearray and (e.data[:8], e.data[12:16], e.data[20:]) == (data[:8], data[12:16], data[20:])
    return (bytes(e.data), e.app_id, e.command, e.end_to_end, e.fixed, e.sent_at, e.deadline, e.raw,
            e.dest_realm, e.dest_host, e.origin, e.redirects, counter.value)


def test_open_request_agrees_with_its_source():
    src = _source()
    rng = random.Random(9)
    for _ in range(2000):
        data = _request(rng)
        start = rng.choice([0, 5, 0xFFFFFFFE, 0xFFFFFFFF])   # wrapping counters: 0 is never given out
        now, timeout = rng.random(), rng.choice([0.0, 1.5, 30.0])
        assert _opened(outbound, data, start, now, timeout) == _opened(src, data, start, now, timeout)


def test_open_request_completes_the_header():
    req = A.message(0x80, 272, 0, 7, 0, [A.text(263, "s;1"), A.u32(AVP_ACCT_APPLICATION_ID, 3)])
    e = outbound.open_request(req, SequenceCounter(41), 1.0, 2.0, None, False)
    assert (e.app_id, e.end_to_end, e.command, e.deadline) == (3, 42, 272, 3.0)
    assert e.fixed == outbound.SET_END_TO_END | outbound.SET_APPLICATION
    assert e.data[8:12] == (3).to_bytes(4, "big") and req[8:12] == bytes(4)   # the caller's bytes: as they were
    table = PendingTable()
    hbh = outbound.send(e, "p", SequenceCounter(99), table)
    assert (hbh, e.data[12:20]) == (100, (100).to_bytes(4, "big") + (42).to_bytes(4, "big"))
    assert table.pop("p", 100) is e and e.tried == {"p"}
    # set already: kept; a base command keeps application 0
    req = A.message(0x80, 280, 0, 7, 9, [A.u32(AVP_AUTH_APPLICATION_ID, 4)])
    e = outbound.open_request(req, SequenceCounter(41), 1.0, 2.0, None, False)
    assert (e.app_id, e.end_to_end, e.fixed) == (0, 9, 0)
    assert outbound.OutboundRequest(bytearray(req), 0, 0.0, 1.0).end_to_end == 9   # read from its data
    with pytest.raises(NodeError, match="shorter than a Diameter header"):
        outbound.open_request(bytes(19), SequenceCounter(1), 0.0, 1.0, None, False)


def test_send_agrees_with_its_source():
    src = _source()
    rng = random.Random(3)
    for _ in range(300):
        start, key = rng.choice([0, 7, 0xFFFFFFFF]), rng.choice(["a", "b.realm"])
        out = []
        for mod in (outbound, src):
            entry = outbound.OutboundRequest(bytearray(A.message(0x80, 272, 4, 0, 5, [])), 4, 0.0, 9.5, command=272)
            table, counter = PendingTable(), SequenceCounter(start)
            hbh = mod.send(entry, key, counter, table)
            assert table.pop(key, hbh) is entry
            out.append((hbh, bytes(entry.data), entry.tried, counter.value, len(table)))
        assert out[0] == out[1]
        assert out[0][1][12:16] == out[0][0].to_bytes(4, "big") and out[0][2] == {key}


def test_outbound_record_has_the_pending_record_fields():
    """The node treats both records alike (failover, redirects, timeouts, relayed answers)."""
    a = outbound.OutboundRequest(bytearray(20), 4, 1.0, 2.0)
    b = _Pending(bytearray(20), 4, 1.0, 2.0)
    names = ("data", "app_id", "sent_at", "deadline", "future", "raw", "dest_realm", "dest_host", "origin",
             "tried", "redirects", "command")
    assert [getattr(a, n) for n in names] == [getattr(b, n) for n in names]
    assert a.tried is not outbound.OutboundRequest(bytearray(20), 4, 1.0, 2.0).tried


def test_typed_request_header_gets_the_identifiers_it_was_sent_with():
    from .aio_helpers import client, server

    async def run():
        from diameter.message.commands import CreditControlRequest
        srv = await server()
        cli = await client([("server.test.realm", srv.listen_ports[0])], request_timeout=5.0)
        try:
            req = CreditControlRequest()
            req.auth_application_id = 4
            req.header.application_id = 0   # taken from the AVPs
            req.service_context_id = "x"
            req.cc_request_type = 1
            req.cc_request_number = 0
            fut = cli.request_future(req)
            (key, hbh, entry), = cli.pending.items()
            assert key == "server.test.realm"
            assert type(entry) is outbound.OutboundRequest
            h = req.header
            assert (h.hop_by_hop_identifier, h.end_to_end_identifier, h.application_id) == (
                hbh, entry.end_to_end, 4)
            assert entry.data[12:20] == hbh.to_bytes(4, "big") + entry.end_to_end.to_bytes(4, "big")
            assert entry.dest_realm == "test.realm" and entry.dest_host is None
            await fut
        finally:
            await cli.stop()
            await srv.stop()
    asyncio.run(asyncio.wait_for(run(), 60))
