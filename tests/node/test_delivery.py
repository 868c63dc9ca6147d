"""Session 14's compiled per-request steps: ``answer_arrived`` delivering the plain answer,
the transport's ``WriteBatch`` and the pending table's gone entries (compiled in a full build,
the same source otherwise)."""
from __future__ import annotations

import asyncio

import pytest

from diameter.node.errors import NodeError
from diameter.node.protocol import outbound
from diameter.node.protocol.counters import PeerStats
from diameter.node.protocol.events import AnswerReceived
from diameter.node.protocol.framing import WriteBatch
from diameter.node.protocol.pending import PendingTable

from .helpers import app_request


def _answer(hbh: int, flags: int = 0x40) -> bytes:
    req = bytearray(app_request(hbh=hbh, e2e=hbh))
    req[4] = flags
    return bytes(req)


def _pending(hbh: int, future) -> tuple[PendingTable, outbound.OutboundRequest]:
    table = PendingTable()
    entry = outbound.OutboundRequest(bytearray(app_request(hbh=hbh, e2e=hbh)), 4, 1.0, 31.0, future)
    table.add("peer", hbh, entry.deadline, entry)
    return table, entry


def test_plain_answer_is_decoded_into_its_future():
    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()
        table, _ = _pending(7, fut)
        stats = PeerStats()
        got = outbound.answer_arrived(table, "peer", AnswerReceived(None, _answer(7), 1.5), stats, 1.5, True)
        assert got is outbound.DELIVERED and len(table) == 0
        assert fut.result().header.hop_by_hop_identifier == 7
        cs = stats.commands[272]
        assert cs.answers_received == 1 and list(cs.latencies) == [0.5]
    finally:
        loop.close()


def test_cancelled_future_takes_nothing_and_bad_answers_are_its_error():
    loop = asyncio.new_event_loop()
    try:
        cancelled = loop.create_future()
        cancelled.cancel()
        table, _ = _pending(8, cancelled)
        ev = AnswerReceived(None, _answer(8), 2.0)
        assert outbound.answer_arrived(table, "peer", ev, PeerStats(), 2.0, True) is outbound.DELIVERED
        assert cancelled.cancelled()
        fut = loop.create_future()
        table, _ = _pending(9, fut)
        bad = bytearray(_answer(9))
        bad[25:28] = b"\x00\x00\x00"   # the first AVP's length: 0, shorter than its header
        outbound.answer_arrived(table, "peer", AnswerReceived(None, bytes(bad), 2.0), PeerStats(), 2.0, True)
        with pytest.raises(NodeError, match="cannot decode answer"):
            fut.result()
    finally:
        loop.close()


def test_answers_left_to_the_node_return_their_record():
    """The E bit (redirects), no ``deliver``, a raw request: the record comes back undelivered."""
    for flags, deliver, raw in ((0x60, True, False), (0x40, False, False), (0x40, True, True)):
        table, entry = _pending(3, "future")
        entry.raw = raw
        got = outbound.answer_arrived(table, "peer", AnswerReceived(None, _answer(3, flags), 1.0), PeerStats(),
                                      1.0, deliver)
        assert got is entry
    assert outbound.answer_arrived(PendingTable(), "peer", AnswerReceived(None, _answer(3), 1.0), PeerStats(),
                                   1.0, True) is None   # late or duplicate


def test_write_batch_is_full_at_its_message_or_byte_limit():
    b = WriteBatch(3, 100)
    assert not b.add(b"x" * 20) and not b.add(bytearray(20)) and len(b) == 2 and b.size == 40
    assert b.add(b"y" * 20)            # the third message
    assert b.take() == [b"x" * 20, bytearray(20), b"y" * 20] and len(b) == 0 and b.size == 0
    assert b.take() == []
    assert b.add(b"z" * 100)           # 100 bytes in one
    assert b.take() == [b"z" * 100]


def test_pending_replaced_and_answered_entries_leave_the_deadline_order():
    t = PendingTable()
    t.add("p", 1, 10.0, "first")
    t.add("p", 1, 20.0, "second")      # replaces the first: its deadline is gone
    t.add("p", 2, 30.0, "third")
    assert len(t) == 2 and t.next_deadline() == 20.0
    assert t.pop("p", 1) == "second" and t.next_deadline() == 30.0
    assert t.expire(25.0) == [] and t.expire(30.0) == [("p", 2, "third")] and len(t) == 0
    with pytest.raises(ValueError):
        t.add("p", 3, 1.0, None)
