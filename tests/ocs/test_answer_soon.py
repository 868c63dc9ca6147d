"""The callback path (`OcsFront.answer_soon`, `Engine.charge_then`, `SqliteStorage.transact_then`)
answers CCRs byte for byte as the coroutine path (the front's ``on_*`` methods) does."""

from __future__ import annotations

import asyncio

from diameter.cc.encode import CcrTemplate
from diameter.cc.wire import Usage
from diameter.cc import Units
from diameter.message import Message
from diameter.ocs import Target
from diameter.ocs.server import OcsServer, ServerConfig

from .netsupport import CLIENT, REALM, PeerConfig, ccr, parse_cca, start_client, start_server

MIB = 1 << 20


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def _mask(answer: bytes) -> bytes:
    """An answer without its hop-by-hop and end-to-end identifiers (the client's counters)."""
    return answer[:12] + bytes(8) + answer[20:]


def _raw(session: str, kind: int, number: int, **kw) -> bytes:
    t = CcrTemplate(session_id=session, origin_host=CLIENT, origin_realm=REALM, destination_realm=REALM,
                    service_context_id="32251@3gpp.org", subscription_ids=[(0, kw.pop("msisdn", "491700000001"))])
    return t.encode(kind, number, [Usage(1, requested=Units(total_octets=0) if kind != 3 else None,
                                         used=Units(total_octets=kw.pop("used")) if "used" in kw else None)], **kw)


async def _scenario(path: str, soon: bool, dialect: str | None) -> tuple[list[bytes], int, list[int]]:
    peers = [PeerConfig(CLIENT, dialect)] if dialect else []
    srv = OcsServer(ServerConfig(identity="ocs.example.net", realm=REALM, port=0, database=path, peers=peers))
    if not soon:  # the same front on its coroutine path
        srv.front.answer_soon = None
    await srv.start()
    c = None
    try:
        assert (srv.cc._soon is not None) is soon
        await srv.engine.create_account("alice", [(0, "491700000001")], amount=100)
        c = await start_client(srv)
        out: list[bytes] = []

        async def send(data: bytes | Message) -> None:
            msg = Message.from_bytes(data) if isinstance(data, bytes) else data
            ans = await c.request(msg)
            out.append(_mask(ans.as_bytes()))

        await send(_raw("s1", 1, 0))
        await send(_raw("s1", 2, 1, used=3 * MIB))
        await send(_raw("s1", 2, 1, used=3 * MIB, retransmit=True))  # from the server's answer cache
        srv.cc.core._answers.clear()
        await send(_raw("s1", 2, 1, used=3 * MIB, retransmit=True))  # from the engine's record
        await asyncio.gather(*(send(_raw(f"p{i}", 1, 0)) for i in range(8)))  # one batch
        # a copy while the first is being charged: it gets the first one's answer
        await asyncio.gather(send(_raw("d1", 1, 0)), send(_raw("d1", 1, 0, retransmit=True)))
        await send(_raw("s1", 2, 2, used=5 * MIB))  # the balance runs out: FUI
        await send(_raw("s1", 2, 3, used=5 * MIB))
        await send(_raw("s1", 3, 4, used=MIB))
        await send(_raw("s2", 1, 0, msisdn="999"))  # unknown subscriber
        r = ccr("s3", 1, 0, requested=0)
        r.cc_request_number = None  # refused before charging: 5005
        await send(r)
        r = ccr("s4", 1, 0, requested=0)
        r.cc_request_type = 9  # not a CC-Request-Type
        await send(r)
        await send(ccr("s5", 4, 0, requested=MIB, requested_action=0))  # an event: the coroutine path
        snap = await srv.engine.account(Target(name="alice"))
        audit = await srv.store.audit()
        assert audit.ok, audit
        await srv.store.close()  # the storage is gone: 5012 for the request, the server stays up
        await send(_raw("s6", 1, 0))
        codes = [parse_cca(Message.from_bytes(a)).result_code for a in out]
        return out, snap.balances[0].amount, codes
    finally:
        if c is not None:
            await c.stop(1)
        await srv.stop()


async def both_paths_answer_the_same(db_a: str, db_b: str, dialect: str | None) -> None:
    """The scenario on the callback path (database ``db_a``) and on the coroutine path
    (``db_b``): the same answers, byte for byte, and the same money left."""
    soon, left, codes = await _scenario(db_a, True, dialect)
    slow, left2, _ = await _scenario(db_b, False, dialect)
    assert soon == slow
    assert left == left2
    assert codes[0] == 2001 and 5030 in codes and 5005 in codes and codes[-1] == 5012
    assert len(set(soon[1:4])) == 1  # the retransmissions got the first answer
    assert soon[12] == soon[13]  # and so did the copy that came while it was charged


def test_callback_and_coroutine_paths_answer_the_same_bytes(tmp_path):
    run(both_paths_answer_the_same(str(tmp_path / "a.db"), str(tmp_path / "b.db"), None))


def test_huawei_answers_are_the_same_on_both_paths(tmp_path):
    async def main():
        soon, _, codes = await _scenario(str(tmp_path / "a.db"), True, "huawei")
        slow, _, _ = await _scenario(str(tmp_path / "b.db"), False, "huawei")
        assert soon == slow
        # Account-Change-Info (Huawei 20350... in a grouped vendor AVP) is there: longer answers
        plain, _, _ = await _scenario(str(tmp_path / "c.db"), True, None)
        assert len(soon[0]) > len(plain[0])
    run(main())


