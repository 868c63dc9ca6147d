"""An account as a storage's cache holds it: shared by the SQLite and PostgreSQL caches.

The snapshot read from the database plus the reservations and session rows decided since,
indexed by session, so that the next decision sees them without reading again.
"""

from __future__ import annotations

from ..books import Decision
from ..model import Reservation, SessionRow, Snapshot
from . import account_ops


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
        return account_ops.view(self.snap, self.res, self.sessions, scope)

    def holds_session(self, session_id: str) -> bool:
        return session_id in self.res or session_id in self.sessions

    def apply_holds(self, dec: Decision, res_put: dict[tuple[str, int], Reservation | None],
                    ses_put: dict[str, SessionRow | None], session_account: dict[str, int],
                    account_id: int) -> None:
        """Bring reservations and session rows up to date with a decision; record each
        change (None: deleted) in `res_put` / `ses_put` for the batch's write."""
        account_ops.apply_holds(self.res, self.sessions, dec, res_put, ses_put, session_account,
                                account_id)
