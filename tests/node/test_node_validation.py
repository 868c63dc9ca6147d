"""The node validates requests for local applications (RFC 6733 7) and per-peer dialects.

A raw client on a loopback socket sends hand-built requests; the answers are
read back as bytes.
"""
from __future__ import annotations

import asyncio

import pytest

from diameter.message.avp.grouped import InInformation, ServiceInformation
from diameter.node.aio import DiameterNode
from diameter.node.protocol import avps as A
from diameter.node.protocol.constants import (
    AVP_AUTH_APPLICATION_ID, AVP_ERROR_MESSAGE, AVP_ERROR_REPORTING_HOST, AVP_FAILED_AVP,
    AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_ORIGIN_STATE_ID, AVP_RESULT_CODE, AVP_SESSION_ID,
    DIAMETER_INVALID_AVP_BITS, DIAMETER_MISSING_AVP, DIAMETER_SUCCESS, FLAG_ERROR, FLAG_PROXYABLE,
    FLAG_REQUEST, FLAG_RETRANSMIT)
from diameter.node.protocol.routing import RouteAction
from diameter.validation.dialects import DialectError, dialect, load_dialect_file

from interop.wire import RawMessage, parse_avps, parse_message
from .aio_helpers import REALM, RawPeer, answer_for, ccr
from .helpers import app_request
from .test_aio_node import aio

SERVER = "server.test.realm"
HUAWEI = 2011
IN_INFORMATION = 20300
ACCOUNT_QUERY_METHOD = 20346
V, M = 0x80, 0x40
AVP_USER_NAME = 1
DIAMETER_AVP_UNSUPPORTED, DIAMETER_INVALID_AVP_VALUE, DIAMETER_AVP_NOT_ALLOWED = 5001, 5004, 5008
DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, DIAMETER_INVALID_AVP_LENGTH = 5009, 5014


async def serve(calls: list, clients=("raw.test.realm",), dialects=None, **kw) -> DiameterNode:
    app_kw = kw.pop("app_kw", {})
    node = DiameterNode(SERVER, REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                        ip_addresses=["127.0.0.1"], **kw)
    node.add_application(4, answer_for(SERVER, calls), **app_kw)
    for c in clients:
        node.add_peer(c, dialect=(dialects or {}).get(c))
    await node.start()
    return node


async def raw_peer(node: DiameterNode, identity: str = "raw.test.realm") -> RawPeer:
    raw = await RawPeer.connect(node.listen_ports[0])
    assert await raw.cer(identity) == DIAMETER_SUCCESS
    return raw


def ccr_bytes(drop=(), extra=(), hbh=1, origin="raw.test.realm") -> bytes:
    """A valid CCR (app_request) without the AVP codes in ``drop``, plus ``extra``."""
    good = app_request(origin=origin, hbh=hbh, e2e=hbh)
    kept = [a for a in _split(good) if int.from_bytes(a[:4], "big") not in drop]
    return A.message(FLAG_REQUEST | FLAG_PROXYABLE, 272, 4, hbh, hbh, kept + list(extra))


def _split(msg: bytes) -> list[bytes]:
    out, pos = [], 20
    while pos < len(msg):
        n = int.from_bytes(msg[pos + 5:pos + 8], "big")
        out.append(msg[pos:pos + ((n + 3) & ~3)])
        pos += (n + 3) & ~3
    return out


async def exchange(raw: RawPeer, request: bytes) -> RawMessage:
    raw.send(request)
    data = await raw.recv()
    assert data is not None, "connection closed instead of an answer"
    return parse_message(data)