def test_too_busy_on_the_callback_path(tmp_path):
    async def main():
        srv = await start_server(str(tmp_path / "a.db"), max_in_progress=0)
        c = None
        try:
            assert srv.cc._soon is not None
            await srv.engine.create_account("alice", [(0, "491700000001")], amount=100)
            c = await start_client(srv)
            a = parse_cca(await c.request(ccr("s1", 1, 0, requested=0)))
            assert a.result_code == 3004
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())


def test_session_answers_are_encoded_from_the_outcome(tmp_path, monkeypatch):
    """The callback path hands most session answers to the server as encoded AVPs
    (`SoonAnswer.answered`), the rest (final units, refusals) as a CCResult: the bytes are
    the coroutine path's (the test above), and both ways are taken."""
    from diameter.cc import server as cc_server
    from diameter.ocs import front as ocs_front
    calls = {"answered": 0, "done": 0}
    answered, done = cc_server.SoonAnswer.answered, ocs_front._FrontSoon.answer

    def count_answered(self, code, avps):
        calls["answered"] += 1
        return answered(self, code, avps)

    def count_done(self, res, exc):
        calls["done"] += 1
        return done(self, res, exc)
    monkeypatch.setattr(cc_server.SoonAnswer, "answered", count_answered)
    monkeypatch.setattr(ocs_front._FrontSoon, "answer", count_done)
    _, _, codes = run(_scenario(str(tmp_path / "a.db"), True, None))
    assert calls["answered"] >= 10 and calls["done"] >= 2, calls
    assert codes[0] == 2001


def test_the_front_builds_its_charge_as_charge_init_does(tmp_path):
    """`OcsFront.answer_soon`'s `_FrontCharge` holds what `Charge.__init__` puts in a plain
    `Charge`, slot by slot, plus the front's own slots."""
    from diameter.cc.types import CCRequest, MsccRequest, RequestType
    from diameter.ocs import Engine, RequestKind, open_storage
    from diameter.ocs.engine import Charge
    from diameter.ocs.front import OcsFront
    from diameter.ocs.mapping import charge_request
    from diameter.ocs.store.base import Unit

    engine = Engine(open_storage(str(tmp_path / "x.db")), clock=lambda: 1234.5)
    front = OcsFront(engine)
    submitted = []
    front._store, front._submit = engine.store, submitted.append  # queue nothing: keep the unit
    reqs = [CCRequest("s;1", RequestType.UPDATE, 3, subscription_ids=[(0, "4917"), (1, "x@y")],
                      mscc=[MsccRequest(1, used=[Units(total_octets=5)])], peer="pgw"),
            CCRequest("s;2", RequestType.INITIAL, 0, subscription_ids=[], mscc=[MsccRequest(2)]),
            CCRequest("s;3", RequestType.TERMINATION, 9, subscription_ids=[(0, "4917"), (1, "x@y")])]
    for req in reqs:
        def done(res, exc):
            raise AssertionError("not called")
        assert front.answer_soon(req, done) is None
        c = submitted.pop()
        kind = {1: RequestKind.INITIAL, 2: RequestKind.UPDATE, 3: RequestKind.TERMINATION}[int(req.request_type)]
        want = Charge(engine, charge_request(req, kind))
        for slot in Unit.__slots__ + Charge.__slots__:
            got, exp = getattr(c, slot), getattr(want, slot)
            if slot == "decide":
                assert (got.req, got.tariff, got.now) == (c.req, exp.tariff, exp.now)
            elif slot == "req":
                assert vars(got) == vars(exp) if hasattr(got, "__dict__") else got == exp
            else:
                assert got == exp, slot
        assert (c.front, c.creq, c.kind, c.answer, c.answered) == (front, req, kind, done, None)
    assert reqs[0] is not reqs[2] and submitted == []


def test_the_servers_pending_answer_is_the_storages_unit(tmp_path):
    """With the front's ``soon_class``, the object the server builds for a request is the
    charge the storage queues: its key is the server's own tuple, and its answer is the
    committed outcome's."""
    from diameter.ocs.front import _FrontSoon

    async def main():
        srv = await start_server(str(tmp_path / "a.db"))
        c = None
        try:
            await srv.engine.create_account("alice", [(0, "491700000001")], amount=100)
            units = []
            submit = srv.store.submit_unit

            def keep(unit):
                units.append(unit)
                submit(unit)
            srv.store.submit_unit = keep
            c = await start_client(srv)
            a = parse_cca(Message.from_bytes((await c.request(Message.from_bytes(_raw("s1", 1, 0)))).as_bytes()))
            assert a.result_code == 2001
            (u,) = units
            assert type(u) is _FrontSoon and u.server is srv.cc and u.dropped and u.front is srv.front
            assert u.key == ("s1", 0) and u.creq.session_id == "s1" and u.req.session_id == "s1"
            assert ("s1", 0) in srv.cc.core._answers and not srv.cc.core._in_progress
        finally:
            if c is not None:
                await c.stop(1)
            await srv.stop()
    run(main())
