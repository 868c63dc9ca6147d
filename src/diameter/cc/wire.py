"""Between the typed Diameter commands and the credit-control value types.

Server side: :func:`parse_ccr` (a decoded CCR -> :class:`CCRequest`) and :func:`build_cca`
(:class:`CCResult` -> CCA). Client side: :func:`build_ccr` and :func:`parse_cca`
(-> :class:`AnswerView`). Pure functions; no I/O.
"""
from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..message import Avp, Message
from . import fastwire as fw
from .ccr_walk import ccr_request
from ..message.avp import grouped as _grouped
from ..message.commands import CreditControlAnswer, CreditControlRequest
from .types import (CCRequest, CCResult, FinalUnit, FinalUnitAction, Grant, Money, Units)

log = logging.getLogger("diameter.cc")

# the grouped AVP classes are built by a decorator mypy cannot follow: use them untyped
_G: Any = _grouped
CcMoney, UnitValue, GrantedServiceUnit, UsedServiceUnit = _G.CcMoney, _G.UnitValue, _G.GrantedServiceUnit, _G.UsedServiceUnit
RequestedServiceUnit, FinalUnitIndication, RedirectServer = _G.RequestedServiceUnit, _G.FinalUnitIndication, _G.RedirectServer
MultipleServicesCreditControl, SubscriptionId, Trigger = _G.MultipleServicesCreditControl, _G.SubscriptionId, _G.Trigger

APP_CC = 4


def _s(v: Any) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


# ---------------------------------------------------------------- units ---
def units_from(g: Any) -> Units | None:
    """Units of a Granted/Requested/Used-Service-Unit group (None when absent)."""
    if g is None:
        return None
    money = None
    m = g.cc_money
    if m is not None and m.unit_value is not None:
        money = Money(m.unit_value.value_digits or 0, m.unit_value.exponent or 0, m.currency_code)
    return Units(g.cc_time, g.cc_total_octets, g.cc_input_octets, g.cc_output_octets,
                 g.cc_service_specific_units, money)


def _money(m: Money | None) -> Any:
    if m is None:
        return None
    return CcMoney(unit_value=UnitValue(value_digits=m.value_digits, exponent=m.exponent or None),
                   currency_code=m.currency)


def gsu(u: Units) -> Any:
    return GrantedServiceUnit(cc_time=u.time, cc_money=_money(u.money), cc_total_octets=u.total_octets,
                              cc_input_octets=u.input_octets, cc_output_octets=u.output_octets,
                              cc_service_specific_units=u.service_specific)


def usu(u: Units, reason: int | None = None) -> Any:
    return UsedServiceUnit(cc_time=u.time, cc_money=_money(u.money), cc_total_octets=u.total_octets,
                           cc_input_octets=u.input_octets, cc_output_octets=u.output_octets,
                           cc_service_specific_units=u.service_specific, reporting_reason=reason)


def final_unit_from(f: Any) -> FinalUnit | None:
    if f is None or f.final_unit_action is None:
        return None
    try:
        action = FinalUnitAction(f.final_unit_action)
    except ValueError:
        log.warning("unknown Final-Unit-Action %r treated as TERMINATE", f.final_unit_action)
        action = FinalUnitAction.TERMINATE
    rs = f.redirect_server
    return FinalUnit(action, rs.redirect_address_type if rs else None, rs.redirect_server_address if rs else None,
                     tuple(f.restriction_filter_rule or ()), tuple(f.filter_id or ()))


def fui(f: FinalUnit) -> Any:
    rs = None
    if f.redirect_server_address is not None:
        rs = RedirectServer(redirect_address_type=f.redirect_address_type or 0,
                            redirect_server_address=f.redirect_server_address)
    return FinalUnitIndication(final_unit_action=int(f.action), restriction_filter_rule=list(f.restriction_filter_rules),
                               filter_id=list(f.filter_ids), redirect_server=rs)


# ------------------------------------------------------------ server side ---
def parse_ccr(msg: Any, *, peer: str = "", dialect: str = "3gpp", raw: bytes | None = None) -> CCRequest:
    """The :class:`CCRequest` view of a decoded CCR (``raw``: its bytes, when at hand).

    Raises ValueError for a CC-Request-Type it does not know and AvpDecodeError for malformed
    credit-control AVPs.
    """
    buf = raw if raw is not None else msg.as_bytes()
    return ccr_request(msg, buf, peer, dialect)


_CCA_TOP = {fw.SESSION_ID: 0, fw.RESULT_CODE: 1, fw.MSCC: 2, fw.CC_REQUEST_TYPE: 3, fw.CC_REQUEST_NUMBER: 4,
            fw.ORIGIN_HOST: 5, fw.CCFH_AVP: 6, fw.DDFH_AVP: 7, fw.CC_SESSION_FAILOVER: 8, fw.VALIDITY_TIME: 9,
            fw.GSU: 10, fw.FUI: 11}


