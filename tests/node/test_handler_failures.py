"""Handlers that fail or answer badly cost their one request (5012), never the connection; duplicates
(RFC 6733 §6.1.2, T flag) always get an answer and the handler runs once."""
from __future__ import annotations

import asyncio
import functools
import logging
import threading

import pytest

from diameter.node import Node
from diameter.node.aio import RequestTimeout
from diameter.node.application import ThreadingApplication
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import (
    AVP_ERROR_MESSAGE, DIAMETER_SUCCESS, FLAG_PROXYABLE, FLAG_REQUEST, FLAG_RETRANSMIT)

from .aio_helpers import REALM, RawPeer, answer_for, ccr, client, server
from .helpers import app_request, result_of


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


def _bad_answer_on(n_bad: int, identity: str = "server.test.realm"):
    good = answer_for(identity)

    async def build(req):
        a = await good(req)
        if req.cc_request_number == n_bad:
            a.cc_request_number = "three"  # a str where an Unsigned32 belongs: cannot be encoded
        return a
    return build


def _plain(coro_handler):
    def handle(req):
        coro = coro_handler(req)
        try:
            coro.send(None)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("handler suspended")
    return handle


async def _eight_then_eight(srv_handler, caplog) -> None:
    srv = await server(handler=srv_handler)
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    with caplog.at_level(logging.ERROR, logger="diameter.node"):
        first = await asyncio.gather(*(cli.request(ccr("client.test.realm", i), timeout=5) for i in range(8)))
    assert [a.result_code for a in first] == [2001] * 3 + [5012] + [2001] * 4
    assert "cannot be encoded" in caplog.text and "client.test.realm;1;3" in caplog.text
    assert first[3].error_message == "answer could not be encoded"
    second = await asyncio.gather(*(cli.request(ccr("client.test.realm", 10 + i), timeout=5) for i in range(8)))
    assert [a.result_code for a in second] == [2001] * 8
    assert cli.peers["server.test.realm"].stats.connects == 1
    await cli.stop()
    await srv.stop()


@aio
async def test_unencodable_answer_from_plain_handler_costs_one_request(caplog):
    await _eight_then_eight(_plain(_bad_answer_on(3)), caplog)


@aio
async def test_unencodable_answer_from_coroutine_handler_costs_one_request(caplog):
    base = _bad_answer_on(3)

    async def handler(req):
        await asyncio.sleep(0.01)  # suspends: the answer is sent from a task
        return await base(req)
    await _eight_then_eight(handler, caplog)


class _BadThreaded(ThreadingApplication):
    def handle_request(self, message):
        a = self.generate_answer(message, 2001)
        a.cc_request_type = message.cc_request_type
        a.cc_request_number = message.cc_request_number
        if message.cc_request_number == 3:
            a.result_code = "abc"
        return a


@aio
async def test_unencodable_answer_from_threaded_application_gets_5012(caplog):
    node = Node("server.test.realm", REALM, ip_addresses=["127.0.0.1"], tcp_port=0)
    peer = node.add_peer("aaa://client.test.realm", REALM)
    node.add_application(_BadThreaded(4, is_auth_application=True), [peer])
    node.start()
    try:
        port = node._anode.listen_ports[0]
        cli = await client([("server.test.realm", port)])
        with caplog.at_level(logging.ERROR, logger="diameter.node"):
            answers = await asyncio.gather(*(cli.request(ccr("client.test.realm", i), timeout=5)
                                             for i in range(8)))
        assert [a.result_code for a in answers] == [2001] * 3 + [5012] + [2001] * 4
        assert "cannot be encoded" in caplog.text
        await cli.stop()
    finally:
        node.stop()


@aio
async def test_handler_that_never_answers_is_logged_with_command_and_session(caplog):
    async def silent(req):
        return None
    srv = await server(handler=silent, request_timeout=0.3)
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    with caplog.at_level(logging.WARNING, logger="diameter.node"):
        fut = cli.request_future(ccr("client.test.realm", 5), timeout=0.8)
        await asyncio.sleep(0.7)
    assert "request 272 (Session-Id client.test.realm;1;5) got no answer from its handler" in caplog.text
    assert not srv._unanswered
    with pytest.raises(RequestTimeout):
        await fut
    await cli.stop()
    await srv.stop()


