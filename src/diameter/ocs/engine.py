"""The charging engine: the async API the Diameter front (or any other front) calls.

It pairs a `Storage` with a `Tariff`; every call is one storage transaction running the
pure rating functions. Requests are keyed by (session id, request number): a repeated
key returns the recorded outcome (`Outcome.replayed`) and charges nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import accounting, rating
from .accounting import RechargeRequest
from .model import (
    USER_UNKNOWN,
    AccountKind,
    AccountState,
    Balance,
    Outcome,
    RequestKind,
    Snapshot,
)
from .rating import ChargeRequest
from .store import Storage, Target
from .store.base import Unit
from .tariff import DEFAULT_TARIFF, Tariff

log = logging.getLogger("diameter.ocs")


#: shared Targets by their subscriptions' key: the subscription itself when there is one
#: (no tuple to build, hash and free per request), else the tuple of them
_TARGETS: dict[Any, Target] = {}
#: the kinds charged again by session when their subscription resolves to no account
_SECOND_TRY = (RequestKind.UPDATE, RequestKind.TERMINATION)


def _subscribers(subscriptions: Sequence[tuple[int, str]]) -> Target:
    """The Target of these subscriptions; equal ones are shared (Targets are frozen; bounded)."""
    subs = tuple(subscriptions)
    key = subs[0] if len(subs) == 1 else subs
    try:
        t = _TARGETS.get(key)
    except TypeError:  # unhashable parts (lists): not shared
        return Target(subscriptions=subs)
    if t is None:
        if len(_TARGETS) >= 4096:
            _TARGETS.clear()
        t = _TARGETS[key] = Target(subscriptions=subs)
    return t


class Charge(Unit):
    """One :meth:`Engine.charge_then`: the same steps as :meth:`Engine.charge`, as the storage's
    unit itself (a storage with ``submit_unit`` queues this object; others call back
    :meth:`finished`). A front may subclass it and override :meth:`charged`, the callback."""

    __slots__ = ("store", "req", "second")

    def __init__(self, engine: Engine, req: ChargeRequest,
                 then: Callable[[Outcome | None, BaseException | None], None] | None = None,
                 key: tuple[str, int] | None = None) -> None:
        """`key`: ``(req.session_id, req.request_number)`` when the caller has that tuple."""
        self.store: Any = engine.store
        self.req = req
        self.then = then
        self.now = now = engine.clock()
        sid = req.session_id
        self.key = (sid, req.request_number) if key is None else key
        self.scope = sid
        self.decide = rating.Charging(req, engine.tariff, now)
        subs = req.subscriptions
        if subs:  # _subscribers(subs), its common case inline
            try:  # (the key: one subscription itself)
                t = _TARGETS.get(subs[0]) if len(subs) == 1 else None
            except TypeError:  # unhashable parts: not shared
                t = None
            self.target = t if t is not None else _subscribers(subs)
        else:
            self.target = Target(session_id=sid)
        self.second = False
        self._done = False

    def start(self) -> None:
        """Queue the unit; raises `StorageError` at once when the storage is not open."""
        store = self.store
        submit = getattr(store, "submit_unit", None)
        if submit is not None:
            submit(self)
        else:
            store.transact_then(self.target, self.decide, self.key, self.now, self.scope, self.finished)

    def finished(self, value: Any, exc: BaseException | None) -> None:
        out: Outcome | None = value
        if out is None and exc is None:
            req = self.req
            if (not self.second and req.subscriptions
                    and req.kind in _SECOND_TRY):
                # subscription changed or missing mid-session: the session still knows its account
                self.second = True
                self.target = Target(session_id=req.session_id)
                try:
                    self.start()
                except Exception as err:  # noqa: BLE001 - the storage closed meanwhile
                    self.charged(None, err)
                return
            out = Outcome(USER_UNKNOWN, error_message="no account for the subscription")
        self.charged(out, exc)

    def charged(self, out: Outcome | None, exc: BaseException | None) -> None:
        """The charge's committed outcome, or its error: ``then(out, exc)`` unless overridden."""
        then = self.then
        assert then is not None
        then(out, exc)


