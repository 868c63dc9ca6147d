"""When PostgreSQL's committer starts a batch behind one already in the database: with
`min_follow` units queued, or `follow_delay` after it first could have started with fewer
(a batch of two or three units took the database's whole fixed cost per batch, and a place)."""

from __future__ import annotations

import asyncio

from diameter.ocs.store.pg_batch import BatchCommitter


class _Committer(BatchCommitter):
    """The committer's scheduling alone: each batch is recorded and held until released."""

    def __init__(self, **kw) -> None:
        super().__init__(link=None, fallback=None, **kw)
        self.taken: list[int] = []
        self.holds: list[asyncio.Future[None]] = []

    async def _one(self, batch, rec=None) -> None:
        self.taken.append(len(batch))
        hold = self._loop.create_future()
        self.holds.append(hold)
        try:
            await hold
            for unit in batch:
                unit.fut.set_result(None)
        finally:
            self._running -= 1
            self._wake.set()


def _submit(c: BatchCommitter, n: int) -> list[asyncio.Future]:
    return [c.submit(None, None, None, 0.0, None) for _ in range(n)]


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_batch_behind_another_waits_for_enough_units_or_the_delay():
    async def main():
        c = _Committer(min_follow=3, follow_delay=0.05)
        futs = _submit(c, 1)
        await _turns()
        assert c.taken == [1]  # nothing in the database: at once, whatever its size
        futs += _submit(c, 2)
        await asyncio.sleep(0.01)
        assert c.taken == [1]  # two units behind a batch in the database: not yet
        await asyncio.sleep(0.06)
        assert c.taken == [1, 2]  # the delay passed
        futs += _submit(c, 3)
        await _turns()
        assert c.taken == [1, 2]  # two batches in the database already
        c.holds[0].set_result(None)
        await _turns()
        assert c.taken == [1, 2, 3]  # enough units: at once behind the other
        c.holds[1].set_result(None)
        futs += _submit(c, 1)
        await _turns()
        assert c.taken == [1, 2, 3]
        c.holds[2].set_result(None)
        await _turns()
        assert c.taken == [1, 2, 3, 1]  # the database is free again: at once
        c.holds[3].set_result(None)
        await c.close()
        assert all(f.done() for f in futs)

    asyncio.run(main())


def test_closing_sends_what_is_queued_without_waiting_for_the_delay():
    async def main():
        c = _Committer(min_follow=10, follow_delay=60.0)
        futs = _submit(c, 1)
        await _turns()
        futs += _submit(c, 2)
        await _turns()
        assert c.taken == [1]
        closing = asyncio.ensure_future(c.close())
        await _turns()
        assert c.taken == [1, 2]
        for hold in c.holds:
            hold.set_result(None)
        await asyncio.wait_for(closing, 5)
        assert all(f.done() for f in futs)

    asyncio.run(main())