def check_error(ans: RawMessage, request: bytes, result: int, *, e_bit: bool) -> list:
    """Common RFC 6733 7 checks; returns the Failed-AVP's members."""
    assert not ans.is_request and ans.command == 272 and ans.app_id == 4
    assert ans.hop_by_hop == int.from_bytes(request[12:16], "big")
    assert ans.end_to_end == int.from_bytes(request[16:20], "big")
    assert bool(ans.flags & FLAG_ERROR) is e_bit
    assert ans.avps[0].code == AVP_SESSION_ID  # Session-Id first (8.8)
    assert ans.one(AVP_SESSION_ID).data == A.find(request, AVP_SESSION_ID)
    assert ans.one(AVP_RESULT_CODE).u32() == result
    assert ans.one(AVP_ORIGIN_HOST).text() == SERVER
    assert ans.one(AVP_ORIGIN_REALM).text() == REALM
    assert ans.find(AVP_ERROR_REPORTING_HOST) == []  # this node is the origin (7.3)
    if not e_bit:  # a 5xxx answer is the command's answer: its required AVPs are there
        assert ans.one(AVP_AUTH_APPLICATION_ID).u32() == 4
        assert ans.one(416).u32() == 1 and ans.one(415).u32() == A.as_u32(A.find(request, 415))
    return parse_avps(ans.one(AVP_FAILED_AVP).data)


@aio
async def test_missing_required_avp_is_5005_with_example_failed_avp():
    calls: list = []
    node = await serve(calls)
    raw = await raw_peer(node)
    req = ccr_bytes(drop={415})  # CC-Request-Number
    ans = await exchange(raw, req)
    assert not ans.flags & FLAG_ERROR and ans.one(AVP_RESULT_CODE).u32() == DIAMETER_MISSING_AVP
    assert ans.find(415) == [] and ans.one(416).u32() == 1  # what the request had is copied
    failed = parse_avps(ans.one(AVP_FAILED_AVP).data)
    assert [(a.code, a.vendor, a.flags & M, a.data) for a in failed] == [(415, None, M, bytes(4))]
    assert "CC-Request-Number" in ans.one(AVP_ERROR_MESSAGE).text()
    assert calls == []
    # a valid request on the same connection still reaches the handler
    good = ccr_bytes(hbh=2)
    ans = await exchange(raw, good)
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
    raw.close()
    await node.stop()


@aio
async def test_too_many_unknown_m_bit_bad_value_bad_length_misplaced():
    calls: list = []
    node = await serve(calls)
    raw = await raw_peer(node)
    second_type = A.u32(416, 2)
    unknown_m = A.avp(64999, b"\x00\x01\x02\x03", vendor=0, mandatory=True)
    bad_utf8 = A.avp(AVP_USER_NAME, b"\xff\xfeabc")
    short_u32 = A.avp(AVP_ORIGIN_STATE_ID, b"\x00\x01")
    cases = [
        (ccr_bytes(extra=[second_type], hbh=11), DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, second_type),
        (ccr_bytes(extra=[unknown_m], hbh=12), DIAMETER_AVP_UNSUPPORTED, unknown_m),
        (ccr_bytes(extra=[bad_utf8], hbh=13), DIAMETER_INVALID_AVP_VALUE, bad_utf8),
        (ccr_bytes(extra=[short_u32], hbh=14), DIAMETER_INVALID_AVP_LENGTH, short_u32),
    ]
    for req, result, offender in cases:
        ans = await exchange(raw, req)
        failed = check_error(ans, req, result, e_bit=False)
        assert len(failed) == 1 and parse_avps(offender)[0] == failed[0], result
    # Session-Id not in its fixed first position: 5008, Failed-AVP holds it
    avps = _split(ccr_bytes(hbh=15))
    moved = A.message(FLAG_REQUEST | FLAG_PROXYABLE, 272, 4, 15, 15, avps[1:3] + avps[:1] + avps[3:])
    ans = await exchange(raw, moved)
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_AVP_NOT_ALLOWED and not ans.flags & FLAG_ERROR
    assert parse_avps(ans.one(AVP_FAILED_AVP).data)[0].code == AVP_SESSION_ID
    assert calls == []
    raw.close()
    await node.stop()


@aio
async def test_protocol_error_has_e_bit_and_generic_answer_body():
    calls: list = []
    node = await serve(calls)
    raw = await raw_peer(node)
    # Error-Message with the M bit, which its flag rules forbid: 3009 DIAMETER_INVALID_AVP_BITS
    bad_bits = A.avp(AVP_ERROR_MESSAGE, b"hello", mandatory=True)
    req = ccr_bytes(extra=[bad_bits], hbh=21)
    ans = await exchange(raw, req)
    failed = check_error(ans, req, DIAMETER_INVALID_AVP_BITS, e_bit=True)
    assert parse_avps(bad_bits) == failed
    assert ans.find(416) == [] and ans.find(AVP_AUTH_APPLICATION_ID) == []  # 7.2 answer-message
    assert calls == []
    raw.close()
    await node.stop()


