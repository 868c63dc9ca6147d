"""The work on a cached account (:class:`.cached.CachedAccount`) that every decision does:
the snapshot it sees and the reservations and session rows it changed. Pure functions on
the account's parts, compiled with the rating core when built (mypyc); the SQLite cache
calls them directly, the PostgreSQL one through the account's methods.
"""

from __future__ import annotations

from typing import Any

from ..books import Books, Decision
from ..model import Reservation, SessionRow, Snapshot


def view(snap: Snapshot, res: dict[str, dict[int, Reservation]], sessions: dict[str, SessionRow],
         scope: str | None) -> Snapshot:
    """What a decision sees: the whole account, or one session's part of it."""
    if scope is None:
        return Snapshot(snap.account, snap.balances,
                        [r for rs in res.values() for r in rs.values()], dict(sessions))
    mine = res.get(scope)
    row = sessions.get(scope)
    others = len(res) - (1 if mine else 0)
    return Snapshot(snap.account, snap.balances, list(mine.values()) if mine else [],
                    {scope: row} if row is not None else {}, others)


def session_books(snap: Snapshot, res: dict[str, dict[int, Reservation]], sessions: dict[str, SessionRow],
                  scope: str, now: float, session_id: str, request_number: int) -> Books:
    """``Books(view(snap, res, sessions, scope), now, session_id, request_number)``, made
    from the account's parts (no snapshot, list and dicts made to be copied at once)."""
    mine = res.get(scope)
    row = sessions.get(scope)
    return Books(snap, now, session_id, request_number,
                 {r.key: r for r in mine.values()} if mine else {},
                 {scope: row} if row is not None else {}, len(res) - (1 if mine else 0))


def apply_holds(res: dict[str, dict[int, Reservation]], sessions: dict[str, SessionRow],
                dec: Decision, res_put: dict[tuple[str, int], Reservation | None],
                ses_put: dict[str, SessionRow | None], session_account: dict[str, int],
                account_id: int) -> None:
    """Bring reservations and session rows up to date with a decision; record each change
    (None: deleted) in `res_put` / `ses_put` for the batch's write."""
    dels: list[Any] = dec.reservations_del  # (Any: compiled, a tuple-typed key is rebuilt for each use)
    for key in dels:
        sid, rg = key
        rs = res.get(sid)
        if rs is not None:
            if rg in rs:  # (not ``pop(rg, None)``: compiled, a generic method call)
                del rs[rg]
            if not rs:
                del res[sid]
        res_put[key] = None
    for r in dec.reservations_put:
        got = res.get(r.session_id)
        if got is None:
            got = res[r.session_id] = {}
        got[r.rating_group] = r
        key = r.key  # (Any, as above: the reservation's own tuple)
        res_put[key] = r
        session_account[r.session_id] = account_id
    for sid in dec.sessions_del:
        if sid in sessions:
            del sessions[sid]
        ses_put[sid] = None
    for s in dec.sessions_put:
        sessions[s.session_id] = s
        ses_put[s.session_id] = s
        session_account[s.session_id] = account_id


class CachedAccount:
    """One account as a storage's cache holds it (SQLite's and PostgreSQL's): the snapshot
    read (at `version`, PostgreSQL's optimistic check; 0 on SQLite), plus the reservations
    and session rows decided since, indexed by session, so that the next decision sees them
    without reading again."""

    def __init__(self, snap: Snapshot, version: int = 0) -> None:
        self.snap = snap
        self.version = version
        self.res: dict[str, dict[int, Reservation]] = {}
        for r in snap.reservations:
            got = self.res.get(r.session_id)
            if got is None:
                got = self.res[r.session_id] = {}
            got[r.rating_group] = r
        self.sessions: dict[str, SessionRow] = dict(snap.sessions)

    def view(self, scope: str | None) -> Snapshot:
        """What a decision sees: the whole account, or one session's part of it."""
        return view(self.snap, self.res, self.sessions, scope)

    def holds_session(self, session_id: str) -> bool:
        return session_id in self.res or session_id in self.sessions

    def apply_holds(self, dec: Decision, res_put: dict[tuple[str, int], Reservation | None],
                    ses_put: dict[str, SessionRow | None], session_account: dict[str, int],
                    account_id: int) -> None:
        """Bring reservations and session rows up to date with a decision; record each
        change (None: deleted) in `res_put` / `ses_put` for the batch's write."""
        apply_holds(self.res, self.sessions, dec, res_put, ses_put, session_account, account_id)