def extra_avp(a: Any) -> Avp:
    if isinstance(a, Avp):
        return a
    code, vendor, value = a
    avp: Avp = Avp.new(code, vendor or 0, value=value)
    return avp


def build_cca(msg: Any, req: CCRequest, res: CCResult, origin_host: bytes, origin_realm: bytes,
              auth_app_id: int = APP_CC) -> CreditControlAnswer:
    """The CCA for ``res`` answering the CCR ``msg`` (parsed as ``req``)."""
    a: CreditControlAnswer = msg.to_answer()
    a.session_id = req.session_id
    a.result_code = res.result_code
    a.origin_host = origin_host
    a.origin_realm = origin_realm
    a.auth_application_id = auth_app_id
    a.cc_request_type = int(req.request_type)
    a.cc_request_number = req.request_number
    if res.error_message:
        a.error_message = res.error_message
    if res.validity_time is not None and not req.top_level_units:
        a.validity_time = res.validity_time
    if res.cost_information is not None:
        a.cost_information = res.cost_information
    if res.credit_control_failure_handling is not None:
        a.credit_control_failure_handling = res.credit_control_failure_handling
    if res.direct_debiting_failure_handling is not None:
        a.direct_debiting_failure_handling = res.direct_debiting_failure_handling
    if res.cc_session_failover is not None:
        a.cc_session_failover = res.cc_session_failover
    if res.final_unit is not None:
        a.final_unit_indication = fui(res.final_unit)
    if req.top_level_units:
        if res.grants:
            g = res.grants[0]
            if g.granted is not None:
                a.granted_service_unit = gsu(g.granted)
            if g.final_unit is not None:
                a.final_unit_indication = fui(g.final_unit)
            vt = g.validity_time if g.validity_time is not None else res.validity_time
            if vt is not None:
                a.validity_time = vt
    else:
        out = []
        for g in res.grants:
            out.append(MultipleServicesCreditControl(
                granted_service_unit=gsu(g.granted) if g.granted is not None else None,
                service_identifier=list(g.service_identifiers), rating_group=g.rating_group,
                validity_time=g.validity_time, result_code=g.result_code,
                final_unit_indication=fui(g.final_unit) if g.final_unit is not None else None,
                time_quota_threshold=g.time_quota_threshold, volume_quota_threshold=g.volume_quota_threshold,
                quota_holding_time=g.quota_holding_time,
                trigger=Trigger(trigger_type=list(g.triggers)) if g.triggers else None))
        if out:
            a.multiple_services_credit_control = out
    for x in res.extra_avps:
        a.append_avp(extra_avp(x))
    return a


# ------------------------------------------------------------ client side ---
@dataclass(slots=True)
class Usage:
    """What the client reports/asks for one rating group in a CCR."""
    rating_group: int | None = None
    service_identifiers: list[int] = field(default_factory=list)
    requested: Units | None = None
    used: Units | None = None
    reporting_reason: int | None = None


class AnswerView:
    """What the client core needs from a CCA; ``message`` is the decoded CCA (decoded on first access)."""

    __slots__ = ("session_id", "result_code", "request_type", "request_number", "origin_host", "grants", "ccfh",
                 "ddfh", "failover", "validity_time", "final_unit", "raw", "_message")

    def __init__(self, session_id: str, result_code: int | None, request_type: int | None,
                 request_number: int | None, origin_host: str = "", grants: list[Grant] | None = None,
                 ccfh: int | None = None, ddfh: int | None = None, failover: int | None = None,
                 validity_time: int | None = None, final_unit: FinalUnit | None = None, message: Any = None,
                 raw: bytes | None = None) -> None:
        self.session_id = session_id
        self.result_code = result_code
        self.request_type = request_type
        self.request_number = request_number
        self.origin_host = origin_host
        self.grants: list[Grant] = grants if grants is not None else []
        self.ccfh = ccfh
        self.ddfh = ddfh
        self.failover = failover
        self.validity_time = validity_time
        self.final_unit = final_unit
        self.raw = raw
        self._message = message

    @property
    def message(self) -> Any:
        if self._message is None and self.raw is not None:
            self._message = Message.from_bytes(self.raw)
        return self._message

    def __repr__(self) -> str:
        return (f"AnswerView({self.session_id!r}, result_code={self.result_code}, "
                f"request={self.request_type}/{self.request_number}, grants={self.grants!r})")


