"""What a handler returns for a local request reaches the peer the same way whatever its form
(an answer object, bytes, a bytearray, an awaitable, None and send_answer later), with the
request's identifiers, counted in the peer's statistics and kept for duplicates."""
from __future__ import annotations

import asyncio
import functools
import logging

from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import (AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_RESULT_CODE,
                                              AVP_SESSION_ID, DIAMETER_SUCCESS, FLAG_PROXYABLE,
                                              FLAG_REQUEST, FLAG_RETRANSMIT)

from .aio_helpers import REALM, RawPeer, server
from .helpers import app_request, result_of


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


def _answer_bytes(result: int | None, hbh: int = 0xDEAD, e2e: int = 0xBEEF) -> bytes:
    """A CCA with identifiers other than the request's (the node puts the request's in)."""
    avps = [A.text(AVP_SESSION_ID, "s;1;1"), A.text(AVP_ORIGIN_HOST, "server.test.realm"),
            A.text(AVP_ORIGIN_REALM, REALM), A.u32(258, 4)]
    if result is not None:
        avps.insert(1, A.u32(AVP_RESULT_CODE, result))
    return A.message(FLAG_PROXYABLE, 272, 4, hbh, e2e, avps)


async def _raw(srv) -> RawPeer:
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer("client.test.realm") == DIAMETER_SUCCESS
    return raw


def _ids(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[12:16], "big"), int.from_bytes(data[16:20], "big")


async def _exchange(handler, n: int = 3) -> tuple[list[bytes], object]:
    srv = await server(handler=handler)
    raw = await _raw(srv)
    for i in range(n):
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
    answers = [await raw.recv_app() for _ in range(n)]
    raw.close()
    await srv.stop()
    return answers, srv


@aio
async def test_bytes_bytearray_and_objects_get_the_request_ids_and_are_counted():
    good = _answer_bytes(2001)
    forms = {"bytes": lambda req: good, "bytearray": lambda req: bytearray(good)}

    async def obj(req):
        a = req.to_answer()
        a.session_id, a.result_code = req.session_id, 2001
        a.origin_host, a.origin_realm = b"server.test.realm", REALM.encode()
        return a

    def plain_object(req):
        coro = obj(req)
        try:
            coro.send(None)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("suspended")
    forms["object"] = plain_object
    for name, handler in forms.items():
        answers, srv = await _exchange(handler)
        assert [_ids(a) for a in answers] == [(100 + i, 500 + i) for i in range(3)], name
        assert [result_of(a) for a in answers] == [2001] * 3, name
        cs = srv.peers["client.test.realm"].stats.commands[272]
        assert (cs.requests_received, cs.answers_sent, dict(cs.sent_result_classes)) == (3, 3, {"2xxx": 3}), name
        assert len(cs.processing) == 3 and all(t >= 0 for t in cs.processing), name
        assert srv.peers["client.test.realm"].stats.sent_results_per_minute["2xxx"].last(2) == 3, name  # may straddle a minute


@aio
async def test_answer_without_result_code_is_sent_counted_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        answers, srv = await _exchange(lambda req: _answer_bytes(None), n=1)
    assert _ids(answers[0]) == (100, 500) and result_of(answers[0]) is None
    assert "has no Result-Code or Experimental-Result" in caplog.text
    cs = srv.peers["client.test.realm"].stats.commands[272]
    assert cs.answers_sent == 1 and not cs.sent_result_classes


@aio
async def test_plain_handler_returning_an_awaitable_is_answered_when_it_resolves():
    loop_futures: list[asyncio.Future] = []

    def handler(req):
        fut = asyncio.get_running_loop().create_future()
        loop_futures.append(fut)
        asyncio.get_running_loop().call_later(0.05, fut.set_result, _answer_bytes(2002))
        return fut
    srv = await server(handler=handler)
    raw = await _raw(srv)
    for i in range(2):   # the second: the awaitable's type is not taken for an answer's
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
    answers = [await raw.recv_app() for _ in range(2)]
    assert sorted(_ids(a) for a in answers) == [(100, 500), (101, 501)]
    assert [result_of(a) for a in answers] == [2002, 2002] and len(loop_futures) == 2
    raw.close()
    await srv.stop()


