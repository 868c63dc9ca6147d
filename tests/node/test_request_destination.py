"""What a request records for failover and routing: its Destination-Realm/-Host.

``request_future`` reads a typed request's destination from its instance dict when the
attributes are the message layer's own and the request was built from attributes; every
other kind of request (decoded, bytes, a class with its own ``destination_realm``) takes
the general reads. Each must record the same strings.
"""
from __future__ import annotations

import asyncio
import functools
from typing import Any

from diameter.message import Message, MessageHeader
from diameter.message.commands.credit_control import CreditControlRequest

from .aio_helpers import REALM, answer_for, ccr, client, server


def aio(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 60))
    return wrapper


class _PropertyRealm(CreditControlRequest):
    """A user's request class whose Destination-Realm is computed."""

    @property
    def destination_realm(self) -> bytes:   # type: ignore[override]
        return b"prop.realm"

    @destination_realm.setter
    def destination_realm(self, value: Any) -> None:
        pass


def _entries(cli) -> list:
    return [e for _peer, _hbh, e in cli.pending.items()]


@aio
async def test_every_kind_of_request_records_its_destination():
    srv = await server(handler=answer_for("server.test.realm", delay=0.3))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    built = ccr("client.test.realm", 1, dest_realm="x.realm", dest_host="server.test.realm")
    str_realm = ccr("client.test.realm", 2)
    str_realm.destination_realm = "str.realm"          # identity attributes store bytes
    decoded = Message.from_bytes(ccr("client.test.realm", 3, dest_realm="d.realm",
                                     dest_host="server.test.realm").as_bytes())
    no_host = ccr("client.test.realm", 4, dest_realm=REALM)
    prop = _PropertyRealm()
    prop.session_id = "client.test.realm;1;5"
    prop.origin_host = b"client.test.realm"
    prop.origin_realm = REALM.encode()
    prop.auth_application_id = 4
    prop.cc_request_type = 1
    prop.cc_request_number = 5
    raw = ccr("client.test.realm", 6, dest_realm="raw.realm", dest_host="server.test.realm").as_bytes()
    futs = [cli.request_future(m) for m in (built, str_realm, decoded, no_host, prop)]
    futs.append(cli.request_future(raw, raw=True))
    futs.append(cli.request_future(ccr("client.test.realm", 7, dest_realm="p.realm"), peer="server.test.realm"))
    got = sorted((e.command, e.dest_realm, e.dest_host, e.raw) for e in _entries(cli))
    assert got == sorted([
        (272, "x.realm", "server.test.realm", False),
        (272, "str.realm", None, False),
        (272, "d.realm", "server.test.realm", False),
        (272, REALM, None, False),
        (272, "prop.realm", None, False),
        (272, "raw.realm", "server.test.realm", True),
        (272, "p.realm", "server.test.realm", False),
    ])
    answers = await asyncio.gather(*futs)
    assert [a.result_code for a in answers[:4]] == [2001] * 4
    assert answers[4].result_code == 5005    # a computed realm is not an AVP: DIAMETER_MISSING_AVP
    assert Message.from_bytes(answers[5]).result_code == 2001
    # the typed requests got their identifiers back
    assert built.header.hop_by_hop_identifier != 0 and built.header.end_to_end_identifier != 0
    assert len(cli.pending) == 0
    await cli.stop()
    await srv.stop()


class _OwnHeader(CreditControlRequest):
    """A user's request class with a ``header`` property (another object than the one in
    its dict): the node reads the property."""

    @property
    def header(self) -> Any:   # type: ignore[override]
        return self.__dict__["_mirror"]

    @header.setter
    def header(self, value: Any) -> None:
        self.__dict__["header"] = value


@aio
async def test_the_header_that_gets_the_identifiers_back():
    srv = await server(handler=answer_for("server.test.realm"))
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    own = _OwnHeader()
    own.__dict__["_mirror"] = MessageHeader(1, 0, 0xC0, 272, 4, 0, 0)   # what goes on the wire
    for name, value in vars(ccr("client.test.realm", 1, dest_realm=REALM)).items():
        if name != "header":
            own.__dict__[name] = value
    built = ccr("client.test.realm", 2, dest_realm=REALM)
    plain = Message.from_bytes(ccr("client.test.realm", 3, dest_realm=REALM).as_bytes(), plain_msg=True)
    answers = await asyncio.gather(*(cli.request(m) for m in (own, built, plain)))
    assert [a.result_code for a in answers] == [2001] * 3
    for h in (own.__dict__["_mirror"], built.__dict__["header"], plain.__dict__["header"]):
        assert h.hop_by_hop_identifier != 0 and h.end_to_end_identifier != 0
    assert own.__dict__["header"].hop_by_hop_identifier == 0   # not the property's
    await cli.stop()
    await srv.stop()
