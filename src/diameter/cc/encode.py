"""Credit-control messages encoded straight to bytes.

:class:`CcrTemplate` encodes a session's constant CCR AVPs once (through the typed command, so
``fields`` and ``extra_avps`` may hold anything it can encode) and the per-request ones on each
call; :class:`CcaEncoder` encodes CCAs from :class:`~diameter.cc.types.CCResult`. Both give the
same AVPs as :func:`diameter.cc.wire.build_ccr` / :func:`~diameter.cc.wire.build_cca`, cheaper.
"""
from __future__ import annotations

import struct
import time
from typing import Any

from ..codec.types import NTP_UNIX_OFFSET as _NTP_OFFSET
from ..message.commands import CreditControlRequest
from . import fastwire as fw
from .types import CCRequest, CCResult, FinalUnit, Grant, Units
from .wire import APP_CC, SubscriptionId, Usage, extra_avp, build_cca

# ------------------------------------------------------- fast CCR encoding ---
_MSG_HDR = struct.Struct("!B3sB3sIII")
_TS_AVP: list[Any] = [0, b""]
FLAG_REQUEST_PROXYABLE = 0xC0
FLAG_RETRANSMIT = 0x10
AVP_DESTINATION_HOST = 293
AVP_EVENT_TIMESTAMP = 55
AVP_TERMINATION_CAUSE = 295
AVP_REQUESTED_ACTION = 436
AVP_MULTIPLE_SERVICES_INDICATOR = 455
AVP_DESTINATION_REALM = 283
AVP_AUTH_APPLICATION_ID = 258
AVP_SERVICE_CONTEXT_ID = 461
AVP_USER_NAME = 1
AVP_SUBSCRIPTION_ID = 443
AVP_SUBSCRIPTION_ID_TYPE = 450
AVP_SUBSCRIPTION_ID_DATA = 444
_MSI_1 = fw.enc_u32(AVP_MULTIPLE_SERVICES_INDICATOR, 1)


def _event_timestamp() -> bytes:
    """Event-Timestamp AVP for now (Time: NTP seconds), made once per second."""
    t = int(time.time())
    if _TS_AVP[0] != t:
        _TS_AVP[0], _TS_AVP[1] = t, fw.enc_u32(AVP_EVENT_TIMESTAMP, (t + _NTP_OFFSET) & 0xFFFFFFFF)
    out: bytes = _TS_AVP[1]
    return out


_BY_ID: dict[tuple[int, int, int | None], tuple[Units, bytes]] = {}
_BY_VALUE: dict[tuple[int, Units, int | None], bytes] = {}


def units_group(code: int, u: Units, reason: int | None = None) -> bytes:
    """A Requested/Used/Granted-Service-Unit AVP; equal units encode once (bounded caches: by
    identity first, which holds the object so its id is not reused meanwhile, then by value)."""
    key = (code, id(u), reason)
    hit = _BY_ID.get(key)
    if hit is not None and hit[0] is u:
        return hit[1]
    vkey = (code, u, reason)
    b = _BY_VALUE.get(vkey)
    if b is None:
        if len(_BY_VALUE) > 4096:
            _BY_VALUE.clear()
        b = _BY_VALUE[vkey] = fw.enc_group(code, b"".join(_units_avps(u, reason)))
    if len(_BY_ID) > 4096:
        _BY_ID.clear()
    _BY_ID[key] = (u, b)
    return b


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


