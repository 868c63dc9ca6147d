"""The pending table (deadline queue plus heap) against a plain model of what it must do:
pop by peer and hop-by-hop id, expire in deadline order (ties: in the order added), fail a
peer over, and keep its deadline order bounded by the live entries."""
from __future__ import annotations

import random

from diameter.node.protocol.pending import PendingTable


class Model:
    def __init__(self) -> None:
        self.by_peer: dict[str, dict[int, tuple[float, int, object]]] = {}
        self.seq = 0

    def add(self, peer, hbh, deadline, item):
        self.seq += 1
        self.by_peer.setdefault(peer, {})[hbh] = (deadline, self.seq, item)

    def pop(self, peer, hbh):
        e = self.by_peer.get(peer, {}).pop(hbh, None)
        return None if e is None else e[2]

    def _all(self):
        return sorted((e[0], e[1], p, h, e[2]) for p, d in self.by_peer.items() for h, e in d.items())

    def expire(self, now):
        out = [(p, h, item) for dl, _s, p, h, item in self._all() if dl <= now]
        for p, h, _item in out:
            del self.by_peer[p][h]
        return out

    def next_deadline(self):
        a = self._all()
        return a[0][0] if a else None

    def take_peer(self, peer):
        return [(h, e[2]) for h, e in self.by_peer.pop(peer, {}).items()]

    def __len__(self):
        return sum(len(d) for d in self.by_peer.values())


def test_pending_table_agrees_with_the_model():
    rng = random.Random(21)
    for run in range(40):
        t, m = PendingTable(), Model()
        now, timeout = 0.0, rng.choice([5.0, 30.0])
        for i in range(1500):
            now += rng.random() * 0.05
            op = rng.random()
            peer = rng.choice(["a", "b", "c"])
            if op < 0.45:
                # mostly one timeout (deadlines in order), sometimes a shorter or equal one
                deadline = now + rng.choice([timeout, timeout, timeout, 1.0, 0.0, timeout * 2])
                hbh = rng.randrange(40) if rng.random() < 0.3 else 1000 + i
                t.add(peer, hbh, deadline, (run, i))
                m.add(peer, hbh, deadline, (run, i))
                assert t.heap_size <= 2 * len(t) + 1025
            elif op < 0.85:
                hbh = rng.choice([rng.randrange(40), 1000 + rng.randrange(max(i, 1))])
                assert t.pop(peer, hbh) == m.pop(peer, hbh)
            elif op < 0.95:
                at = now + rng.choice([0.0, 1.0, timeout])
                assert t.expire(at) == m.expire(at)
            elif op < 0.97:
                assert t.take_peer(peer) == m.take_peer(peer)
            else:
                assert t.next_deadline() == m.next_deadline()
            assert len(t) == len(m) and t.count(peer) == len(m.by_peer.get(peer, {}))
            assert t.items() == [(p, h, e[2]) for p, d in m.by_peer.items() for h, e in d.items()]
        assert t.expire(float("inf")) == m.expire(float("inf"))
        assert len(t) == 0 and t.next_deadline() is None and t.heap_size == 0


def test_pending_queue_stays_bounded_when_one_request_is_never_answered():
    t = PendingTable()
    t.add("p", 0, 30.0, "stuck")
    for hbh in range(1, 50_000):   # the others answered at once, behind the unanswered first one
        t.add("p", hbh, 30.0 + hbh * 1e-4, hbh)
        assert t.pop("p", hbh) == hbh
    assert len(t) == 1 and t.heap_size <= 2 * len(t) + 1025
    assert t.next_deadline() == 30.0 and t.expire(31.0) == [("p", 0, "stuck")]


def test_earlier_deadline_after_later_ones_expires_first():
    t = PendingTable()
    t.add("p", 1, 10.0, "late")
    t.add("p", 2, 3.0, "early")     # a shorter timeout: out of the queue's order
    t.add("p", 3, 10.0, "late too")
    assert t.next_deadline() == 3.0
    assert t.expire(10.0) == [("p", 2, "early"), ("p", 1, "late"), ("p", 3, "late too")]
