"""An account as a storage's cache holds it: shared by the SQLite and PostgreSQL caches.

The snapshot read from the database plus the reservations and session rows decided since,
indexed by session, so that the next decision sees them without reading again.
"""

from __future__ import annotations

from ..books import Decision
from ..model import Reservation, SessionRow, Snapshot


class CachedAccount:
    """One cached account: the snapshot read, plus what was decided since."""

    __slots__ = ("snap", "res", "sessions")

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.res: dict[str, dict[int, Reservation]] = {}
        for r in snap.reservations:
            self.res.setdefault(r.session_id, {})[r.rating_group] = r
        self.sessions: dict[str, SessionRow] = dict(snap.sessions)

    def view(self, scope: str | None) -> Snapshot:
        """What a decision sees: the whole account, or one session's part of it."""
        snap = self.snap
        if scope is None:
            return Snapshot(snap.account, snap.balances,
                            [r for rs in self.res.values() for r in rs.values()], dict(self.sessions))
        mine = self.res.get(scope)
        row = self.sessions.get(scope)
        others = len(self.res) - (1 if mine else 0)
        return Snapshot(snap.account, snap.balances, list(mine.values()) if mine else [],
                        {scope: row} if row is not None else {}, others)

    def holds_session(self, session_id: str) -> bool:
        return session_id in self.res or session_id in self.sessions

    def apply_holds(self, dec: Decision, res_put: dict[tuple[str, int], Reservation | None],
                    ses_put: dict[str, SessionRow | None], session_account: dict[str, int],
                    account_id: int) -> None:
        """Bring reservations and session rows up to date with a decision; record each
        change (None: deleted) in `res_put` / `ses_put` for the batch's write."""
        res = self.res
        for sid, rg in dec.reservations_del:
            rs = res.get(sid)
            if rs is not None:
                rs.pop(rg, None)
                if not rs:
                    del res[sid]
            res_put[(sid, rg)] = None
        for r in dec.reservations_put:
            res.setdefault(r.session_id, {})[r.rating_group] = r
            res_put[(r.session_id, r.rating_group)] = r
            session_account[r.session_id] = account_id
        sessions = self.sessions
        for sid in dec.sessions_del:
            sessions.pop(sid, None)
            ses_put[sid] = None
        for s in dec.sessions_put:
            sessions[s.session_id] = s
            ses_put[s.session_id] = s
            session_account[s.session_id] = account_id
