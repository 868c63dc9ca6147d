"""RequestReceived / AnswerReceived (compiled with mypyc in a full build) carry their header's
fields read from the frame and the time they were received, and build the public Header tuple
only when asked for; the duplicate cache's copies wait through ``add_waiter``. Compiled and
source agree."""
from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

from diameter.node import protocol
from diameter.node.protocol import avps as A
from diameter.node.protocol import connection, dedup, events, inbound
from diameter.node.protocol.framing import Header, parse_header

from .helpers import app_request, caps, pump

HERE = Path(protocol.__file__).resolve().parent
FIELDS = ("length", "flags", "command_code", "application_id", "hop_by_hop_identifier", "end_to_end_identifier")


def _source(name: str):
    """A fresh copy of ``diameter.node.protocol.<name>`` executed from its .py file."""
    spec = importlib.util.spec_from_file_location(f"diameter.node.protocol._src_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


SRC = _source("connection")
SRC_EVENTS = _source("events")
SRC_DEDUP = _source("dedup")
SRC_INBOUND = _source("inbound")


def _frame(rng: random.Random) -> bytes:
    flags = rng.choice([0x80, 0xC0, 0x40, 0x00, 0xA0, 0xFF])
    avps = [A.u32(rng.choice([1, 263, 416]), rng.randrange(1 << 32)) for _ in range(rng.randrange(4))]
    return A.message(flags, rng.randrange(1 << 24), rng.randrange(1 << 32), rng.randrange(1 << 32),
                     rng.randrange(1 << 32), avps)


def test_events_read_the_header_fields_like_parse_header():
    rng = random.Random(16)
    for _ in range(2000):
        f = _frame(rng)
        h = parse_header(f)
        for mod in (events, SRC_EVENTS):
            for cls in (mod.RequestReceived, mod.AnswerReceived):
                ev = cls(None, f, 2.5)
                assert tuple(getattr(ev, n) for n in FIELDS) == tuple(h)
                assert ev.is_request == h.is_request and ev.data is f and ev.received_at == 2.5
                built = ev.header
                assert type(built) is Header and built == h and ev.header is built   # built once
                given = cls(h, f, 2.5)
                assert given.header is h and tuple(getattr(given, n) for n in FIELDS) == tuple(h)
                assert given == ev and repr(given) == repr(ev) == \
                    f"{cls.__name__}(header={h!r}, data={f!r}, received_at=2.5)"


def test_event_header_can_be_replaced_and_compares_by_value():
    f = app_request(hbh=7, e2e=9)
    for mod in (events, SRC_EVENTS):
        ev = mod.RequestReceived(None, f, 0.0)
        other = Header(*parse_header(f)._replace(hop_by_hop_identifier=8))
        ev.header = other
        assert ev.header is other and ev.hop_by_hop_identifier == 8 and ev.end_to_end_identifier == 9
        assert ev != mod.RequestReceived(None, f, 0.0)           # headers differ
        assert mod.RequestReceived(None, f, 0.0) != mod.AnswerReceived(None, f, 0.0)   # kinds differ
        assert mod.RequestReceived(None, f, 0.0) != f


def test_open_connection_delivers_events_with_fields_compiled_and_source():
    for mod in (connection, SRC):
        a = mod.PeerConnection(caps("a.test.realm"), True, 0.0, rng=random.Random(1))
        b = mod.PeerConnection(caps("b.test.realm"), False, 0.0, rng=random.Random(2))
        a.start(0.0)
        b.start(0.0)
        pump(a, b, 0.0)
        assert a.is_open and b.is_open and not a.has_outgoing and not b.has_outgoing
        req = app_request(hbh=0x89ABCDEF, e2e=0xFEDCBA98, command=272)
        ans = bytearray(req)
        ans[4] &= 0x7F
        ev = b.receive_data(req + bytes(ans), 1.0)
        assert [type(e).__name__ for e in ev] == ["RequestReceived", "AnswerReceived"]
        assert (ev[0].command_code, ev[0].hop_by_hop_identifier, ev[0].end_to_end_identifier) == \
            (272, 0x89ABCDEF, 0xFEDCBA98)
        assert ev[0].received_at == ev[1].received_at == 1.0   # receive_data's now
        assert ev[0].header == parse_header(req) and ev[1].header == parse_header(bytes(ans))
        b._out.append(b"x" * 20)
        assert b.has_outgoing and b.take_outgoing() == [b"x" * 20] and not b.has_outgoing


def test_copies_in_progress_wait_once_each_up_to_the_limit():
    """``admit`` of copies while the first is handled: each copy is kept (up to MAX_WAITERS)
    and gets the answer with its own hop-by-hop identifier, compiled and source alike."""
    for dd, ib in ((dedup, inbound), (SRC_DEDUP, SRC_INBOUND)):
        cache = dd.DuplicateCache(30.0)
        req = app_request(hbh=1, e2e=5)
        host = ib.admit(cache, req, 0.0, "first")
        assert host == b"a.test.realm"
        for i in range(dd.MAX_WAITERS + 3):
            c = bytearray(req)
            c[12:16] = (100 + i).to_bytes(4, "big")
            assert ib.admit(cache, bytes(c), 1.0, f"w{i}") is None   # in progress: waits
        sent = []
        out, cls = ib.answered(cache, host, req, bytes(req[:4]) + b"\x00" + req[5:], 2.0,
                               lambda w, b, _s=sent: _s.append((w, int.from_bytes(b[12:16], "big"))))
        assert sent == [(f"w{i}", 100 + i) for i in range(dd.MAX_WAITERS)]
        assert cls is None and bytes(out[12:20]) == req[12:20]
        cache.add_waiter(host, 5, "late")        # answered: no waiter is kept any more
        cache.add_waiter(b"other", 5, "none")    # unknown request: nothing happens
        assert cache.record(host, 5, out, 3.0) == []
