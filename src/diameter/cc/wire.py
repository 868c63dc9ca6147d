"""Between the typed Diameter commands and the credit-control value types.

Server side: :func:`parse_ccr` (a decoded CCR -> :class:`CCRequest`) and :func:`build_cca`
(:class:`CCResult` -> CCA). Client side: :func:`build_ccr` and :func:`parse_cca`
(-> :class:`AnswerView`). Pure functions; no I/O.
"""
from __future__ import annotations

import datetime
import logging
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from ..message import Avp, Message
from . import fastwire as fw
from ..message.avp import grouped as _grouped
from ..message.commands import CreditControlAnswer, CreditControlRequest
from .types import (CCRequest, CCResult, FinalUnit, FinalUnitAction, Grant, Money, MsccRequest,
                    RequestType, Units)

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
    sid = oh = orealm = ""
    rtype = number = None
    mscc: list[MsccRequest] = []
    rsu = None
    usus: list[tuple[Units, int | None]] = []
    sids: list[int] = []
    text, uint, units = fw.text, fw.uint, fw.units
    for e in fw.scan(buf, 20, len(buf)):
        k = _CCR_TOP.get(e[0])
        if k is None or e[1]:
            continue
        if k == 0:
            sid = text(buf, e)
        elif k == 1:
            mscc.append(fw.mscc_request(buf, e[4], e[5]))
        elif k == 2:
            rtype = uint(buf, e)
        elif k == 3:
            number = uint(buf, e)
        elif k == 4:
            oh = text(buf, e)
        elif k == 5:
            orealm = text(buf, e)
        elif k == 6:
            rsu = units(buf, e[4], e[5])[0]
        elif k == 7:
            usus.append(units(buf, e[4], e[5]))
        else:
            sids.append(uint(buf, e))
    try:
        rt = _REQUEST_TYPES[rtype]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"bad CC-Request-Type {rtype!r}") from None
    top = False
    if not mscc and (rsu is not None or usus):
        top = True
        mscc.append(MsccRequest(None, sids[:1], rsu, [u for u, _ in usus], [r for _, r in usus if r is not None]))
    return CCRequest(sid, rt, number or 0, bool(buf[4] & 0x10), oh, orealm, peer or oh, dialect,
                     mscc=mscc, top_level_units=top, message=msg)


_REQUEST_TYPES = {int(t): t for t in RequestType}
_CCR_TOP = {fw.SESSION_ID: 0, fw.MSCC: 1, fw.CC_REQUEST_TYPE: 2, fw.CC_REQUEST_NUMBER: 3, fw.ORIGIN_HOST: 4,
            fw.ORIGIN_REALM: 5, fw.RSU: 6, fw.USU: 7, fw.SERVICE_IDENTIFIER: 8}
_CCA_TOP = {fw.SESSION_ID: 0, fw.RESULT_CODE: 1, fw.MSCC: 2, fw.CC_REQUEST_TYPE: 3, fw.CC_REQUEST_NUMBER: 4,
            fw.ORIGIN_HOST: 5, fw.CCFH_AVP: 6, fw.DDFH_AVP: 7, fw.CC_SESSION_FAILOVER: 8, fw.VALIDITY_TIME: 9,
            fw.GSU: 10, fw.FUI: 11}


def _extra(a: Any) -> Avp:
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
        a.append_avp(_extra(x))
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
    text, uint = fw.text, fw.uint
    for e in fw.scan(buf, 20, len(buf)):
        k = _CCA_TOP.get(e[0])
        if k is None or e[1]:
            continue
        if k == 0:
            v.session_id = text(buf, e)
        elif k == 1:
            v.result_code = uint(buf, e)
        elif k == 2:
            v.grants.append(fw.grant(buf, e[4], e[5]))
        elif k == 3:
            v.request_type = uint(buf, e)
        elif k == 4:
            v.request_number = uint(buf, e)
        elif k == 5:
            v.origin_host = text(buf, e)
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
        r.append_avp(_extra(x))
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