@aio
async def test_handler_futures_and_other_awaitables_are_answered_or_fail_with_5012():
    """The loop's own futures (taken as they are) and other awaitables (through
    ensure_future) both answer when done; a failed or cancelled future answers 5012."""
    loop = asyncio.get_running_loop()

    class Later:   # an awaitable that is neither a coroutine nor a future
        def __await__(self):
            yield from asyncio.sleep(0.01).__await__()
            return _answer_bytes(2001)

    failed = loop.create_future()
    failed.set_exception(RuntimeError("rating failed"))
    cancelled = loop.create_future()
    cancelled.cancel()
    ready = loop.create_future()
    ready.set_result(_answer_bytes(2002))
    results = iter([Later(), failed, cancelled, ready, asyncio.ensure_future(asyncio.sleep(0, _answer_bytes(2001)))])
    srv = await server(handler=lambda req: next(results))
    raw = await _raw(srv)
    got = []
    for i in range(5):
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
        got.append(await raw.recv_app())
    assert [_ids(a) for a in got] == [(100 + i, 500 + i) for i in range(5)]
    assert [result_of(a) for a in got] == [2001, 5012, 5012, 2002, 2001]
    assert not srv._unanswered
    raw.close()
    await srv.stop()


@aio
async def test_coroutine_handlers_that_return_suspend_or_raise_in_turn_all_answer_their_request():
    """Coroutine handlers take their first step at once (the node's runner); one that
    suspends carries on in a task while the next ones run, one that raises costs its request."""
    gate = asyncio.Event()
    steps = iter(["return", "suspend", "raise", "return", "raise-later", "suspend", "return"])

    async def handler(req):
        step = next(steps)
        if step in ("suspend", "raise-later"):
            await gate.wait()
            if step == "raise-later":
                raise RuntimeError("failed after suspending")
            return _answer_bytes(2002)
        if step == "raise":
            raise RuntimeError("failed at once")
        return _answer_bytes(2001)
    srv = await server(handler=handler)
    raw = await _raw(srv)
    for i in range(7):
        raw.send(app_request(hbh=100 + i, e2e=500 + i))
    first = [await raw.recv_app() for _ in range(4)]   # the ones that did not suspend
    gate.set()
    got = {_ids(a): result_of(a) for a in first + [await raw.recv_app() for _ in range(3)]}
    assert [_ids(a) for a in first] == [(100, 500), (102, 502), (103, 503), (106, 506)]
    assert got == {(100, 500): 2001, (101, 501): 2002, (102, 502): 5012, (103, 503): 2001,
                   (104, 504): 5012, (105, 505): 2002, (106, 506): 2001}
    assert not srv._unanswered
    raw.close()
    await srv.stop()


@aio
async def test_handler_returning_none_answers_later_with_send_answer():
    later: list = []

    def handler(req):
        later.append(req)
        return None
    srv = await server(handler=handler)
    raw = await _raw(srv)
    raw.send(app_request(hbh=7, e2e=70))
    await asyncio.sleep(0.05)
    assert len(srv._unanswered) == 1
    req = later[0]
    proto = srv.peers["client.test.realm"].protocol
    a = req.to_answer()
    a.session_id, a.result_code = req.session_id, 2001
    a.origin_host, a.origin_realm = b"server.test.realm", REALM.encode()
    srv.send_answer(proto, a)
    got = await raw.recv_app()
    assert _ids(got) == (7, 70) and result_of(got) == 2001 and not srv._unanswered
    raw.close()
    await srv.stop()


@aio
async def test_copy_of_an_inline_answered_request_gets_the_cached_answer():
    calls: list = []

    def handler(req):
        calls.append(req)
        return _answer_bytes(2001)
    srv = await server(handler=handler)
    raw = await _raw(srv)
    raw.send(app_request(hbh=1, e2e=42))
    first = await raw.recv_app()
    raw.send(app_request(hbh=2, e2e=42, flags=FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT))
    copy = await raw.recv_app()
    assert _ids(first) == (1, 42) and _ids(copy) == (2, 42) and first[16:] == copy[16:]
    assert len(calls) == 1
    raw.close()
    await srv.stop()


@aio
async def test_bytes_too_short_for_a_header_cost_their_request_only(caplog):
    calls: list = []

    def handler(req):
        calls.append(req)
        return b"\x01\x00\x00" if len(calls) == 1 else _answer_bytes(2001)
    with caplog.at_level(logging.ERROR, logger="diameter.node"):
        answers, srv = await _exchange(handler, n=2)
    assert [result_of(a) for a in answers] == [5012, 2001]
    assert [_ids(a) for a in answers] == [(100, 500), (101, 501)]
