"""The Diameter front of the OCS: a `CreditControlServer` handler over the charging engine.

It maps each parsed CCR (:class:`diameter.cc.CCRequest`) onto engine calls and the engine's
recorded outcome back onto a :class:`diameter.cc.CCResult`: per-MSCC result codes, granted
units, Validity-Time, quota thresholds, Quota-Holding-Time and Final-Unit-Indication;
Cost-Information and Check-Balance-Result for events; the Huawei DCC balance query,
recharge and Account-Change-Info (see :mod:`diameter.ocs.huawei`). Clients that bend the
grammar are served where it is safe, and the log says what was tolerated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..cc import CCRequest, CCResult, RequestType
from ..cc.server import SOON_SLOTS, SoonAnswer
from . import huawei
from .accounting import RechargeRequest
from .engine import Charge, Engine
from .mapping import answer_tail, charge_of, charge_request, read_request, result_of, subscriptions, units_of, usage_of
from .model import SUCCESS, USER_UNKNOWN, BalanceType, Outcome, RequestKind
from .rating import ChargeRequest
from .store import Target

log = logging.getLogger("diameter.ocs.front")

__all__ = ["OcsFront", "result_of", "units_of", "usage_of"]
MISSING_AVP = 5005
#: the stats' keys ``"<kind>:<result code>"`` by kind and code (nested: no tuple per answer)
_STAT_KEYS: dict[str, dict[int, str]] = {k.name: {} for k in RequestKind}
_KINDS = {RequestType.INITIAL: RequestKind.INITIAL, RequestType.UPDATE: RequestKind.UPDATE,
          RequestType.TERMINATION: RequestKind.TERMINATION}
_NAMES = {k: k.name for k in RequestKind}
#: `_STAT_KEYS`' dicts by the request's kind itself
_KIND_KEYS = {k: _STAT_KEYS[k.name] for k in RequestKind}
# (module constants: an enum class's attribute is a generic look-up, ~850 instructions)
_TERMINATION, _EVENT = RequestKind.TERMINATION, RequestKind.EVENT
CLOSED_REASONS = {"tcc_expired": "tcc_expired", "session_termination": "str", "abort": "asr",
                  "failed": "failed"}


class _FrontBase(Charge):
    """A charge of `OcsFront.answer_soon`: its committed outcome becomes the answer given
    to the server's ``done`` (no closure, no second callback object per request). The
    subclass holds the CCRequest (``creq``) and the callbacks: ``answer(result, exc)`` and,
    when ``avps_taken``, ``answered(result_code, avps)`` (the CCA's AVPs after
    CC-Request-Number, encoded here from the outcome: no CCResult, no Grants)."""

    __slots__ = ("front", "kind", "t0")
    front: OcsFront
    kind: RequestKind
    t0: float
    creq: CCRequest
    answer: Callable[[CCResult | None, BaseException | None], None]
    answered: Callable[[int, bytes], None]
    avps_taken: bool

    def set_result(self, value: Any) -> None:
        """`Unit.set_result` and `Charge.finished` in one frame for an outcome, then its answer."""
        if value is None:  # no account: the engine's second try, or USER_UNKNOWN
            Charge.set_result(self, value)
            return
        if self._done:
            return
        self._done = True
        try:
            self._answer_outcome(value)
        except Exception:  # noqa: BLE001 - the server's bug must not stop the committer
            log.exception("ocs: a charge's answer failed")

    def finished(self, value: Any, exc: BaseException | None) -> None:
        """`Charge.finished` for storages that call it back (PostgreSQL): an outcome is
        answered at once (one frame less), no account goes through the engine's second try."""
        if value is None or exc is not None:
            Charge.finished(self, value, exc)
        else:
            self._answer_outcome(value)

    def charged(self, out: Outcome | None, exc: BaseException | None) -> None:
        """The outcome's answer (after the engine's second try, or its error)."""
        if exc is not None:
            self.answer(None, exc)
        elif out is None:
            self.answer(None, RuntimeError("a charge finished without an outcome"))
        else:
            self._answer_outcome(out)

    def _answer_outcome(self, value: Outcome) -> None:
        """Answer a committed outcome: its CCA's AVPs encoded here from the outcome when the
        server takes them (``answered``), else through a CCResult."""
        if self.avps_taken and not value.replayed:
            front, req = self.front, self.creq
            # (the outcome's field read last: from here a compiled object's field is a generic look-up)
            if not front.huawei_change_info or req.dialect != "huawei" or value.balance is None:
                try:
                    tail = answer_tail(value, req.top_level_units)
                except Exception:  # noqa: BLE001 - out of range: the general path says so
                    tail = None
                if tail is not None:
                    kind, t0 = self.kind, self.t0
                    try:  # front._answered(req, kind, value, t0), its common case inline
                        key = _KIND_KEYS[kind].get(value.result_code)
                        if key is None or front.metrics is not None or (
                                kind is _TERMINATION and log.isEnabledFor(logging.INFO)):
                            front._answered(req, kind, value, t0)
                        else:  # front._count(...), inline
                            stats = front.stats
                            stats[key] = stats.get(key, 0) + 1
                    except Exception as err:  # noqa: BLE001 - answered 5012 by the server
                        self.answer(None, err)
                        return
                    self.answered(tail[0], tail[1])
                    return
        try:
            res = self.front._result(self.creq, self.kind, value, self.t0)
        except Exception as err:  # noqa: BLE001 - answered 5012 by the server
            self.answer(None, err)
            return
        self.answer(res, None)