def parse_cca(msg: Any) -> AnswerView:
    """The :class:`AnswerView` of a CCA (bytes or a decoded message); top-level units become a
    grant with rating_group None."""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        buf, typed = bytes(msg), None
    else:
        buf, typed = msg.as_bytes(), msg
    v = AnswerView("", None, None, None, message=typed, raw=buf)
    gsu_top = None
    uint = fw.uint
    for e in fw.scan(buf, 20, len(buf)):
        k = _CCA_TOP.get(e[0])
        if k is None or e[1]:
            continue
        if k == 0:
            v.session_id = buf[e[4]:e[5]].decode("utf-8", "replace")
        elif k == 1:
            v.result_code = uint(buf, e)
        elif k == 2:
            v.grants.append(fw.grant(buf, e[4], e[5]))
        elif k == 3:
            v.request_type = uint(buf, e)
        elif k == 4:
            v.request_number = uint(buf, e)
        elif k == 5:
            v.origin_host = buf[e[4]:e[5]].decode("utf-8", "replace")
        elif k == 6:
            v.ccfh = uint(buf, e)
        elif k == 7:
            v.ddfh = uint(buf, e)
        elif k == 8:
            v.failover = uint(buf, e)
        elif k == 9:
            v.validity_time = uint(buf, e)
        elif k == 10:
            gsu_top = fw.units(buf, e[4], e[5])[0]
        else:
            v.final_unit = fw.final_unit(buf, e[4], e[5])
    if not v.grants and gsu_top is not None:
        v.grants.append(Grant(None, [], gsu_top, None, v.validity_time, final_unit=v.final_unit))
    return v


def build_ccr(*, session_id: str, request_type: int, request_number: int, origin_host: str, origin_realm: str,
              destination_realm: str, destination_host: str | None, service_context_id: str,
              subscription_ids: list[tuple[int, str]] = (), usages: list[Usage] = (),  # type: ignore[assignment]
              requested_action: int | None = None, termination_cause: int | None = None,
              user_name: str | None = None, event_timestamp: datetime.datetime | None = None,
              retransmit: bool = False, auth_app_id: int = APP_CC, top_level: bool = False,
              extra_avps: list[Any] = ()) -> CreditControlRequest:  # type: ignore[assignment]
    """A CCR carrying ``usages`` as MSCCs (or at the top level with ``top_level``)."""
    r = CreditControlRequest()
    r.header.application_id = auth_app_id
    r.session_id = session_id
    r.origin_host = origin_host.encode()
    r.origin_realm = origin_realm.encode()
    r.destination_realm = destination_realm.encode()
    if destination_host:
        r.destination_host = destination_host.encode()
    r.auth_application_id = auth_app_id
    r.service_context_id = service_context_id
    r.cc_request_type = request_type
    r.cc_request_number = request_number
    r.event_timestamp = event_timestamp or _now_second()
    if user_name:
        r.user_name = user_name
    if subscription_ids:
        r.subscription_id = [SubscriptionId(t, d) for t, d in subscription_ids]
    if requested_action is not None:
        r.requested_action = requested_action
    if termination_cause is not None:
        r.termination_cause = termination_cause
    if top_level:
        for u in usages:
            if u.requested is not None:
                r.requested_service_unit = RequestedServiceUnit(**_gsu_kw(u.requested))
            if u.used is not None:
                r.used_service_unit = [usu(u.used, u.reporting_reason)]
            if u.service_identifiers:
                r.service_identifier = u.service_identifiers[0]
    elif usages:
        r.multiple_services_indicator = 1
        out = []
        for u in usages:
            out.append(MultipleServicesCreditControl(
                requested_service_unit=RequestedServiceUnit(**_gsu_kw(u.requested)) if u.requested is not None else None,
                used_service_unit=[usu(u.used, None)] if u.used is not None else [],
                service_identifier=list(u.service_identifiers), rating_group=u.rating_group,
                reporting_reason=[u.reporting_reason] if u.reporting_reason is not None else []))
        r.multiple_services_credit_control = out
    if retransmit:
        r.header.is_retransmit = True
    for x in extra_avps:
        r.append_avp(extra_avp(x))
    return r


_TS: list[Any] = [0, None]


def _now_second() -> datetime.datetime:
    """Now, to the second (Event-Timestamp's resolution), made once per second."""
    t = int(time.time())
    if _TS[0] != t:
        _TS[0], _TS[1] = t, datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    ts: datetime.datetime = _TS[1]
    return ts


def _gsu_kw(u: Units) -> dict[str, Any]:
    return dict(cc_time=u.time, cc_money=_money(u.money), cc_total_octets=u.total_octets,
                cc_input_octets=u.input_octets, cc_output_octets=u.output_octets,
                cc_service_specific_units=u.service_specific)
