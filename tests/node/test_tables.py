"""Pending table, duplicate cache, routing decisions, balancing and redirect cache."""
import random

import pytest

from diameter.node.protocol.constants import (
    DIAMETER_APPLICATION_UNSUPPORTED, DIAMETER_REALM_NOT_SERVED, DIAMETER_UNABLE_TO_DELIVER,
    REDIRECT_ALL_HOST, REDIRECT_DONT_CACHE, REDIRECT_REALM_AND_APPLICATION)
from diameter.node.protocol.dedup import IN_PROGRESS, DuplicateCache
from diameter.node.protocol.pending import PendingTable
from diameter.node.protocol.routing import (Balancer, Balancing, RedirectCache, Route, RouteAction,
                                            RoutingTable, decide)
from diameter.node.protocol.watchdog import Watchdog


def test_pending_pop_expire_and_failover():
    t = PendingTable()
    t.add("p1", 1, 10.0, "r1")
    t.add("p1", 2, 5.0, "r2")
    t.add("p2", 1, 7.0, "r3")
    assert len(t) == 3 and t.count("p1") == 2
    assert t.pop("p1", 1) == "r1" and t.pop("p1", 1) is None and t.pop("nobody", 1) is None
    assert t.next_deadline() == 5.0
    assert t.expire(6.0) == [("p1", 2, "r2")]
    assert t.take_peer("p2") == [(1, "r3")]
    assert t.expire(100.0) == [] and len(t) == 0 and t.next_deadline() is None


def test_pending_readd_same_hbh_uses_new_deadline():
    t = PendingTable()
    t.add("p", 1, 5.0, "old")
    t.pop("p", 1)
    t.add("p", 1, 50.0, "new")
    assert t.expire(10.0) == [] and t.pop("p", 1) == "new"


def test_duplicate_cache_window_and_bound():
    c = DuplicateCache(window=10, max_entries=3)
    assert c.check(b"h", 1, 0.0) is None
    assert c.check(b"h", 1, 1.0) is IN_PROGRESS
    c.record(b"h", 1, b"ANSWER", 1.0)
    assert c.check(b"h", 1, 2.0) == b"ANSWER"
    assert c.check(b"other", 1, 2.0) is None  # different Origin-Host
    assert c.check(b"h", 1, 20.0) is None     # outside the window: new request
    for i in range(10):
        c.check(b"h", 100 + i, 21.0)
    assert len(c) <= 3


def _decide(table, dest_realm="test.realm", dest_host=None, app=4, local_apps=(4,), usable=("p1", "p2"),
            balancer=None, exclude=frozenset()):
    return decide(local_host="me.test.realm", local_realm="test.realm", dest_host=dest_host,
                  dest_realm=dest_realm, app_id=app, local_apps=set(local_apps), table=table,
                  usable=lambda p, a: p in usable, balancer=balancer or Balancer(),
                  pending=lambda p: 0, exclude=exclude)


def test_decide_local_and_application_unsupported():
    t = RoutingTable()
    assert _decide(t).action is RouteAction.LOCAL
    assert _decide(t, dest_host="ME.test.realm").action is RouteAction.LOCAL
    assert _decide(t, app=99).result_code == DIAMETER_APPLICATION_UNSUPPORTED


def test_decide_realm_routing_relay_proxy_redirect():
    t = RoutingTable()
    t.add(Route("other.realm", RouteAction.RELAY, ["p1"]))
    t.add(Route("proxy.realm", RouteAction.PROXY, ["p2"], application_id=4))
    t.add(Route("redir.realm", RouteAction.REDIRECT, ["r1.redir.realm"]))
    assert _decide(t, dest_realm="other.realm") .peer == "p1"
    d = _decide(t, dest_realm="proxy.realm")
    assert d.action is RouteAction.PROXY and d.peer == "p2"
    assert _decide(t, dest_realm="proxy.realm", app=5).result_code == DIAMETER_REALM_NOT_SERVED
    d = _decide(t, dest_realm="redir.realm")
    assert d.action is RouteAction.REDIRECT and d.redirect_hosts == ["r1.redir.realm"]
    assert _decide(t, dest_realm="unknown.realm").result_code == DIAMETER_REALM_NOT_SERVED
    assert _decide(t, dest_realm="other.realm", usable=()).result_code == DIAMETER_UNABLE_TO_DELIVER
    assert _decide(t, dest_realm="other.realm", exclude=frozenset({"p1"})).result_code == DIAMETER_UNABLE_TO_DELIVER


