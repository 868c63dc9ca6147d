"""A Session-Id open on one account, reused by a client for another subscriber, is refused on
SQLite (the request fails alone: the front answers 5012); its rows would otherwise be written
over the first account's, whose hold the audit would then miss."""
from __future__ import annotations

import asyncio

import pytest

from diameter.ocs import Engine, RequestKind, Target, open_storage
from diameter.ocs.store.base import StorageError

from .helpers import MIB, gy

X, Y = "491700000101", "491700000102"


async def _balance(st, name: str) -> int:
    return (await st.account(Target(name=name))).balances[0].amount


def test_a_session_id_open_on_another_account_is_refused(tmp_path):
    url = str(tmp_path / "ocs.db")

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("x", [(0, X)], amount=1000)
            await eng.create_account("y", [(0, Y)], amount=1000)
            await eng.charge(gy("dup", 0, RequestKind.INITIAL, msisdn=Y))
            with pytest.raises(StorageError, match="another account"):
                await eng.charge(gy("dup", 5, RequestKind.INITIAL, msisdn=X))
            # the other requests of the batch are not affected, and y's session goes on
            out = await eng.charge(gy("dup", 1, RequestKind.TERMINATION, used=MIB, requested=None, msisdn=Y))
            assert out.result_code == 2001
            assert await _balance(st, "x") == 1000 and await _balance(st, "y") == 990
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_the_owner_is_read_from_the_file_after_a_restart(tmp_path):
    url = str(tmp_path / "ocs.db")

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("x", [(0, X)], amount=1000)
            await eng.create_account("y", [(0, Y)], amount=1000)
            await eng.charge(gy("dup", 0, RequestKind.INITIAL, msisdn=Y))
        async with open_storage(url) as st:  # a new cache: y's session is in the file only
            eng = Engine(st)
            results = await asyncio.gather(
                eng.charge(gy("dup", 5, RequestKind.INITIAL, msisdn=X)),
                eng.charge(gy("other", 0, RequestKind.INITIAL, msisdn=X)),
                return_exceptions=True)
            assert isinstance(results[0], StorageError)
            assert results[1].result_code == 2001  # the batch's other request is charged
            with pytest.raises(StorageError):  # alone, as its own batch
                await eng.charge(gy("dup", 6, RequestKind.INITIAL, msisdn=X))
            assert await _balance(st, "y") == 900  # y's hold is still there
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())


def test_a_finished_session_id_may_be_used_by_another_account(tmp_path):
    url = str(tmp_path / "ocs.db")

    async def main():
        async with open_storage(url) as st:
            eng = Engine(st)
            await eng.create_account("x", [(0, X)], amount=1000)
            await eng.create_account("y", [(0, Y)], amount=1000)
            await eng.charge(gy("s", 0, RequestKind.INITIAL, msisdn=Y))
            await eng.charge(gy("s", 1, RequestKind.TERMINATION, used=MIB, requested=None, msisdn=Y))
            out = await eng.charge(gy("s", 2, RequestKind.INITIAL, msisdn=X))
            assert out.result_code == 2001
            assert await _balance(st, "x") == 900 and await _balance(st, "y") == 990
            report = await st.audit()
            assert report.ok, report.problems
    asyncio.run(main())
