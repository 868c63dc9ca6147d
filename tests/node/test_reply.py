"""Handlers registered with ``reply=True`` (``handler(msg, reply)``): an answer given later
through the :class:`~diameter.node.aio.Reply` has a returned answer's guarantees (identifiers,
statistics, duplicates, 5012 on failure, in-flight and unanswered tracking), once."""
from __future__ import annotations

import asyncio
import logging

from diameter.node.aio import Reply
from diameter.node.protocol.constants import FLAG_PROXYABLE, FLAG_REQUEST, FLAG_RETRANSMIT

from .aio_helpers import server
from .helpers import app_request, result_of
from .test_local_answers import _answer_bytes, _ids, _raw, aio

COPY = FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT


async def _reply_server(handler, **kw):
    srv = await server(**kw)
    srv.add_application(4, handler, reply=True)
    return srv


async def _until(cond, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@aio
async def test_answer_later_gets_the_request_ids_is_counted_and_taken_once(caplog):
    replies: list[Reply] = []

    def handler(req, reply):
        replies.append(reply)
        return None
    srv = await _reply_server(handler)
    raw = await _raw(srv)
    for i in range(3):
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
    await _until(lambda: len(replies) == 3)
    proto = srv.peers["client.test.realm"].protocol
    assert proto.inflight == 3 and len(srv._replies) == 3 and not srv._unanswered
    assert not any(r.answered for r in replies) and replies[1].request[12:20] == app_request(
        hbh=101, e2e=501)[12:20]
    for r in reversed(replies):
        assert r.answer(_answer_bytes(2001)) is True
    got = [await raw.recv_app() for _ in range(3)]
    assert [_ids(a) for a in got] == [(102, 502), (101, 501), (100, 500)]
    assert [result_of(a) for a in got] == [2001] * 3
    assert proto.inflight == 0 and not srv._replies and all(r.answered for r in replies)
    cs = srv.peers["client.test.realm"].stats.commands[272]
    assert (cs.requests_received, cs.answers_sent, dict(cs.sent_result_classes)) == (3, 3, {"2xxx": 3})
    assert len(cs.processing) == 3
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        assert replies[0].answer(_answer_bytes(2002)) is False
        assert replies[0].fail(RuntimeError("late")) is False
    assert "answered twice" in caplog.text
    raw.send(app_request(hbh=9, e2e=9))
    await _until(lambda: len(replies) == 4)
    replies[3](_answer_bytes(2001))   # the object is callable: answer()
    assert _ids(await raw.recv_app()) == (9, 9)
    assert cs.answers_sent == 4
    raw.close()
    await srv.stop()


@aio
async def test_returned_answers_awaitables_failures_and_bad_answers():
    """What the handler returns answers at once (its reply is spent); an awaitable's value
    answers (None: the reply answers later); a raising handler, ``fail``, a failed or
    cancelled awaitable, and an answer that cannot be encoded answer 5012."""
    loop = asyncio.get_running_loop()
    replies: list[Reply] = []
    cancelled = loop.create_future()
    cancelled.cancel()

    async def later(reply, value):
        await asyncio.sleep(0.01)
        return value

    def raise_(exc):
        raise exc

    steps = iter([
        lambda r: _answer_bytes(2001),                      # 0: returned
        lambda r: raise_(RuntimeError("handler failed")),    # 1: raised
        lambda r: r.fail(ValueError("no account")),          # 2: fail() inside the handler
        lambda r: later(r, _answer_bytes(2002)),             # 3: a coroutine's value
        lambda r: later(r, None),                            # 4: a coroutine, then the reply
        lambda r: cancelled,                                 # 5: a cancelled future
        lambda r: r.answer(object()) and None,               # 6: cannot be encoded
        lambda r: r.answer(_answer_bytes(2001)) and _answer_bytes(2002),   # 7: answered, then returned
    ])

    def handler(req, reply):
        replies.append(reply)
        return next(steps)(reply)
    srv = await _reply_server(handler)
    raw = await _raw(srv)
    got = []
    for i in range(8):
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
        if i == 4:
            await _until(lambda: len(srv._replies) == 1)
            await asyncio.sleep(0.05)
            assert not replies[4].answered
            replies[4].answer(_answer_bytes(2003))
        got.append(await raw.recv_app())
    assert [_ids(a) for a in got] == [(100 + i, 500 + i) for i in range(8)]
    assert [result_of(a) for a in got] == [2001, 5012, 5012, 2002, 2003, 5012, 5012, 2001]
    assert all(r.answered for r in replies) and not srv._replies
    assert srv.peers["client.test.realm"].protocol.inflight == 0
    raw.close()
    await srv.stop()


@aio
async def test_copies_get_the_later_answer_and_a_closed_connection_drops_it():
    replies: list[Reply] = []

    def handler(req, reply):
        replies.append(reply)
    srv = await _reply_server(handler)
    raw = await _raw(srv)
    raw.send(app_request(hbh=1, e2e=42))
    await _until(lambda: len(replies) == 1)
    raw.send(app_request(hbh=2, e2e=42, flags=COPY))   # waits for the first copy's answer
    await asyncio.sleep(0.05)
    replies[0].answer(_answer_bytes(2001))
    a, b = await raw.recv_app(), await raw.recv_app()
    assert sorted([_ids(a), _ids(b)]) == [(1, 42), (2, 42)] and a[16:] == b[16:]
    raw.send(app_request(hbh=3, e2e=42, flags=COPY))   # answered from the cache
    assert _ids(await raw.recv_app()) == (3, 42) and len(replies) == 1
    raw.send(app_request(hbh=4, e2e=43))
    await _until(lambda: len(replies) == 2)
    raw.close()
    await _until(lambda: not srv.peers["client.test.realm"].is_open)
    assert replies[1].answer(_answer_bytes(2001)) is True   # dropped: no error
    assert not srv._replies
    raw = await _raw(srv)
    raw.send(app_request(hbh=5, e2e=43, flags=COPY))   # the dropped answer was kept for copies
    copy = await raw.recv_app()
    assert _ids(copy) == (5, 43) and result_of(copy) == 2001 and len(replies) == 2
    raw.close()
    await srv.stop()


@aio
async def test_a_reply_never_given_is_logged_after_the_request_timeout(caplog):
    replies: list[Reply] = []
    srv = await _reply_server(lambda req, reply: replies.append(reply), request_timeout=0.2)
    raw = await _raw(srv)
    raw.send(app_request(hbh=1, e2e=1))
    await _until(lambda: len(replies) == 1)
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        srv.handle_timers(srv.loop.time() + 1.0)
    assert "got no answer from its handler within 0 s" in caplog.text and "a.test.realm;1;1" in caplog.text
    assert not srv._replies
    replies[0].answer(_answer_bytes(2001))   # late, still sent
    assert _ids(await raw.recv_app()) == (1, 1)
    raw.close()
    await srv.stop()