class Engine:
    """Online charging over one storage; safe to run several engines on one PostgreSQL."""

    def __init__(self, store: Storage, tariff: Tariff = DEFAULT_TARIFF,
                 clock: Callable[[], float] = time.time, keep_outcomes: float = 86400.0) -> None:
        self.store = store
        self.tariff = tariff
        self.clock = clock
        #: how long a request's outcome is kept to answer its retransmissions (s)
        self.keep_outcomes = keep_outcomes
        self._sweeper: asyncio.Task[None] | None = None

    # -- sessions and events ----------------------------------------------------------
    async def charge(self, req: ChargeRequest) -> Outcome:
        """Rate, debit and reserve for one credit-control request."""
        now = self.clock()
        tariff = self.tariff
        key = (req.session_id, req.request_number)
        target = _subscribers(req.subscriptions) if req.subscriptions else Target(session_id=req.session_id)
        decide = rating.Charging(req, tariff, now)
        out = await self.store.transact(target, decide, key, now, scope=req.session_id)
        if out is None and req.kind in _SECOND_TRY and req.subscriptions:
            # subscription changed or missing mid-session: the session still knows its account
            out = await self.store.transact(Target(session_id=req.session_id), decide, key, now,
                                            scope=req.session_id)
        if out is None:
            return Outcome(USER_UNKNOWN, error_message="no account for the subscription")
        return out

    def can_charge_then(self) -> bool:
        """Whether :meth:`charge_then` works with this storage (it offers ``transact_then``)."""
        return callable(getattr(self.store, "transact_then", None))

    def charge_then(self, req: ChargeRequest, then: Callable[[Outcome | None, BaseException | None], None]) -> None:
        """:meth:`charge` without a coroutine: ``then(outcome, None)`` once it is committed, or
        ``then(None, error)`` (from the storage's committer). Needs :meth:`can_charge_then`;
        raises `StorageError` at once when the storage is not open."""
        Charge(self, req, then).start()

    async def close_session(self, session_id: str, reason: str,
                            idle: float | None = None) -> Outcome | None:
        """Release what a session still holds (STR, ASR, Tcc expiry); None if nothing was open.

        `idle` (seconds) leaves alone a session charged more recently, e.g. by another instance."""
        now = self.clock()
        return await self.store.transact(Target(session_id=session_id),
                                         lambda snap: rating.close(snap, session_id, reason, now, idle),
                                         None, now, scope=session_id)

    async def release_expired(self, now: float | None = None) -> int:
        """Release reservations (and close sessions) whose time is up; returns accounts touched."""
        ts = self.clock() if now is None else now
        ids = await self.store.due(ts)
        for account_id in ids:
            await self.store.transact(Target(account_id=account_id),
                                      lambda snap: rating.expire(snap, ts), None, ts)
        return len(ids)

    def start_sweeper(self, interval: float = 5.0) -> None:
        """Release expired reservations every `interval` seconds in the background."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(interval))

    async def stop_sweeper(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _sweep(self, interval: float) -> None:
        while True:
            try:
                released = await self.release_expired()
                if released:
                    log.info("ocs: released expired credit on %d account(s)", released)
                await self.store.prune_outcomes(self.clock() - self.keep_outcomes)
            except Exception:  # keep sweeping; the next round retries
                log.exception("ocs: expiry sweep failed")
            await asyncio.sleep(interval)

    # -- accounts -----------------------------------------------------------------------
    async def create_account(self, name: str, subscriptions: Sequence[tuple[int, str]] = (), *,
                             amount: int = 0, kind: AccountKind = AccountKind.PREPAID,
                             currency: int = 978, credit_limit: int = 0,
                             extra: Sequence[Balance] = ()) -> int:
        balances = accounting.default_balances(int(kind), amount, credit_limit) + list(extra)
        return await self.store.create_account(name, kind=kind, currency=currency,
                                               subscriptions=subscriptions, balances=balances,
                                               now=self.clock())

    async def account(self, target: Target) -> Snapshot | None:
        return await self.store.account(target)

    async def recharge(self, target: Target, req: RechargeRequest) -> Outcome:
        now = self.clock()
        key = None
        if req.session_id is not None and req.request_number is not None:
            key = (req.session_id, req.request_number)
        out = await self.store.transact(target, lambda snap: accounting.recharge(snap, req, now),
                                        key, now)
        if out is None:
            return Outcome(USER_UNKNOWN, error_message="no such account")
        return out

    async def set_state(self, target: Target, state: AccountState) -> Outcome:
        now = self.clock()
        out = await self.store.transact(target, lambda snap: accounting.set_state(snap, state, now),
                                        None, now)
        return out if out is not None else Outcome(USER_UNKNOWN, error_message="no such account")