class _FrontCharge(_FrontBase):
    """The charge of a ``done`` callback that is not the server's `SoonAnswer` of this front."""

    __slots__ = ("creq", "answer", "answered", "avps_taken")


class _FrontSoon(_FrontBase, SoonAnswer):
    """The charge and the server's pending answer in one object (the front's ``soon_class``:
    the server builds it and passes it to ``answer_soon`` as ``done``)."""

    __slots__ = SOON_SLOTS  # ``key``: the unit's, the same (session id, request number)
    answer = SoonAnswer.__call__
    avps_taken = True


_new = object.__new__
_charge_init = Charge.__init__


def _start_charge(c: Charge) -> None:
    """``c.start()``: for storages without ``submit_unit``."""
    c.start()


class OcsFront:
    """The handler given to :class:`diameter.cc.CreditControlServer`; `server` is set by it."""

    def __init__(self, engine: Engine, *, huawei_change_info: bool = True) -> None:
        self.engine = engine
        self.server: Any = None  # the CreditControlServer, for RAR after a recharge
        self.huawei_change_info = huawei_change_info
        self.stats: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.metrics: Any = None
        #: the callback path `CreditControlServer` uses for CCR-I/U/T when the storage offers it
        self.answer_soon = self._answer_soon if engine.can_charge_then() else None
        #: the server's object given to `answer_soon` is the charge itself (`SoonAnswer`)
        self.soon_class = _FrontSoon
        self._store: Any = None  # the engine's storage when `_submit` was looked up
        self._submit: Callable[[Charge], None] = _start_charge
        #: the server's CCR reader: the MSCCs read straight as the engine's usages
        self.read_request = read_request

    # -- CreditControlServer handler ------------------------------------------------------
    # (plain functions returning the coroutine: one frame less per request to run and resume)
    def on_initial(self, req: CCRequest) -> Awaitable[CCResult]:
        return self._charge(req, RequestKind.INITIAL)

    def on_update(self, req: CCRequest) -> Awaitable[CCResult]:
        return self._charge(req, RequestKind.UPDATE)

    def on_termination(self, req: CCRequest) -> Awaitable[CCResult]:
        return self._charge(req, RequestKind.TERMINATION)

    async def on_event(self, req: CCRequest) -> CCResult:
        if req.message is not None:
            query = huawei.balance_query(req.message)
            if query is not None:
                return await self._balance_query(req, query)
            rch = huawei.recharge(req.message)
            if rch is not None:
                return await self._recharge(req, rch)
        return await self._charge(req, RequestKind.EVENT)

    async def on_session_closed(self, session_id: str, reason: str) -> None:
        idle = None
        if reason == "tcc_expired" and self.server is not None:
            idle = float(self.server.core.tcc)  # another instance may have served it since
        out = await self.engine.close_session(session_id, CLOSED_REASONS.get(reason, reason), idle)
        if out is not None:
            log.info("session %s closed (%s): reservations released", session_id, reason)

    # -- mapping ---------------------------------------------------------------------------
    def _subscriptions(self, req: CCRequest) -> list[tuple[int, str]]:
        return subscriptions(req)

    def _request(self, req: CCRequest, kind: RequestKind) -> ChargeRequest:
        return charge_request(req, kind)

    def _tolerated(self, req: CCRequest) -> CCResult | None:
        """None when the request can be charged safely, else the answer refusing it."""
        if not req.session_id:
            return CCResult(MISSING_AVP, error_message="Session-Id missing")
        if req.message is not None:
            if not req.has_request_number:
                return CCResult(MISSING_AVP, error_message="CC-Request-Number missing")
            if req.auth_application_id is None:
                log.info("session %s: no Auth-Application-Id (tolerated)", req.session_id)
        return None

    async def _charge(self, req: CCRequest, kind: RequestKind) -> CCResult:
        t0 = time.perf_counter()
        refused = self._tolerated(req)
        if refused is not None:
            self._count(_NAMES[kind], refused.result_code, 0.0)
            return refused
        out = await self.engine.charge(self._request(req, kind))
        return self._result(req, kind, out, t0)

    def _result(self, req: CCRequest, kind: RequestKind, out: Outcome, t0: float) -> CCResult:
        """The answer's content for the engine's outcome of a charging request."""
        if out.replayed:
            log.info("session %s: request %d answered from the record (retransmission)",
                     req.session_id, req.request_number)
        res = result_of(out, req)
        if req.dialect == "huawei" and self.huawei_change_info and out.balance is not None:
            res.extra_avps.append(huawei.change_info(out, str(out.account_id),
                                                     int(BalanceType.PREPAID_MAIN)))
        self._answered(req, kind, out, t0)
        return res

    def _answered(self, req: CCRequest, kind: RequestKind, out: Outcome, t0: float) -> None:
        """The log line and the counts of an outcome answered (`t0`: 0.0 without metrics)."""
        if (kind is _TERMINATION or kind is _EVENT) and log.isEnabledFor(logging.INFO):
            log.info("session %s %s: result %d, charged %s, balance %s", req.session_id,
                     kind.name.lower(), out.result_code, sum(g.cost or 0 for g in out.grants),
                     out.balance)
        self._count(_NAMES[kind], out.result_code, time.perf_counter() - t0 if t0 else 0.0)

    def _answer_soon(self, req: CCRequest,
                     done: Callable[[CCResult | None, BaseException | None], None]) -> CCResult | None:
        """`CreditControlServer`'s callback path for CCR-I/U/T (no coroutine per request):
        the result at once when the request is refused, else None and ``done(result, None)``
        (or ``done(None, error)``) once the charge is committed."""
        kind = _KINDS[req.request_type]
        t0 = time.perf_counter() if self.metrics is not None else 0.0  # for the metrics only
        if req.message is not None or not req.session_id:
            auth = req._auth_application_id  # the slot: its property is a call (not decoded yet: a bare object)
            if (not req.session_id or not req.has_request_number or auth is None
                    or type(auth) is object):  # what `_tolerated` refuses or logs
                refused = self._tolerated(req)
                if refused is not None:
                    self._count(_NAMES[kind], refused.result_code, 0.0)
                    return refused
        # a Charge's __init__ on the server's own object (`_FrontSoon`, our ``soon_class``), or
        # a `_FrontCharge`: the request's slots read here (specialised reads) and the class not
        # called (its __init__ then runs in a frame of its own)
        cr = charge_of(req, kind, req.session_id, req.request_number, req._service_context_id,
                       req._subscription_ids, req._requested_action, req.services, req.peer)
        if type(done) is _FrontSoon:
            c: _FrontBase = done
            _charge_init(c, self.engine, cr, None, c.key)  # the server's key tuple, the same
        else:
            c = _new(_FrontCharge)
            _charge_init(c, self.engine, cr)
            answered = getattr(done, "answered", None)
            c.creq, c.answer, c.answered, c.avps_taken = req, done, answered, answered is not None
        store = c.store
        c.front, c.kind, c.t0 = self, kind, t0
        if store is self._store:  # c.start(), inline: the storage's submit_unit found once
            self._submit(c)
        else:
            self._store = store
            self._submit = getattr(store, "submit_unit", None) or _start_charge
            self._submit(c)
        return None

    async def _balance_query(self, req: CCRequest, query: huawei.BalanceQuery) -> CCResult:
        subs = self._subscriptions(req)
        snap = await self.engine.account(Target(subscriptions=tuple(subs))) if subs else None
        if snap is None:
            self._count("BALANCE_QUERY", USER_UNKNOWN, 0.0)
            return CCResult(USER_UNKNOWN, error_message="no account for the subscription")
        self._count("BALANCE_QUERY", SUCCESS, 0.0)
        return CCResult(SUCCESS, extra_avps=[huawei.account_info(snap, query)])

    async def _recharge(self, req: CCRequest, rch: huawei.Recharge) -> CCResult:
        refused = self._tolerated(req)  # a recharge moves money: it needs its idempotency key
        if refused is not None:
            self._count("RECHARGE", refused.result_code, 0.0)
            return refused
        subs = self._subscriptions(req)
        if rch.charge_number:
            subs = [(0, rch.charge_number), *subs]
        out = await self.engine.recharge(
            Target(subscriptions=tuple(subs)),
            RechargeRequest(rch.amount, rch.reversal, rch.cancel, rch.account_type,
                            req.session_id, req.request_number))
        self._count("RECHARGE", out.result_code, 0.0)
        log.info("recharge %s%d for %s: result %d, balance %s -> %s",
                 "reversal " if rch.reversal else "", rch.amount, subs[:1], out.result_code,
                 out.amount_before, out.balance)
        if out.reauth_sessions and not out.replayed:
            self._spawn(self._reauth(out.reauth_sessions))
        res = CCResult(out.result_code, error_message=out.error_message)
        if out.result_code != USER_UNKNOWN:
            res.extra_avps.append(huawei.recharge_answer(out, rch, str(out.account_id)))
        return res

    # -- re-authorisation after a recharge ----------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reauth(self, sessions: list[str]) -> None:
        for sid in sessions:
            if self.server is None or sid not in self.server.sessions:
                continue  # held by another instance, or already gone
            try:
                code = await self.server.re_auth(sid, timeout=5.0)
                log.info("session %s: Re-Auth-Request after recharge answered %d", sid, code)
            except Exception as exc:  # the client comes back at its next update anyway
                log.info("session %s: Re-Auth-Request failed: %r", sid, exc)

    def _count(self, kind: str, code: int, seconds: float) -> None:
        keys = _STAT_KEYS.get(kind)
        if keys is None:
            keys = _STAT_KEYS.setdefault(kind, {})
        key = keys.get(code)
        if key is None:
            key = f"{kind}:{code}"
            if len(keys) < 256:
                keys[code] = key
        self.stats[key] = self.stats.get(key, 0) + 1
        if self.metrics is not None:
            self.metrics.observe(kind, code, seconds)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