@aio
async def test_handler_exception_text_is_not_sent_to_the_peer():
    def boom(req):
        return req.no_such_attribute
    srv = await server(handler=boom)
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    a = await cli.request(ccr("client.test.realm", 1), timeout=5)
    assert a.result_code == 5012 and a.error_message == "request handler failed"
    await cli.stop()
    await srv.stop()


# ---- duplicates ----------------------------------------------------------------

async def _raw_client(srv, identity="client.test.realm") -> RawPeer:
    raw = await RawPeer.connect(srv.listen_ports[0])
    assert await raw.cer(identity) == DIAMETER_SUCCESS
    return raw


def _hbh(data: bytes) -> int:
    return int.from_bytes(data[12:16], "big")


@aio
async def test_copy_arriving_while_the_first_is_handled_gets_the_answer():
    calls: list = []
    srv = await server(handler=answer_for("server.test.realm", calls, delay=0.3))
    raw = await _raw_client(srv)
    raw.send(app_request(hbh=1, e2e=77))
    await asyncio.sleep(0.05)
    raw.send(app_request(hbh=2, e2e=77, flags=FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT))
    a1, a2 = await raw.recv(), await raw.recv()
    assert sorted([_hbh(a1), _hbh(a2)]) == [1, 2]
    assert result_of(a1) == result_of(a2) == 2001 and a1[16:] == a2[16:]
    assert len(calls) == 1
    raw.close()
    await srv.stop()


@aio
async def test_copy_on_a_new_connection_after_the_first_dropped_gets_the_answer():
    calls: list = []
    srv = await server(handler=answer_for("server.test.realm", calls, delay=0.3))
    raw = await _raw_client(srv)
    raw.send(app_request(hbh=1, e2e=78))
    await asyncio.sleep(0.05)
    raw.close()  # the first connection drops while the handler runs
    await asyncio.sleep(0.05)
    raw2 = await _raw_client(srv)
    raw2.send(app_request(hbh=5, e2e=78, flags=FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT))
    a = await raw2.recv_app()
    assert _hbh(a) == 5 and result_of(a) == 2001
    # and a later copy gets the cached answer at once
    raw2.send(app_request(hbh=6, e2e=78, flags=FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT))
    b = await raw2.recv_app()
    assert _hbh(b) == 6 and result_of(b) == 2001
    assert len(calls) == 1
    raw2.close()
    await srv.stop()


@aio
async def test_retransmission_after_a_failed_handler_gets_the_5012_answer():
    calls: list = []

    def failing(req):
        calls.append(req)
        raise RuntimeError("database down")
    srv = await server(handler=failing)
    raw = await _raw_client(srv)
    raw.send(app_request(hbh=1, e2e=79))
    a = await raw.recv()
    assert result_of(a) == 5012
    raw.send(app_request(hbh=2, e2e=79, flags=FLAG_REQUEST | FLAG_PROXYABLE | FLAG_RETRANSMIT))
    b = await raw.recv(timeout=2)
    assert _hbh(b) == 2 and result_of(b) == 5012
    assert len(calls) == 1
    assert A.find(b, AVP_ERROR_MESSAGE) == b"request handler failed"
    raw.close()
    await srv.stop()


def test_threaded_handler_failure_is_answered_once():
    done = threading.Event()

    class Failing(ThreadingApplication):
        def handle_request(self, message):
            done.set()
            raise ValueError("nope")

    async def run():
        node = Node("server.test.realm", REALM, ip_addresses=["127.0.0.1"], tcp_port=0)
        peer = node.add_peer("aaa://client.test.realm", REALM)
        node.add_application(Failing(4, is_auth_application=True), [peer])
        node.start()
        try:
            cli = await client([("server.test.realm", node._anode.listen_ports[0])])
            a = await cli.request(ccr("client.test.realm", 1), timeout=5)
            assert a.result_code == 5012 and done.is_set()
            await cli.stop()
        finally:
            node.stop()
    asyncio.run(asyncio.wait_for(run(), 60))
