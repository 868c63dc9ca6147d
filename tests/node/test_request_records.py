"""The request path's records in the node's compiled core: the pending table's deadline
order on in-order answers, an outbound request's tried peers (kept without a set until asked
for) and a received answer's Result-Code class; compiled modules agree with their source."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

from diameter.node import protocol
from diameter.node.protocol import avps as A
from diameter.node.protocol import inbound, outbound, pending
from diameter.node.protocol.connection import SequenceCounter

HERE = Path(protocol.__file__).resolve().parent


def _source(name: str):
    """A fresh copy of ``diameter.node.protocol.<name>`` executed from its .py file."""
    spec = importlib.util.spec_from_file_location(f"diameter.node.protocol._rec_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_in_order_answers_keep_the_deadline_order_short():
    """Answers in the order of their requests move the queue's head: the order holds about
    what is pending (no rebuild of thousands of answered deadlines), in both builds."""
    for mod in (pending, _source("pending")):
        t = mod.PendingTable()
        sizes = []
        for i in range(5000):
            t.add("p", i, 10.0 + i, i)
            if i >= 16:
                assert t.pop("p", i - 16) == i - 16
            sizes.append(t.heap_size)
        assert len(t) == 16 and max(sizes) <= 17
        assert t.next_deadline() == 10.0 + 5000 - 16
        # an answer out of order leaves its deadline until the head reaches it
        assert t.pop("p", 4990) == 4990 and t.heap_size == 16
        for hbh in range(4984, 4990):
            t.pop("p", hbh)
        assert t.heap_size == 9 and len(t) == 9   # the head moved past 4984..4990
        assert [e[1] for e in t.expire(1e9)] == [*range(4991, 5000)]
        assert len(t) == 0 and t.heap_size == 0


def test_pending_agrees_with_its_source_on_mostly_ordered_answers():
    src = _source("pending")
    tables = [pending.PendingTable(), src.PendingTable()]
    rng = random.Random(5)
    sent, nxt = [], 0
    for step in range(6000):
        if not sent or rng.random() < 0.52:
            peer, deadline = rng.choice(["a", "b"]) if step % 97 == 0 else "a", step * 0.01 + rng.random() * 0.02
            res = [t.add(peer, nxt, deadline, nxt) for t in tables]
            sent.append(nxt)
            nxt += 1
        else:   # mostly the oldest, sometimes another one, sometimes an unknown one
            r = rng.random()
            hbh = sent.pop(0) if r < 0.8 else sent.pop(rng.randrange(len(sent))) if r < 0.97 else -1
            res = [t.pop("a", hbh) for t in tables]
        if step % 500 == 499:
            res = [(t.expire(step * 0.01 - 1.0), t.next_deadline()) for t in tables]
            sent = [h for h in sent if any(h == e[1] for e in tables[0].items())]
        assert res[0] == res[1]
        assert (len(tables[0]), tables[0].heap_size) == (len(tables[1]), tables[1].heap_size)
        assert sorted(tables[0].items()) == sorted(tables[1].items())


def _tried(mod) -> list:
    table, counter = pending.PendingTable(), SequenceCounter(7)
    first = mod.OutboundRequest(bytearray(20), 4, 1.0, 2.0)
    once = mod.open_request(bytes(20), counter, 1.0, 5.0, None, False)
    mod.send(once, "a", counter, table)
    twice = mod.open_request(bytes(20), counter, 1.0, 5.0, None, False)
    mod.send(twice, "a", counter, table)
    mod.send(twice, "b", counter, table)
    later = mod.open_request(bytes(20), counter, 1.0, 5.0, None, False)
    mod.send(later, "a", counter, table)
    later.tried.add("c")   # the set made on demand is the one kept
    later.tried.discard("a")
    given = mod.OutboundRequest(bytearray(20), 4, 1.0, 2.0, tried={"x"})
    given.add_tried("y")
    replaced = mod.OutboundRequest(bytearray(20), 4, 1.0, 2.0)
    replaced.tried = {"z"}
    return [first.tried, once.tried, twice.tried, later.tried, given.tried, replaced.tried,
            type(once.tried).__name__, first.tried is first.tried]


def test_tried_peers_are_a_set_when_asked_for_in_both_builds():
    for res in (_tried(outbound), _tried(_source("outbound"))):
        assert res == [set(), {"a"}, {"a", "b"}, {"c"}, {"x", "y"}, {"z"}, "set", True]


#: Result-Code 2001 with the V bit and Vendor-Id 0
_VENDOR_0_RESULT = (268).to_bytes(4, "big") + b"\xc0" + (16).to_bytes(3, "big") + bytes(4) + (2001).to_bytes(4, "big")


def test_received_class_is_the_result_codes_class():
    src = _source("inbound")
    cases = [A.message(0, 272, 4, 1, 1, [A.avp(263, b"s"), A.avp(268, rc.to_bytes(4, "big"))])
             for rc in (1001, 2001, 3006, 4012, 5030, 9999, 10001, 123456)]
    cases += [A.message(0, 272, 4, 1, 1, [A.avp(263, b"s")]),                         # none
              A.message(0, 272, 4, 1, 1, [A.avp(268, b"\x00\x00\x07")]),             # not 4 bytes
              A.message(0, 272, 4, 1, 1, [_VENDOR_0_RESULT])]
    want = ["1xxx", "2xxx", "3xxx", "4xxx", "5xxx", "9xxx", "10xxx", "123xxx", None, None, "2xxx"]
    for mod in (inbound, src):
        assert [mod.received_class(m) for m in cases] == want
        assert [mod.received_class(m) for m in cases] == [
            None if mod.result_code(m) < 0 else mod.result_class(mod.result_code(m)) for m in cases]


class _Item:
    pass


def test_answered_entries_let_their_items_go():
    """The order keeps an answered entry's deadline a while, not its item (a request's
    data, future and answer): in order, out of order and for a failed peer."""
    import gc
    import weakref
    for mod in (pending, _source("pending")):
        t = mod.PendingTable()
        refs = []
        for i in range(40):
            item = _Item()
            refs.append(weakref.ref(item))
            t.add("p" if i < 30 else "q", i, 10.0 + i, item)
        del item
        for hbh in [*range(0, 10), *range(20, 25)]:   # in order, then out of order
            assert t.pop("p", hbh) is not None
        assert len(t.take_peer("q")) == 10
        gc.collect()
        assert [r() is None for r in refs] == [i < 10 or 20 <= i < 25 or i >= 30 for i in range(40)]
        assert len(t) == 15 and t.heap_size >= 15