def _static_parts(origin_host: str, origin_realm: str, destination_realm: str, auth_app_id: int,
                  service_context_id: str, user_name: str | None,
                  subscription_ids: tuple[tuple[int, str], ...]) -> tuple[bytes, bytes]:
    head = (fw.enc_bytes(fw.ORIGIN_HOST, origin_host.encode()) + fw.enc_bytes(fw.ORIGIN_REALM, origin_realm.encode())
            + fw.enc_bytes(AVP_DESTINATION_REALM, destination_realm.encode()))
    rest = [fw.enc_u32(AVP_AUTH_APPLICATION_ID, auth_app_id),
            fw.enc_bytes(AVP_SERVICE_CONTEXT_ID, service_context_id.encode())]
    if user_name:
        rest.append(fw.enc_bytes(AVP_USER_NAME, user_name.encode()))
    for t, d in subscription_ids:
        rest.append(fw.enc_group(AVP_SUBSCRIPTION_ID, fw.enc_u32(AVP_SUBSCRIPTION_ID_TYPE, t)
                                 + fw.enc_bytes(AVP_SUBSCRIPTION_ID_DATA, d.encode())))
    return head, b"".join(rest)


#: the constant AVPs of sessions of the same subscriber and service (bounded)
_STATIC: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}


class CcrTemplate:
    """A session's CCRs: the AVPs that never change are encoded once (through the typed
    :class:`CreditControlRequest`, so ``fields`` and ``extra_avps`` may hold anything it can encode),
    the per-request ones (CC-Request-Type/Number, Event-Timestamp, units...) on each :meth:`encode`."""

    def __init__(self, *, session_id: str, origin_host: str, origin_realm: str, destination_realm: str,
                 service_context_id: str, subscription_ids: list[tuple[int, str]] = (),  # type: ignore[assignment]
                 user_name: str | None = None, auth_app_id: int = APP_CC, top_level: bool = False,
                 fields: dict[str, Any] | None = None, extra_avps: list[Any] = ()) -> None:  # type: ignore[assignment]
        self.app_id = auth_app_id
        self.top_level = top_level
        if not fields and not extra_avps:  # the common case: no typed objects to encode
            key = (origin_host, origin_realm, destination_realm, auth_app_id, service_context_id, user_name,
                   tuple(subscription_ids))
            parts = _STATIC.get(key)
            if parts is None:
                parts = _STATIC[key] = _static_parts(*key)
                if len(_STATIC) > 1024:
                    _STATIC.clear()
                    _STATIC[key] = parts
            self.head = fw.enc_bytes(fw.SESSION_ID, session_id.encode()) + parts[0]
            self.static = parts[1]
            return
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
            r.append_avp(extra_avp(x))
        body = r.as_bytes()[20:]
        cut = len(body)  # Destination-Host goes right after Destination-Realm: the node finds both early
        for e in fw.scan(body, 0, len(body)):
            if e[0] == AVP_DESTINATION_REALM and not e[1]:
                cut = (e[5] + 3) & ~3
                break
        self.head, self.static = body[:cut], body[cut:]

    def encode(self, request_type: int, request_number: int, usages: list[Usage] = (),  # type: ignore[assignment]
               *, destination_host: str | None = None, requested_action: int | None = None,
               termination_cause: int | None = None, retransmit: bool = False) -> bytes:
        """The whole CCR (hop-by-hop and end-to-end ids 0: the node sets them)."""
        parts = [self.head]
        if destination_host:
            parts.append(fw.enc_bytes(AVP_DESTINATION_HOST, destination_host.encode()))
        parts += [self.static, fw.enc_u32(fw.CC_REQUEST_TYPE, request_type),
                  fw.enc_u32(fw.CC_REQUEST_NUMBER, request_number), _event_timestamp()]
        if requested_action is not None:
            parts.append(fw.enc_u32(AVP_REQUESTED_ACTION, requested_action))
        if termination_cause is not None:
            parts.append(fw.enc_u32(AVP_TERMINATION_CAUSE, termination_cause))
        if self.top_level:
            for u in usages:
                if u.requested is not None:
                    parts.append(units_group(fw.RSU, u.requested))
                if u.used is not None:
                    parts.append(units_group(fw.USU, u.used, u.reporting_reason))
                if u.service_identifiers:
                    parts.append(fw.enc_u32(fw.SERVICE_IDENTIFIER, u.service_identifiers[0]))
        elif usages:
            parts.append(_MSI_1)
            for u in usages:
                m = []
                if u.requested is not None:
                    m.append(units_group(fw.RSU, u.requested))
                if u.used is not None:
                    m.append(units_group(fw.USU, u.used))
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
        m.append(units_group(fw.GSU, g.granted))
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


