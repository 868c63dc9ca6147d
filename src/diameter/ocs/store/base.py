"""The one storage interface of the OCS.

A backend implements `_run(work)` (drive a `queries` generator inside one committed
transaction and return its value) plus `open`/`close`. Everything else, and every
guarantee about money, lives in the shared generators: a request's outcome is written in
the same transaction as its debits, and a recorded outcome is replayed instead of
charging again.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..model import Account, AccountKind, AuditReport, Balance, LedgerRow, Outcome, Snapshot
from . import queries
from .queries import Decide, Target, Work

log = logging.getLogger("diameter.ocs.store")


class StorageError(RuntimeError):
    """The database failed; the request was not committed."""


class Unit:
    """A money-path unit with its own completion: what :meth:`Storage.transact` decides
    (`target`, `decide`, `key`, `now`, `scope`) and the future's part (`done`, `set_result`,
    `set_exception`), which a storage's committer calls as the unit's batch settles.

    Storages that take units (``submit_unit``, SQLite) queue the object itself: no future,
    no wrapper per request. Subclasses override :meth:`finished`; the default unit calls
    ``then(value, None)`` or ``then(None, exc)``."""

    __slots__ = ("target", "decide", "key", "now", "scope", "then", "_done")

    def __init__(self, target: Target, decide: Decide, key: tuple[str, int] | None, now: float,
                 scope: str | None, then: Callable[[Any, BaseException | None], None] | None = None) -> None:
        self.target, self.decide, self.key, self.now, self.scope = target, decide, key, now, scope
        self.then = then
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        if self._done:  # settled already: once per submission
            return
        self._done = True
        try:
            self.finished(value, None)
        except Exception:  # noqa: BLE001 - the caller's bug must not stop the committer
            log.exception("ocs storage: a transaction's callback failed")

    def set_exception(self, exc: BaseException) -> None:
        if self._done:
            return
        self._done = True
        try:
            self.finished(None, exc)
        except Exception:  # noqa: BLE001
            log.exception("ocs storage: a transaction's callback failed")

    def finished(self, value: Any, exc: BaseException | None) -> None:
        """The unit's outcome (committed) or its error; called once per submission."""
        if self.then is not None:
            self.then(value, exc)


class Storage(abc.ABC):
    """Async storage of accounts, balances, reservations, ledger, outcomes and CDRs."""

    url: str = ""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema to the latest version."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending work and disconnect."""

    async def warm(self) -> None:
        """Get ready to charge before the first request (a server calls it once open):
        start what the first charge would otherwise start and prepare its statements. The
        default has nothing to do."""
        return None

    @abc.abstractmethod
    async def _run(self, work: Callable[[], Work], *, lock: bool = False) -> Any:
        """Run one unit of work in a transaction; the result is returned after commit."""

    @property
    def lock_clause(self) -> str:
        return ""

    async def __aenter__(self) -> Storage:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the money path ---------------------------------------------------------------
    async def transact(self, target: Target, decide: Decide, key: tuple[str, int] | None = None,
                       now: float | None = None, scope: str | None = None) -> Outcome | None:
        """Lock the target's account, decide, write; None when no account matches.

        With a `key` (session id, request number) a recorded outcome is returned as it was
        (``replayed=True``) and nothing is charged again. With `scope` (a session id) the
        snapshot holds only that session's reservations (enough to charge it)."""
        ts = time.time() if now is None else now
        lock = self.lock_clause
        out: Outcome | None = await self._run(
            lambda: queries.transact(target, decide, key, ts, lock, scope), lock=True)
        return out

    async def recorded(self, key: tuple[str, int]) -> Outcome | None:
        out: Outcome | None = await self._run(lambda: queries.recorded(key))
        return out

    # -- administration and reading --------------------------------------------------
    async def create_account(self, name: str, *, kind: AccountKind = AccountKind.PREPAID,
                             currency: int = 978, subscriptions: Sequence[tuple[int, str]] = (),
                             balances: Sequence[Balance] = (), now: float | None = None) -> int:
        ts = time.time() if now is None else now
        return int(await self._run(lambda: queries.create_account(
            name, kind, currency, subscriptions, balances, ts)))

    async def add_balance(self, account_id: int, balance: Balance, now: float | None = None) -> int:
        ts = time.time() if now is None else now
        return int(await self._run(lambda: queries.add_balance(account_id, balance, ts)))

    async def account(self, target: Target) -> Snapshot | None:
        def work() -> Work:
            account_id = yield from queries.resolve(target)
            if account_id is None:
                return None
            return (yield from queries.load(account_id, with_subscriptions=True))
        snap: Snapshot | None = await self._run(work)
        return snap

    async def accounts(self) -> list[Account]:
        return list(await self._run(queries.list_accounts))

    async def due(self, now: float, limit: int = 500) -> list[int]:
        return list(await self._run(lambda: queries.due(now, limit)))

    async def ledger(self, account_id: int, limit: int = 1000) -> list[LedgerRow]:
        return list(await self._run(lambda: queries.ledger(account_id, limit)))

    async def cdrs(self, after: int = 0, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        return list(await self._run(lambda: queries.cdrs(after, limit)))

    async def export_position(self, name: str) -> int:
        return int(await self._run(lambda: queries.export_position(name)))

    async def set_export_position(self, name: str, last_id: int) -> None:
        await self._run(lambda: queries.set_export_position(name, last_id))

    async def prune_outcomes(self, before: float, limit: int = 5000) -> int:
        """Delete recorded outcomes older than `before`; returns how many."""
        return int(await self._run(lambda: queries.prune_outcomes(before, limit)))

    async def reserved(self) -> tuple[int, int]:
        """(open reservations, money they hold in minor units), for metrics."""
        count, held = await self._run(queries.reserved)
        return int(count), int(held)

    async def audit(self) -> AuditReport:
        report: AuditReport = await self._run(queries.audit)
        return report