# ------------------------------------------------------- fast CCR encoding ---
_MSG_HDR = struct.Struct("!B3sB3sIII")
_NTP_OFFSET = 2208988800
_TS_AVP: list[Any] = [0, b""]
FLAG_REQUEST_PROXYABLE = 0xC0
FLAG_RETRANSMIT = 0x10
AVP_DESTINATION_HOST = 293
AVP_EVENT_TIMESTAMP = 55
AVP_TERMINATION_CAUSE = 295
AVP_REQUESTED_ACTION = 436
AVP_MULTIPLE_SERVICES_INDICATOR = 455
_MSI_1 = fw.enc_u32(AVP_MULTIPLE_SERVICES_INDICATOR, 1)


def _event_timestamp() -> bytes:
    """Event-Timestamp AVP for now (Time: NTP seconds), made once per second."""
    t = int(time.time())
    if _TS_AVP[0] != t:
        _TS_AVP[0], _TS_AVP[1] = t, fw.enc_u32(AVP_EVENT_TIMESTAMP, (t + _NTP_OFFSET) & 0xFFFFFFFF)
    out: bytes = _TS_AVP[1]
    return out


def _units_avps(u: Units, reason: int | None = None) -> list[bytes]:
    out = []
    if u.time is not None:
        out.append(fw.enc_u32(fw.CC_TIME, u.time))
    if u.money is not None:
        m = u.money
        uv = [fw.enc_bytes(fw.VALUE_DIGITS, struct.pack("!q", m.value_digits))]
        if m.exponent:
            uv.append(fw.enc_bytes(fw.EXPONENT, struct.pack("!i", m.exponent)))
        money = [fw.enc_group(fw.UNIT_VALUE, b"".join(uv))]
        if m.currency is not None:
            money.append(fw.enc_u32(fw.CURRENCY_CODE, m.currency))
        out.append(fw.enc_group(fw.CC_MONEY, b"".join(money)))
    if u.total_octets is not None:
        out.append(fw.enc_u64(fw.CC_TOTAL, u.total_octets))
    if u.input_octets is not None:
        out.append(fw.enc_u64(fw.CC_INPUT, u.input_octets))
    if u.output_octets is not None:
        out.append(fw.enc_u64(fw.CC_OUTPUT, u.output_octets))
    if u.service_specific is not None:
        out.append(fw.enc_u64(fw.CC_SERVICE_SPECIFIC, u.service_specific))
    if reason is not None:
        out.append(fw.enc_vu32(fw.REPORTING_REASON, reason))
    return out


