"""A cached account's books for one session (`account_ops.session_books`, what the SQLite cache
decides on) decide exactly as books over the session's snapshot (`account_ops.view`): same
decision, same rows, whatever the other sessions of the account hold."""

from __future__ import annotations

import copy

import pytest

from diameter.ocs import rating
from diameter.ocs.books import Books
from diameter.ocs.model import Account, Balance, BalanceType, Hold, RequestKind, Reservation, SessionRow, Snapshot, UnitKind
from diameter.ocs.store import account_ops
from diameter.ocs.store.account_ops import CachedAccount
from diameter.ocs.tariff import tariff_from_dict

from .helpers import MIB, gy

NOW = 1_000_000.0
SHARED = tariff_from_dict({"policy": {"share_wallet": True},
                           "rates": [{"unit": "octets", "price": 1, "per": 1024, "default_quota": 4 * MIB}]})


def account() -> CachedAccount:
    """Three sessions on one wallet: s1 holds two rating groups, s2 one, s3 a row only."""
    main = Balance(1, 7, UnitKind.MONEY, 10 ** 9, BalanceType.PREPAID_MAIN, priority=30)
    res = [Reservation("s1", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 1024, MIB)], NOW + 600, 0),
           Reservation("s1", 2, 7, UnitKind.OCTETS, MIB, [Hold(1, 1024, MIB)], NOW + 600, 0),
           Reservation("s2", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 1024, MIB)], NOW + 600, 0)]
    rows = {s: SessionRow(s, 7, NOW - 60, NOW - 30, NOW + 600, requests=1) for s in ("s1", "s2", "s3")}
    return CachedAccount(Snapshot(Account(7, "a"), [main], res, rows))


def fields(x: object) -> object:
    """A decision's content, compared field by field (compiled classes have no __eq__)."""
    if isinstance(x, (list, tuple)):
        return [fields(v) for v in x]
    if isinstance(x, dict):
        return {k: fields(v) for k, v in x.items()}
    names = getattr(type(x), "__dataclass_fields__", None)
    if names:
        return (type(x).__name__, {n: fields(getattr(x, n)) for n in names})
    return x


@pytest.mark.parametrize("sid", ["s1", "s2", "s3", "new"])
@pytest.mark.parametrize("kind, used", [(RequestKind.INITIAL, 0), (RequestKind.UPDATE, MIB),
                                        (RequestKind.TERMINATION, 3 * MIB)])
def test_session_books_decide_as_the_sessions_view(sid, kind, used):
    req = gy(sid, 1, kind, used=used, requested=None if kind is RequestKind.TERMINATION else 0)
    viewed, direct = account(), account()
    by_view = rating.charge(account_ops.view(viewed.snap, viewed.res, viewed.sessions, sid), req, SHARED, NOW)
    books = account_ops.session_books(direct.snap, direct.res, direct.sessions, sid, NOW, sid, 1)
    assert isinstance(books, Books)
    by_books = rating.charge_on(books, req, SHARED)
    assert fields(by_books) == fields(by_view)
    assert fields(direct.snap.balances) == fields(viewed.snap.balances)
    # the account's own parts are not changed by deciding (the cache applies the decision)
    assert fields(direct.res) == fields(account().res)
    assert sorted(direct.sessions) == ["s1", "s2", "s3"]


def test_session_books_count_the_other_sessions_of_the_wallet():
    acc = account()
    before = copy.copy(acc.res)
    assert account_ops.session_books(acc.snap, acc.res, acc.sessions, "s1", NOW, "s1", 1).sharing("s1") == 2
    assert account_ops.session_books(acc.snap, acc.res, acc.sessions, "s3", NOW, "s3", 1).sharing("s3") == 3
    assert acc.res == before
