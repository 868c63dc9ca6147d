"""The asyncio node against a real Erlang/OTP diameter node (RFC 6733 base dictionary, base accounting):
both sides listen and connect at once (RFC 6733 §5.6.4 election), and after a failure both sides'
RFC 3539 REOPEN is respected, so no request is thrown away."""
from __future__ import annotations

import asyncio
import functools
import socket

import pytest

from diameter.message.commands import AccountingRequest
from diameter.node.aio import DiameterNode

from .erlang import ErlangPeer, have_erlang

pytestmark = pytest.mark.interop

REALM = "test.realm"
ERL = "erl.test.realm"


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 120))
    return wrapper


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _acr(origin: str, n: int) -> AccountingRequest:
    r = AccountingRequest()
    r.header.application_id = 3
    r.session_id = f"{origin};1;{n}"
    r.origin_host = origin.encode()
    r.origin_realm = REALM.encode()
    r.destination_realm = REALM.encode()
    r.accounting_record_type = 2
    r.accounting_record_number = n
    r.acct_application_id = 3
    return r


async def _both_connect(identity: str) -> tuple[DiameterNode, ErlangPeer]:
    if not have_erlang():
        pytest.fail("Erlang/OTP diameter missing: apt-get install erlang-base erlang-diameter")
    our_port, erl_port = _free_port(), _free_port()
    erl = await ErlangPeer(ERL, erl_port, our_port).start()
    node = DiameterNode(identity, REALM, tcp_port=our_port, listen_addresses=["127.0.0.1"],
                        ip_addresses=["127.0.0.1"], tw=6)
    node.add_application(3, acct=True)
    await node.start()
    # both sides connect at the same moment, each also listening
    await erl.command("connect")
    node.add_peer(ERL, addresses=["127.0.0.1"], port=erl_port, persistent=True, reconnect_wait=0.5)
    await node.wait_open(ERL, 20)
    # Erlang's watchdog drops requests until it has seen the connection up (its INITIAL state)
    await erl.wait_for("EVENT watchdog initial okay", 20)
    await asyncio.sleep(1.5)  # let any second connection finish its exchange
    return node, erl


def _open_connections(node: DiameterNode) -> int:
    return sum(1 for p in node.protocols if p.conn.is_open)


async def _four_requests(node: DiameterNode, identity: str, base: int) -> list:
    answers = await asyncio.gather(*(node.request(_acr(identity, base + i), timeout=5) for i in range(4)),
                                   return_exceptions=True)
    return [getattr(a, "result_code", repr(a)) for a in answers]


@pytest.mark.parametrize("identity", ["py.test.realm", "aaa.test.realm"])  # wins / loses the election
@aio
async def test_simultaneous_connect_leaves_one_connection(identity):
    node, erl = await _both_connect(identity)
    try:
        assert _open_connections(node) == 1
        assert await _four_requests(node, identity, 0) == [2001] * 4
        assert len(erl.events("REQUEST ACR")) == 4
    finally:
        await node.stop(2)
        await erl.stop()


@aio
async def test_requests_after_a_reconnect_are_not_thrown_away_by_a_peer_in_reopen():
    if not have_erlang():
        pytest.fail("Erlang/OTP diameter missing: apt-get install erlang-base erlang-diameter")
    identity = "py.test.realm"
    erl_port = _free_port()
    erl = await ErlangPeer(ERL, erl_port, _free_port()).start()  # listens only
    node = DiameterNode(identity, REALM, ip_addresses=["127.0.0.1"], tw=6)
    node.add_application(3, acct=True)
    node.add_peer(ERL, addresses=["127.0.0.1"], port=erl_port, persistent=True, reconnect_wait=0.2)
    await node.start()
    try:
        await node.wait_open(ERL, 20)
        await erl.wait_for("EVENT watchdog initial okay", 20)  # Erlang drops requests before this
        assert await _four_requests(node, identity, 0) == [2001] * 4
        for p in list(node.protocols):
            p.abort()  # a transport failure: on the next connection Erlang's watchdog is in REOPEN
        await asyncio.sleep(0.3)
        await node.wait_open(ERL, 40)
        assert any("reopen" in x for x in erl.events("EVENT watchdog")), erl.lines
        assert _open_connections(node) == 1
        assert await _four_requests(node, identity, 10) == [2001] * 4
        assert len(erl.events("REQUEST ACR")) == 8
    finally:
        await node.stop(2)
        await erl.stop()