class CcrTemplate:
    """A session's CCRs: the AVPs that never change are encoded once (through the typed
    :class:`CreditControlRequest`, so ``fields`` and ``extra_avps`` may hold anything it can encode),
    the per-request ones (CC-Request-Type/Number, Event-Timestamp, units...) on each :meth:`encode`."""

    def __init__(self, *, session_id: str, origin_host: str, origin_realm: str, destination_realm: str,
                 service_context_id: str, subscription_ids: list[tuple[int, str]] = (),  # type: ignore[assignment]
                 user_name: str | None = None, auth_app_id: int = APP_CC, top_level: bool = False,
                 fields: dict[str, Any] | None = None, extra_avps: list[Any] = ()) -> None:  # type: ignore[assignment]
        r = CreditControlRequest()
        r.session_id = session_id
        r.origin_host = origin_host.encode()
        r.origin_realm = origin_realm.encode()
        r.destination_realm = destination_realm.encode()
        r.auth_application_id = auth_app_id
        r.service_context_id = service_context_id
        if user_name:
            r.user_name = user_name
        if subscription_ids:
            r.subscription_id = [SubscriptionId(t, d) for t, d in subscription_ids]
        for k, v in (fields or {}).items():
            setattr(r, k, v)
        for x in extra_avps:
            r.append_avp(_extra(x))
        self.static = r.as_bytes()[20:]
        self.app_id = auth_app_id
        self.top_level = top_level

    def encode(self, request_type: int, request_number: int, usages: list[Usage] = (),  # type: ignore[assignment]
               *, destination_host: str | None = None, requested_action: int | None = None,
               termination_cause: int | None = None, retransmit: bool = False) -> bytes:
        """The whole CCR (hop-by-hop and end-to-end ids 0: the node sets them)."""
        parts = [self.static, fw.enc_u32(fw.CC_REQUEST_TYPE, request_type), fw.enc_u32(fw.CC_REQUEST_NUMBER, request_number),
                 _event_timestamp()]
        if destination_host:
            parts.append(fw.enc_bytes(AVP_DESTINATION_HOST, destination_host.encode()))
        if requested_action is not None:
            parts.append(fw.enc_u32(AVP_REQUESTED_ACTION, requested_action))
        if termination_cause is not None:
            parts.append(fw.enc_u32(AVP_TERMINATION_CAUSE, termination_cause))
        if self.top_level:
            for u in usages:
                if u.requested is not None:
                    parts.append(fw.enc_group(fw.RSU, b"".join(_units_avps(u.requested))))
                if u.used is not None:
                    parts.append(fw.enc_group(fw.USU, b"".join(_units_avps(u.used, u.reporting_reason))))
                if u.service_identifiers:
                    parts.append(fw.enc_u32(fw.SERVICE_IDENTIFIER, u.service_identifiers[0]))
        elif usages:
            parts.append(_MSI_1)
            for u in usages:
                m = []
                if u.requested is not None:
                    m.append(fw.enc_group(fw.RSU, b"".join(_units_avps(u.requested))))
                if u.used is not None:
                    m.append(fw.enc_group(fw.USU, b"".join(_units_avps(u.used))))
                for si in u.service_identifiers:
                    m.append(fw.enc_u32(fw.SERVICE_IDENTIFIER, si))
                if u.rating_group is not None:
                    m.append(fw.enc_u32(fw.RATING_GROUP, u.rating_group))
                if u.reporting_reason is not None:
                    m.append(fw.enc_vu32(fw.REPORTING_REASON, u.reporting_reason))
                parts.append(fw.enc_group(fw.MSCC, b"".join(m)))
        body = b"".join(parts)
        flags = FLAG_REQUEST_PROXYABLE | (FLAG_RETRANSMIT if retransmit else 0)
        return _MSG_HDR.pack(1, (len(body) + 20).to_bytes(3, "big"), flags, (272).to_bytes(3, "big"),
                             self.app_id, 0, 0) + body


# ------------------------------------------------------- fast CCA encoding ---
AVP_AUTH_APPLICATION_ID = 258
AVP_ERROR_MESSAGE = 281


def _fui_avp(f: FinalUnit) -> bytes:
    m = [fw.enc_u32(fw.FINAL_UNIT_ACTION, int(f.action))]
    m += [fw.enc_bytes(fw.RESTRICTION_FILTER_RULE, r) for r in f.restriction_filter_rules]
    m += [fw.enc_bytes(fw.FILTER_ID, x.encode()) for x in f.filter_ids]
    if f.redirect_server_address is not None:
        m.append(fw.enc_group(fw.REDIRECT_SERVER, fw.enc_u32(fw.REDIRECT_ADDRESS_TYPE, f.redirect_address_type or 0)
                              + fw.enc_bytes(fw.REDIRECT_SERVER_ADDRESS, f.redirect_server_address.encode())))
    return fw.enc_group(fw.FUI, b"".join(m))