_MSCCS: dict[tuple[Any, ...], bytes] = {}


_MSCCS_BY_ID: dict[tuple[Any, ...], tuple[Units, bytes]] = {}


def _mscc(g: Grant) -> bytes:
    """The MSCC AVP of a grant; grants with the same values encode once (bounded caches).

    Grants of shared Units (the OCS shares equal ones) and nothing else than numbers are
    looked up by the Units' identity first (its cache entry holds it, so the id is not
    reused meanwhile): hashing a Units by value is a Python-level call."""
    u = g.granted
    if u is not None and g.final_unit is None and not g.service_identifiers and not g.triggers:
        fast = (id(u), g.rating_group, g.result_code, g.validity_time, g.quota_holding_time,
                g.volume_quota_threshold, g.time_quota_threshold)
        hit = _MSCCS_BY_ID.get(fast)
        if hit is not None and hit[0] is u:
            return hit[1]
        b = _mscc_by_value(g)
        if len(_MSCCS_BY_ID) > 4096:
            _MSCCS_BY_ID.clear()
        _MSCCS_BY_ID[fast] = (u, b)
        return b
    return _mscc_by_value(g)


def _mscc_by_value(g: Grant) -> bytes:
    key = (g.rating_group, g.granted, g.result_code, g.validity_time, g.quota_holding_time,
           g.volume_quota_threshold, g.time_quota_threshold, g.final_unit, tuple(g.service_identifiers),
           tuple(g.triggers))
    b = _MSCCS.get(key)
    if b is None:
        if len(_MSCCS) > 4096:
            _MSCCS.clear()
        b = _MSCCS[key] = fw.enc_group(fw.MSCC, b"".join(_grant_avps(g)))
    return b


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
        rc = res.result_code
        sid = req.session_id.encode()
        n = len(sid)
        # fw.enc_bytes / fw.enc_u32 inline (the same structs): a call to them costs more
        parts = [_AVP_HDR(263, _M | (8 + n)), sid, fw._PAD[n & 3],  # Session-Id
                 fw._RC_2001 if rc == 2001 else _AVP_U32(268, _M | 12, rc), self.static,  # Result-Code
                 fw._REQUEST_TYPE_AVPS[req.request_type], _AVP_U32(415, _M | 12, req.request_number)]
        if res.cc_session_failover is not None:
            parts.append(fw.enc_u32(fw.CC_SESSION_FAILOVER, res.cc_session_failover))
        top_fu = res.final_unit
        vt = res.validity_time
        if req.top_level_units:
            if res.grants:
                g = res.grants[0]
                if g.granted is not None:
                    parts.append(units_group(fw.GSU, g.granted))
                top_fu = g.final_unit or top_fu
                vt = g.validity_time if g.validity_time is not None else vt
        else:
            for g in res.grants:
                parts.append(_mscc(g))
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
        size = len(body) + 20
        if size > 0xFFFFFF:
            raise OverflowError(f"a CCA of {size} bytes overflows the message length")
        # the request's header: version and length anew, its P flag kept (R, E, T cleared), its ids
        return _AVP_HDR(0x01000000 | size, _U32_AT(raw, 4)[0] & 0x40FFFFFF) + raw[8:20] + body


    def assemble(self, raw: bytes, req: CCRequest, rc: int, avps: bytes) -> bytes:
        """The CCA answering the CCR ``raw`` (parsed as ``req``) with Result-Code ``rc`` and
        ``avps`` after CC-Request-Number: :meth:`encode` of a result whose other AVPs are
        encoded already (its grants, Validity-Time and Error-Message, in that order)."""
        return fw.cca(raw, req, rc, self.static, avps)


_AVP_HDR = struct.Struct("!II").pack
_AVP_U32 = struct.Struct("!III").pack
_U32_AT = struct.Struct("!I").unpack_from
_M = 0x40000000