def test_decide_default_route_and_destination_host():
    t = RoutingTable()
    t.add(Route("*", RouteAction.RELAY, ["p2"]))
    assert _decide(t, dest_realm="anywhere").peer == "p2"
    # Destination-Host of a directly connected peer wins over the realm table
    assert _decide(t, dest_realm="anywhere", dest_host="p1").peer == "p1"


def test_balancing_strategies():
    rr = Balancer(Balancing.ROUND_ROBIN)
    assert [rr.choose(["a", "b"], lambda p: 0) for _ in range(4)] == ["a", "b", "a", "b"]
    lp = Balancer(Balancing.LEAST_PENDING)
    assert lp.choose(["a", "b", "c"], {"a": 5, "b": 1, "c": 3}.get) == "b"
    w = Balancer(Balancing.WEIGHTED)
    picks = [w.choose(["a", "b"], lambda p: 0, {"a": 3, "b": 1}) for _ in range(400)]
    assert picks.count("a") == 300 and picks.count("b") == 100


def test_redirect_cache_usage_and_expiry():
    c = RedirectCache()
    c.store(["h1"], REDIRECT_REALM_AND_APPLICATION, 10, 0.0, realm="R", app=4)
    assert c.lookup(5.0, realm="r", app=4) == ["h1"]
    assert c.lookup(5.0, realm="r", app=5) is None
    assert c.lookup(11.0, realm="r", app=4) is None
    c.store(["h2"], REDIRECT_DONT_CACHE, 10, 0.0, realm="R", app=4)
    assert c.lookup(1.0, realm="r", app=4) is None
    c.store(["h3"], REDIRECT_ALL_HOST, 10, 0.0, realm="R", app=4, host="Srv")
    assert c.lookup(1.0, realm="x", app=9, host="srv") == ["h3"]


def test_watchdog_jitter_stays_within_two_seconds():
    rng = random.Random(5)
    for i in range(200):
        wd = Watchdog(float(i), tw=30, rng=rng)
        assert 28.0 <= wd.deadline - i <= 32.0


def test_pending_heap_stays_proportional_to_live_entries():
    t = PendingTable()
    for hbh in range(20_000):  # answered at once, deadlines far away: the heap must not keep them all
        t.add("p", hbh, 1000.0 + hbh, hbh)
        assert t.pop("p", hbh) == hbh
    t.add("p", 1, 5.0, "live")
    assert len(t) == 1 and t.heap_size <= 2 * len(t) + 1025
    assert t.next_deadline() == 5.0
    assert t.expire(6.0) == [("p", 1, "live")] and len(t) == 0


def test_pending_count_follows_add_pop_expire_and_take_peer():
    t = PendingTable()
    for i in range(10):
        t.add("a" if i % 2 else "b", i, float(i), i)
    assert len(t) == 10
    t.pop("a", 1)
    t.expire(2.0)  # 0 and 2 (b); 1 was popped
    assert len(t) == 7
    assert sorted(h for h, _ in t.take_peer("a")) == [3, 5, 7, 9]
    assert len(t) == 3 and t.count("b") == 3


def test_minute_counter_counts_current_minute_in_every_window():
    from diameter.node.aio.stats import MinuteCounter, result_class
    c = MinuteCounter()
    assert c.windows() == [0, 0, 0]
    for _ in range(5):
        c.add()
    c.add(3)
    assert c.last(5) == 8 and c.last(15) == 8  # the current minute is inside both windows
    assert c.last(1) in (0, 8)  # 0 only if the minute turned between add and read
    assert result_class(2001) == "2xxx" and result_class(5012) == "5xxx" and result_class(12001) == "12xxx"


def test_duplicate_cache_recording_an_answer_moves_its_entry_last():
    c = DuplicateCache(window=10.0)
    for e2e in (1, 2, 3):
        assert c.check(b"h", e2e, 0.0) is None
    c.record(b"h", 1, b"answer-1", 5.0)        # touched last: expires at 15
    assert c.trim(10.5) == 2                    # 2 and 3 (expiring at 10) go, in order
    assert c.check(b"h", 1, 11.0) == b"answer-1" and len(c) == 1
    assert c.record(b"other", 9, b"x", 11.0) == [] and len(c) == 1   # unknown: nothing kept