def _grant_avps(g: Grant) -> list[bytes]:
    m = []
    if g.granted is not None:
        m.append(fw.enc_group(fw.GSU, b"".join(_units_avps(g.granted))))
    for si in g.service_identifiers:
        m.append(fw.enc_u32(fw.SERVICE_IDENTIFIER, si))
    if g.rating_group is not None:
        m.append(fw.enc_u32(fw.RATING_GROUP, g.rating_group))
    if g.validity_time is not None:
        m.append(fw.enc_u32(fw.VALIDITY_TIME, g.validity_time))
    if g.result_code is not None:
        m.append(fw.enc_u32(fw.RESULT_CODE, g.result_code))
    if g.final_unit is not None:
        m.append(_fui_avp(g.final_unit))
    if g.time_quota_threshold is not None:
        m.append(fw.enc_vu32(fw.TIME_QUOTA_THRESHOLD, g.time_quota_threshold))
    if g.volume_quota_threshold is not None:
        m.append(fw.enc_vu32(fw.VOLUME_QUOTA_THRESHOLD, g.volume_quota_threshold))
    if g.quota_holding_time is not None:
        m.append(fw.enc_vu32(fw.QUOTA_HOLDING_TIME, g.quota_holding_time))
    if g.triggers:
        m.append(fw.enc_group(fw.TRIGGER, b"".join(fw.enc_vu32(fw.TRIGGER_TYPE, t) for t in g.triggers), fw.TGPP))
    return m


class CcaEncoder:
    """Encodes CCAs from :class:`CCResult` straight to bytes (Origin-*, Auth-Application-Id once).

    Results carrying typed objects (``cost_information``, ``extra_avps``) go through
    :func:`build_cca` instead; both give the same AVPs.
    """

    def __init__(self, origin_host: bytes, origin_realm: bytes, auth_app_id: int = APP_CC) -> None:
        self.origin_host, self.origin_realm, self.auth_app_id = origin_host, origin_realm, auth_app_id
        self.static = fw.enc_bytes(fw.ORIGIN_HOST, origin_host) + fw.enc_bytes(fw.ORIGIN_REALM, origin_realm) + \
            fw.enc_u32(AVP_AUTH_APPLICATION_ID, auth_app_id)

    def encode(self, msg: Any, raw: bytes, req: CCRequest, res: CCResult) -> bytes:
        """The CCA answering the CCR ``raw`` (decoded as ``msg``, parsed as ``req``)."""
        if res.cost_information is not None or res.extra_avps:
            return build_cca(msg, req, res, self.origin_host, self.origin_realm, self.auth_app_id).as_bytes()
        parts = [fw.enc_bytes(fw.SESSION_ID, req.session_id.encode()), fw.enc_u32(fw.RESULT_CODE, res.result_code),
                 self.static, fw.enc_u32(fw.CC_REQUEST_TYPE, int(req.request_type)),
                 fw.enc_u32(fw.CC_REQUEST_NUMBER, req.request_number)]
        if res.cc_session_failover is not None:
            parts.append(fw.enc_u32(fw.CC_SESSION_FAILOVER, res.cc_session_failover))
        top_fu = res.final_unit
        vt = res.validity_time
        if req.top_level_units:
            if res.grants:
                g = res.grants[0]
                if g.granted is not None:
                    parts.append(fw.enc_group(fw.GSU, b"".join(_units_avps(g.granted))))
                top_fu = g.final_unit or top_fu
                vt = g.validity_time if g.validity_time is not None else vt
        else:
            for g in res.grants:
                parts.append(fw.enc_group(fw.MSCC, b"".join(_grant_avps(g))))
        if top_fu is not None:
            parts.append(_fui_avp(top_fu))
        if res.credit_control_failure_handling is not None:
            parts.append(fw.enc_u32(fw.CCFH_AVP, res.credit_control_failure_handling))
        if vt is not None:
            parts.append(fw.enc_u32(fw.VALIDITY_TIME, vt))
        if res.direct_debiting_failure_handling is not None:
            parts.append(fw.enc_u32(fw.DDFH_AVP, res.direct_debiting_failure_handling))
        if res.error_message:
            parts.append(fw.enc_bytes(AVP_ERROR_MESSAGE, res.error_message.encode()[:1000], mandatory=False))
        body = b"".join(parts)
        return _MSG_HDR.pack(1, (len(body) + 20).to_bytes(3, "big"), raw[4] & 0x40, raw[5:8],
                             *_IDS3.unpack_from(raw, 8)) + body


_IDS3 = struct.Struct("!III")