@aio
async def test_optional_extras_are_accepted():
    calls: list = []
    node = await serve(calls)
    raw = await raw_peer(node)
    extras = [A.avp(64998, b"vendor junk", mandatory=False),          # unknown, no M bit
              A.avp(1234, b"\x00\x00\x00\x01", vendor=99999, mandatory=False),
              A.text(AVP_USER_NAME, "alice"), A.u32(AVP_ORIGIN_STATE_ID, 7)]
    ans = await exchange(raw, ccr_bytes(extra=extras, hbh=31))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
    raw.close()
    await node.stop()


@aio
async def test_retransmitted_invalid_request_gets_the_same_answer():
    calls: list = []
    node = await serve(calls)
    raw = await raw_peer(node)
    req = ccr_bytes(drop={461}, hbh=41)
    first = await exchange(raw, req)
    retry = bytearray(req)
    retry[4] |= FLAG_RETRANSMIT
    retry[12:16] = (42).to_bytes(4, "big")
    again = await exchange(raw, bytes(retry))
    assert again.hop_by_hop == 42 and again.avps == first.avps
    assert first.one(AVP_RESULT_CODE).u32() == DIAMETER_MISSING_AVP and calls == []
    raw.close()
    await node.stop()


@aio
async def test_validation_off_per_node_and_per_application():
    for kw in ({"validate": False}, {"app_kw": {"validate": False}}):
        calls: list = []
        node = await serve(calls, **kw)
        raw = await raw_peer(node)
        ans = await exchange(raw, ccr_bytes(extra=[A.avp(64999, b"x", mandatory=True)], hbh=51))
        assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1, kw
        raw.close()
        await node.stop()
    # node off, one application back on
    calls = []
    node = await serve(calls, validate=False, app_kw={"validate": True})
    raw = await raw_peer(node)
    ans = await exchange(raw, ccr_bytes(drop={415}, hbh=52))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_MISSING_AVP and calls == []
    raw.close()
    await node.stop()


@aio
async def test_relay_forwards_without_validating():
    calls: list = []
    srv = DiameterNode("server.other.realm", "other.realm", tcp_port=0, listen_addresses=["127.0.0.1"],
                       validate=False)
    srv.add_application(4, answer_for("server.other.realm", calls))
    srv.add_peer("relay.test.realm", realm=REALM)
    await srv.start()
    relay = DiameterNode("relay.test.realm", REALM, tcp_port=0, listen_addresses=["127.0.0.1"],
                         is_relay=True)
    relay.add_peer("raw.test.realm")
    relay.add_peer("server.other.realm", "other.realm", addresses=["127.0.0.1"],
                   port=srv.listen_ports[0], persistent=True)
    relay.add_route("other.realm", ["server.other.realm"], RouteAction.RELAY)
    await relay.start()
    await relay.wait_open("server.other.realm", 5)
    raw = await raw_peer(relay)
    odd = [A.avp(64999, b"agents pass this on", mandatory=True)]
    req = A.message(FLAG_REQUEST | FLAG_PROXYABLE, 272, 4, 61, 61,
                    _split(app_request(origin="raw.test.realm", dest_realm="other.realm"))[:4] + odd)
    ans = await exchange(raw, req)  # no CC-Request-Type etc. and an unknown M-bit AVP
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
    assert calls[0].find_avps((64999, 0))[0].value == b"agents pass this on"
    raw.close()
    await relay.stop()
    await srv.stop()