def test_duplicate_cache_matches_a_reference_model_through_many_evictions():
    """Checks, records, bounds and trims against a plain model, long past max_entries
    (the cache drops its oldest entry on every request then)."""
    rng = random.Random(7)
    c = DuplicateCache(window=5.0, max_entries=50, max_bytes=400)
    model: list[list] = []   # [key, expires, answer], oldest touch first
    now = 0.0

    def find(key):
        return next((e for e in model if e[0] == key), None)

    def bound():
        while len(model) > 50:
            model.pop(0)
        while sum(len(e[2]) for e in model) > 400:
            model.pop(0)

    for step in range(20_000):
        now += rng.choice((0.0, 0.001, 0.01, 0.3))
        key = (b"h%d" % rng.randrange(3), rng.randrange(120))
        op = rng.random()
        if op < 0.55:
            e = find(key)
            got = c.check(*key, now)
            if e is not None and e[1] > now:
                assert got == e[2]
            else:
                assert got is None
                if e is not None:
                    model.remove(e)
                model.append([key, now + 5.0, IN_PROGRESS])
                while len(model) > 50:
                    model.pop(0)
        elif op < 0.95:
            e = find(key)
            answer = b"x" * rng.randrange(1, 30)
            c.record(*key, answer, now)
            if e is not None:
                model.remove(e)
                model.append([key, now + 5.0, answer])
                bound()
        else:
            dropped = c.trim(now)
            expected = 0
            while model and model[0][1] <= now:
                model.pop(0)
                expected += 1
            assert dropped == expected
        assert len(c) == len(model), step
        assert c.size_bytes == sum(len(e[2]) for e in model)


@pytest.mark.parametrize("max_entries, max_bytes", [(40, 300), (1, 1000), (0, 1000), (1000, 25)])
def test_duplicate_cache_answered_at_once_matches_a_reference_model(max_entries, max_bytes):
    """The server's usual order (a request checked, then answered before the next one) is
    recorded without a look-up; mixed with copies, answers of older requests, forgets, trims
    and evictions (of the newest entry too), keys, order and bytes stay the model's."""
    rng = random.Random(11)
    c = DuplicateCache(window=5.0, max_entries=max_entries, max_bytes=max_bytes)
    model: list[list] = []   # [key, expires, answer], oldest touch first
    now = 0.0
    last = None

    def find(key):
        return next((e for e in model if e[0] == key), None)

    def bound():
        while sum(len(e[2]) for e in model) > max_bytes:
            model.pop(0)

    for step in range(6_000):
        now += rng.choice((0.0, 0.001, 0.01, 0.3))
        op = rng.random()
        if op < 0.45 or last is None:
            # a new key (or an older one, sometimes the same e2e from another host)
            key = (b"h%d" % rng.randrange(2), rng.randrange(80))
            e = find(key)
            got = c.check(bytes(key[0]), key[1], now)   # equal, not the same, bytes
            if e is not None and e[1] > now:
                assert got == e[2]
            else:
                assert got is None
                if e is not None:
                    model.remove(e)
                model.append([key, now + 5.0, IN_PROGRESS])
                while len(model) > max_entries:
                    model.pop(0)
            last = key
        elif op < 0.85:
            # answer the request checked last (mostly) or another one
            key = last if rng.random() < 0.8 else (b"h%d" % rng.randrange(2), rng.randrange(80))
            e = find(key)
            answer = b"y" * rng.randrange(1, 20)
            assert c.record(*key, answer, now) == []
            if e is not None:
                model.remove(e)
                model.append([key, now + 5.0, answer])
                bound()
        elif op < 0.92:
            key = last if rng.random() < 0.5 else (b"h%d" % rng.randrange(2), rng.randrange(80))
            c.forget(*key)
            e = find(key)
            if e is not None:
                model.remove(e)
        else:
            dropped = c.trim(now)
            expected = 0
            while model and model[0][1] <= now:
                model.pop(0)
                expected += 1
            assert dropped == expected
        assert list(c._entries) == [e[0] for e in model], step
        assert [(x.expires, x.answer) for x in c._entries.values()] == [(e[1], e[2]) for e in model], step
        assert c.size_bytes == sum(len(e[2]) for e in model)


def test_duplicate_cache_copies_waiting_for_the_newest_entry_get_its_answer():
    c = DuplicateCache(window=10.0)
    assert c.check(b"h", 1, 0.0, "first") is None
    assert c.check(b"h", 1, 0.1, ("copy", 1)) is IN_PROGRESS
    assert c.check(b"h", 1, 0.2, ("copy", 2)) is IN_PROGRESS
    assert c.record(b"h", 1, b"ans", 0.3) == [("copy", 1), ("copy", 2)]
    assert c.check(b"h", 1, 0.4, ("copy", 3)) == b"ans"
    assert c.record(b"h", 1, b"ans2", 0.5) == []   # recorded again: no waiters left
    assert c.check(b"h", 1, 0.6) == b"ans2" and c.size_bytes == 4
