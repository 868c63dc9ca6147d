"""Huawei DCC extras on RFC 4006 messages: balance query, recharge, Account-Change-Info.

Huawei's charging clients (OCG and other NEs) ask for these in a CCR (an EVENT request)
with vendor-2011 AVPs in IN-Information (at the top level, or inside 3GPP
Service-Information):

* balance query: ``IN-Information { Account-Query-Method, [Account-Type] }``; the CCA
  carries ``IN-Information { AccountInfo*, Balance-Info* }``;
* recharge: ``IN-Information { Recharge-Information { [Charge-Number], Charge-Money
  { Money-Value }, [Account-Type], [ABM-Operation-Type] }, [Charge-Confirm-Flag] }``;
  the CCA carries ``IN-Information { Amount-Before-Recharge, Recharge-Information
  { Charge-Money { Money-Value, New-Money } }, Account-Change-Info }``;
* after charging, a CCA to a ``huawei`` dialect peer carries ``IN-Information
  { Account-Change-Info { AccountID, Account-Type, Current-Account-Balance,
  Account-Balance-Change } }``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ..message import Avp
from .model import BalanceType, Outcome, Snapshot, UnitKind

HUAWEI = 2011
TGPP = 10415
IN_INFORMATION = 20300
SERVICE_INFORMATION = 873
ACCOUNT_QUERY_METHOD = 20346
ACCOUNT_TYPE = 20372
RECHARGE_INFORMATION = 20341
CHARGE_NUMBER = 20326
CHARGE_MONEY = 20344
MONEY_VALUE = 20328
NEW_MONEY = 22995
CARD_MONEY = 20378
ABM_OPERATION_TYPE = 30336
CHARGE_CONFIRM_FLAG = 20347
AMOUNT_BEFORE_RECHARGE = 20914
ACCOUNT_CHANGE_INFO = 20349
CURRENT_ACCOUNT_BALANCE = 20350
ACCOUNT_BALANCE_CHANGE = 20351
ACCOUNT_ID = 20357
ACCOUNT_INFO = 20356
ACCOUNT_DATE = 20359
LIFECYCLE_STATE = 20772
BALANCE_INFO = 60001
PAYMENT_TYPE = 60002
BALANCE_CATEGORY = 60003
BALANCE_ID = 60004
BALANCE_TYPE = 60005
CURRENT_BALANCE = 60006
BALANCE_DATE = 60007
MEASURE_TYPE = 20353
CURRENCY_CODE = 425
CC_MONEY = 413
UNIT_VALUE = 445
VALUE_DIGITS = 447
EXPONENT = 429

_MEASURE = {UnitKind.TIME: 1, UnitKind.OCTETS: 2, UnitKind.EVENTS: 3, UnitKind.MONEY: 4}


def in_information(msg: Any) -> list[Any]:
    """The IN-Information groups of a message, top level first, then in Service-Information."""
    found = list(msg.find_avps((IN_INFORMATION, HUAWEI)))
    found += msg.find_avps((SERVICE_INFORMATION, TGPP), (IN_INFORMATION, HUAWEI))
    return found


def _child(group: Any, code: int, vendor: int = HUAWEI) -> Any:
    for a in group.value or ():
        if a.code == code and a.vendor_id == vendor:
            return a
    return None


def _value(group: Any, code: int, vendor: int = HUAWEI) -> Any:
    a = _child(group, code, vendor)
    return None if a is None else a.value


@dataclass
class BalanceQuery:
    method: int
    account_type: int | None


@dataclass
class Recharge:
    amount: int
    reversal: bool
    cancel: bool
    account_type: int | None
    charge_number: str | None


def balance_query(msg: Any) -> BalanceQuery | None:
    for info in in_information(msg):
        method = _value(info, ACCOUNT_QUERY_METHOD)
        if method is not None:
            return BalanceQuery(int(method), _value(info, ACCOUNT_TYPE))
    return None


def recharge(msg: Any) -> Recharge | None:
    """The recharge a CCR asks for; amount 0 when it names none (answered 5004)."""
    for info in in_information(msg):
        rch = _child(info, RECHARGE_INFORMATION)
        if rch is None:
            continue
        amount = None
        cm = _child(rch, CHARGE_MONEY)
        if cm is not None:
            amount = _value(cm, MONEY_VALUE)
        if amount is None:
            amount = _value(rch, MONEY_VALUE)
        if amount is None:
            amount = _value(rch, CARD_MONEY)
        abm = _value(rch, ABM_OPERATION_TYPE)
        if abm is None:
            abm = _value(info, ABM_OPERATION_TYPE)
        confirm = _value(info, CHARGE_CONFIRM_FLAG)
        if confirm is None:
            confirm = _value(rch, CHARGE_CONFIRM_FLAG)
        account_type = _value(rch, ACCOUNT_TYPE)
        if account_type is None:
            account_type = _value(info, ACCOUNT_TYPE)
        number = _value(rch, CHARGE_NUMBER)
        if isinstance(number, bytes):
            number = number.decode("utf-8", "replace")
        return Recharge(int(amount or 0), abm == 1, confirm == 1, account_type, number or None)
    return None


def _avp(code: int, value: Any, vendor: int = HUAWEI) -> Any:
    return Avp.new(code, vendor, value=value)


def cc_money(amount: int, currency: int, exponent: int = -2) -> Any:
    unit = _avp(UNIT_VALUE, [_avp(VALUE_DIGITS, amount, 0), _avp(EXPONENT, exponent, 0)], 0)
    return _avp(CC_MONEY, [unit, _avp(CURRENCY_CODE, currency, 0)], 0)


def _date(ts: float | None) -> bytes:
    if ts is None:
        return b"20371231235959"
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y%m%d%H%M%S").encode()


def account_info(snap: Snapshot, query: BalanceQuery) -> Any:
    """IN-Information with AccountInfo (monetary balances) and Balance-Info (all) groups."""
    acc = snap.account
    children: list[Any] = []
    bals = [b for b in snap.balances if query.account_type in (None, b.type_code)]
    if query.method == 2:  # the core balance only
        main = snap.main_balance()
        bals = [main] if main is not None else []
    for b in bals[:20]:
        if b.kind is UnitKind.MONEY:
            children.append(_avp(ACCOUNT_INFO, [
                _avp(ACCOUNT_ID, f"{acc.name}/{b.id}".encode()), _avp(ACCOUNT_TYPE, b.type_code),
                cc_money(b.amount, acc.currency), _avp(ACCOUNT_DATE, _date(b.valid_until)),
                _avp(LIFECYCLE_STATE, acc.state.huawei_lifecycle)]))
    for b in bals[:20]:
        money = b.kind is UnitKind.MONEY
        members = [
            _avp(PAYMENT_TYPE, 1 if b.type_code == BalanceType.POSTPAID_MAIN else 0),
            _avp(BALANCE_CATEGORY, 0 if money else 2), _avp(BALANCE_ID, b.id),
            _avp(BALANCE_TYPE, b.type_code), _avp(CURRENT_BALANCE, b.amount),
            _avp(MEASURE_TYPE, _MEASURE[b.kind])]
        if b.valid_until is not None:
            members.append(_avp(BALANCE_DATE, datetime.datetime.fromtimestamp(
                b.valid_until, datetime.timezone.utc)))
        if money:
            members.append(_avp(CURRENCY_CODE, acc.currency, 0))
        children.append(_avp(BALANCE_INFO, members))
    return _avp(IN_INFORMATION, children)


def account_change(out: Outcome, account_name: str | None, account_type: int) -> Any:
    """Account-Change-Info for the main balance after a charge or a recharge."""
    members = []
    if account_name is not None:
        members.append(_avp(ACCOUNT_ID, account_name.encode()))
    members += [_avp(ACCOUNT_TYPE, account_type),
                _avp(CURRENT_ACCOUNT_BALANCE, out.balance or 0),
                _avp(ACCOUNT_BALANCE_CHANGE, out.balance_change)]
    return _avp(ACCOUNT_CHANGE_INFO, members)


def recharge_answer(out: Outcome, req: Recharge, account_name: str | None) -> Any:
    members = []
    if out.amount_before is not None:
        members.append(_avp(AMOUNT_BEFORE_RECHARGE, max(0, min(out.amount_before, 0xFFFFFFFF))))
    if out.balance is not None:
        members.append(_avp(RECHARGE_INFORMATION, [_avp(CHARGE_MONEY, [
            _avp(MONEY_VALUE, req.amount), _avp(NEW_MONEY, out.balance)])]))
        members.append(account_change(out, account_name,
                                      req.account_type or int(BalanceType.PREPAID_MAIN)))
    return _avp(IN_INFORMATION, members)


def change_info(out: Outcome, account_name: str | None, account_type: int) -> Any:
    return _avp(IN_INFORMATION, [account_change(out, account_name, account_type)])