# ---- dialects -------------------------------------------------------------------------
def huawei_ccr(origin: str, n: int) -> bytes:
    """A Gy CCR as a Huawei PCEF sends it: IN-Information in Service-Information and at
    the top level, its Huawei AVPs with the M bit."""
    req = ccr(origin, n)
    req.service_information = ServiceInformation(
        in_information=InInformation(account_query_method=7))
    top = A.grouped(IN_INFORMATION, [A.avp(ACCOUNT_QUERY_METHOD, (1).to_bytes(4, "big"), vendor=HUAWEI)],
                    vendor=HUAWEI)
    assert top[4] & (V | M) == V | M
    wire = bytearray(req.as_bytes())
    wire += top
    wire[1:4] = len(wire).to_bytes(3, "big")
    wire[12:20] = n.to_bytes(4, "big") * 2
    return bytes(wire)


@aio
async def test_huawei_dialect_per_peer():
    calls: list = []
    node = await serve(calls, clients=("pcef.huawei.realm", "pgw.test.realm"),
                       dialects={"pcef.huawei.realm": "huawei"})
    huawei = await raw_peer(node, "pcef.huawei.realm")
    plain = await raw_peer(node, "pgw.test.realm")
    # the Huawei peer's CCR reaches the handler, with typed access to Huawei members
    ans = await exchange(huawei, huawei_ccr("pcef.huawei.realm", 1))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
    got = calls[0]
    assert got.service_information.in_information.account_query_method == 7
    top = got.find_avps((IN_INFORMATION, HUAWEI))
    assert len(top) == 1 and top[0].is_mandatory
    # the same CCR from a 3GPP peer: Huawei's M-bit AVPs are unrecognised there (RFC 6733 4.1)
    req = huawei_ccr("pgw.test.realm", 2)
    ans = await exchange(plain, req)
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_AVP_UNSUPPORTED and not ans.flags & FLAG_ERROR
    failed = parse_avps(ans.one(AVP_FAILED_AVP).data)
    assert [(a.code, a.vendor) for a in failed] == [(IN_INFORMATION, HUAWEI)]
    assert len(calls) == 1
    # without the M bit the 3GPP peer's Huawei extras are ignored, not rejected
    lenient = bytearray(req)
    pos = len(lenient) - len(A.grouped(IN_INFORMATION, [A.avp(ACCOUNT_QUERY_METHOD, bytes(4),
                                                               vendor=HUAWEI)], vendor=HUAWEI))
    lenient[pos + 4] &= ~M & 0xFF
    lenient[pos + 12 + 4] &= ~M & 0xFF
    lenient[12:20] = (3).to_bytes(4, "big") * 2
    ans = await exchange(plain, bytes(lenient))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 2
    huawei.close()
    plain.close()
    await node.stop()


def test_unknown_dialect_is_refused_at_configuration():
    node = DiameterNode(SERVER, REALM)
    with pytest.raises(DialectError, match="unknown dialect 'nokia-ish'"):
        node.add_peer("x.test.realm", dialect="nokia-ish")
    with pytest.raises(DialectError):
        DiameterNode(SERVER, REALM, dialect="nope")


@aio
async def test_dialect_from_a_data_file_can_require_an_avp(tmp_path):
    path = tmp_path / "strict-gy.toml"
    path.write_text('[dialect]\nname = "strict-gy"\nbase = "huawei"\n\n'
                    '[[grammars]]\ncommand = "CCR"\napplication = 4\n'
                    'members = "{ User-Name } 1*{ Subscription-Id }"\n')
    d = load_dialect_file(path)
    assert d.unrecognised_vendors == dialect("huawei").unrecognised_vendors == frozenset()
    calls: list = []
    node = await serve(calls, dialects={"raw.test.realm": "strict-gy"})
    raw = await raw_peer(node)
    ans = await exchange(raw, ccr_bytes(extra=[A.text(AVP_USER_NAME, "bob")], hbh=71))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_MISSING_AVP
    assert parse_avps(ans.one(AVP_FAILED_AVP).data)[0].code == 443  # Subscription-Id
    sub = A.grouped(443, [A.u32(450, 0), A.text(444, "41780000001")])
    ans = await exchange(raw, ccr_bytes(extra=[A.text(AVP_USER_NAME, "bob"), sub], hbh=72))
    assert ans.one(AVP_RESULT_CODE).u32() == DIAMETER_SUCCESS and len(calls) == 1
    raw.close()
    await node.stop()
    await asyncio.sleep(0)
