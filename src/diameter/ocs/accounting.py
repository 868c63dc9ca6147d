"""Account operations outside sessions: recharge (Huawei ABM forward/reversal), state changes.

Pure functions of a locked snapshot, like `rating`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .books import Books, Decision
from .model import (
    CREDIT_LIMIT_REACHED,
    SUCCESS,
    AccountState,
    Balance,
    BalanceType,
    Outcome,
    Snapshot,
    UnitKind,
)

RECHARGE_INVALID = 5004  # DIAMETER_INVALID_AVP_VALUE: amount not positive, no such balance


@dataclass
class RechargeRequest:
    """Recharge (or its reversal) of a monetary balance, Huawei Recharge-Information style."""

    amount: int  # minor units, > 0
    reversal: bool = False  # ABM-Operation-Type 1
    cancel: bool = False  # Charge-Confirm-Flag 1: validate only, change nothing
    balance_type: int | None = None  # Account-Type; None = the main balance
    session_id: str | None = None
    request_number: int | None = None


def _target(snap: Snapshot, balance_type: int | None) -> Balance | None:
    if balance_type is None:
        return snap.main_balance()
    for b in snap.balances:
        if b.kind is UnitKind.MONEY and b.type_code == balance_type:
            return b
    return None


def recharge(snap: Snapshot, req: RechargeRequest, now: float) -> Decision:
    """Credit (or reverse a credit of) a monetary balance; reports the amount before and after.

    A recharge of an account whose sessions got a Final-Unit-Indication lists those sessions
    in `Outcome.reauth_sessions` so the server can send them a Re-Auth-Request.
    """
    books = Books(snap, now, req.session_id, req.request_number)
    bal = _target(snap, req.balance_type)
    if bal is None or req.amount <= 0:
        return books.decision(Outcome(RECHARGE_INVALID,
                                      error_message="no such balance" if bal is None
                                      else "amount must be positive"))
    before = bal.amount
    if req.reversal and bal.amount - req.amount < bal.floor:
        out = Outcome(CREDIT_LIMIT_REACHED, error_message="reversal would go below the floor")
        out.amount_before = before
        return books.decision(out)
    if not req.cancel:
        books.change(bal, -req.amount if req.reversal else req.amount,
                     "reversal" if req.reversal else "recharge")
    out = Outcome(SUCCESS)
    out.amount_before = before
    if not req.reversal and not req.cancel:
        out.reauth_sessions = sorted({r.session_id for r in books.reservations.values() if r.final}
                                     | {s.session_id for s in books.sessions.values() if s.final})
        if snap.account.state is AccountState.EXPIRED:
            books.snap.account.state = AccountState.ACTIVE
    dec = books.decision(out)
    # report the balance recharged (the main one unless another was named)
    out.balance = bal.amount
    out.balance_change = bal.amount - before
    if not req.cancel and not req.reversal and snap.account.state is AccountState.ACTIVE:
        dec.account_state = AccountState.ACTIVE.value
    return dec


def set_state(snap: Snapshot, state: AccountState, now: float) -> Decision:
    books = Books(snap, now)
    dec = books.decision(Outcome(SUCCESS))
    dec.account_state = state.value
    return dec


def adjust(snap: Snapshot, balance_id: int, delta: int, now: float, op: str = "adjust") -> Decision:
    """Administrative change of one balance (never below its floor)."""
    books = Books(snap, now)
    bal = snap.balance(balance_id)
    if bal.amount + delta < bal.floor:
        return books.decision(Outcome(CREDIT_LIMIT_REACHED, error_message="below the floor"))
    books.change(bal, delta, op)
    return books.decision(Outcome(SUCCESS))


def default_balances(kind_code: int, amount: int, credit_limit: int = 0) -> list[Balance]:
    """Balances of a new account: a prepaid and/or postpaid main balance (ids assigned by storage)."""
    out = []
    if kind_code in (1, 3):
        out.append(Balance(0, 0, UnitKind.MONEY, amount, BalanceType.PREPAID_MAIN, priority=30))
    if kind_code in (2, 3):
        out.append(Balance(0, 0, UnitKind.MONEY, 0 if kind_code == 3 else amount,
                           BalanceType.POSTPAID_MAIN, floor=-credit_limit, priority=40))
    return out
