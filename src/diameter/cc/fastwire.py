"""Fast readers of the credit-control AVPs straight from the wire bytes.

The session layer reads the same few AVPs of every CCR and CCA (Session-Id, CC-Request-Type/
Number, Result-Code, the units and timers of each Multiple-Services-Credit-Control); locating
them with the codec's ``scan`` costs a fraction of building the typed grouped objects, which
stay available (decoded on first access) through ``CCRequest.message`` / ``AnswerView.message``.
Malformed AVPs raise :class:`~diameter.codec.errors.AvpDecodeError` or ``ValueError``.
"""
from __future__ import annotations

import struct
from typing import Any, Final

from ..codec.frame import scan as scan
from .types import CCRequest, FinalUnit, FinalUnitAction, Grant, Money, MsccRequest, RequestType, Units

_U32: Final = struct.Struct("!I").unpack_from
_U64: Final = struct.Struct("!Q").unpack_from
_I32: Final = struct.Struct("!i").unpack_from
_I64: Final = struct.Struct("!q").unpack_from
TGPP: Final = 10415

# base / RFC 4006 codes
SESSION_ID: Final = 263
ORIGIN_HOST: Final = 264
ORIGIN_REALM: Final = 296
RESULT_CODE: Final = 268
CC_REQUEST_NUMBER: Final = 415
CC_REQUEST_TYPE: Final = 416
CC_SESSION_FAILOVER: Final = 418
CCFH_AVP: Final = 427
DDFH_AVP: Final = 428
MSCC: Final = 456
GSU: Final = 431
RSU: Final = 437
USU: Final = 446
CC_TIME: Final = 420
CC_TOTAL: Final = 421
CC_INPUT: Final = 412
CC_OUTPUT: Final = 414
CC_SERVICE_SPECIFIC: Final = 417
CC_MONEY: Final = 413
UNIT_VALUE: Final = 445
VALUE_DIGITS: Final = 447
EXPONENT: Final = 429
CURRENCY_CODE: Final = 425
RATING_GROUP: Final = 432
SERVICE_IDENTIFIER: Final = 439
VALIDITY_TIME: Final = 448
AUTH_APPLICATION_ID: Final = 258
SERVICE_CONTEXT_ID: Final = 461
USER_NAME: Final = 1
REQUESTED_ACTION: Final = 436
SUBSCRIPTION_ID: Final = 443
SUBSCRIPTION_ID_TYPE: Final = 450
SUBSCRIPTION_ID_DATA: Final = 444
FUI: Final = 430
FINAL_UNIT_ACTION: Final = 449
REDIRECT_SERVER: Final = 434
REDIRECT_ADDRESS_TYPE: Final = 433
REDIRECT_SERVER_ADDRESS: Final = 435
FILTER_ID: Final = 11
RESTRICTION_FILTER_RULE: Final = 438
# 3GPP TS 32.299 (vendor 10415)
TIME_QUOTA_THRESHOLD: Final = 868
VOLUME_QUOTA_THRESHOLD: Final = 869
QUOTA_HOLDING_TIME: Final = 871
REPORTING_REASON: Final = 872
TRIGGER: Final = 1264
TRIGGER_TYPE: Final = 870

_UNITS_CACHE: Final[dict[tuple[Any, ...], Units]] = {}


def uint(buf: bytes, e: tuple[int, ...]) -> int:
    n = e[5] - e[4]
    if n == 4:
        v: int = _U32(buf, e[4])[0]
        return v
    if n == 8:
        v = _U64(buf, e[4])[0]
        return v
    raise ValueError(f"AVP {e[0]}: {n} bytes is not an unsigned integer")


def int32(buf: bytes, e: tuple[int, ...]) -> int:
    """An Integer32 or Enumerated AVP's value."""
    if e[5] - e[4] != 4:
        raise ValueError(f"AVP {e[0]}: {e[5] - e[4]} bytes is not an Integer32")
    v: int = _I32(buf, e[4])[0]
    return v


def text(buf: bytes, e: tuple[int, ...]) -> str:
    return buf[e[4]:e[5]].decode("utf-8", "replace")


def subscription_id(buf: bytes, s: int, end: int) -> tuple[int, str] | None:
    """(Subscription-Id-Type, Subscription-Id-Data) of a Subscription-Id payload; None
    without data (a missing type reads as END_USER_E164, 0)."""
    typ, data = 0, None
    for e in scan(buf, s, end):
        if e[1] == 0:
            if e[0] == SUBSCRIPTION_ID_TYPE:
                typ = int32(buf, e)
            elif e[0] == SUBSCRIPTION_ID_DATA:
                data = text(buf, e)
    return None if data is None else (typ, data)


def _money(buf: bytes, s: int, end: int) -> Money:
    digits, exp, cur = 0, 0, None
    for e in scan(buf, s, end):
        c = e[0]
        if c == UNIT_VALUE and e[1] == 0:
            for u in scan(buf, e[4], e[5]):
                if u[0] == VALUE_DIGITS and u[5] - u[4] == 8:
                    digits = _I64(buf, u[4])[0]
                elif u[0] == EXPONENT and u[5] - u[4] == 4:
                    exp = _I32(buf, u[4])[0]
        elif c == CURRENCY_CODE and e[1] == 0:
            cur = uint(buf, e)
    return Money(digits, exp, cur)


def units(buf: bytes, s: int, end: int) -> tuple[Units, int | None]:
    """The units of a Granted/Requested/Used-Service-Unit payload, and a Reporting-Reason in it.

    Units are immutable, so the result for the same payload bytes is kept and shared (bounded).
    """
    raw = buf[s:end]
    hit = _RAW_UNITS.get(raw)
    if hit is not None:
        return hit
    if len(_RAW_UNITS) > 4096:
        _RAW_UNITS.clear()
    out = _RAW_UNITS[raw] = _units(buf, s, end)
    return out


_RAW_UNITS: Final[dict[bytes, tuple[Units, int | None]]] = {}


def _units(buf: bytes, s: int, end: int) -> tuple[Units, int | None]:
    t = tot = i = o = ss = None
    money = None
    reason = None
    for e in scan(buf, s, end):
        c, v = e[0], e[1]
        if v == 0:
            if c == CC_TIME:
                t = uint(buf, e)
            elif c == CC_TOTAL:
                tot = uint(buf, e)
            elif c == CC_INPUT:
                i = uint(buf, e)
            elif c == CC_OUTPUT:
                o = uint(buf, e)
            elif c == CC_SERVICE_SPECIFIC:
                ss = uint(buf, e)
            elif c == CC_MONEY:
                money = _money(buf, e[4], e[5])
        elif v == TGPP and c == REPORTING_REASON:
            reason = uint(buf, e)
    if money is not None:
        return Units(t, tot, i, o, ss, money), reason
    key = (t, tot, i, o, ss)
    u = _UNITS_CACHE.get(key)
    if u is None:  # Units are immutable: the common few are shared
        if len(_UNITS_CACHE) > 4096:
            _UNITS_CACHE.clear()
        u = _UNITS_CACHE[key] = Units(t, tot, i, o, ss)
    return u, reason


def final_unit(buf: bytes, s: int, end: int) -> FinalUnit:
    action = FinalUnitAction.TERMINATE
    atype = addr = None
    rules: list[bytes] = []
    fids: list[str] = []
    for e in scan(buf, s, end):
        c = e[0]
        if e[1]:
            continue
        if c == FINAL_UNIT_ACTION:
            try:
                action = FinalUnitAction(uint(buf, e))
            except ValueError:
                action = FinalUnitAction.TERMINATE
        elif c == REDIRECT_SERVER:
            for r in scan(buf, e[4], e[5]):
                if r[0] == REDIRECT_ADDRESS_TYPE and not r[1]:
                    atype = uint(buf, r)
                elif r[0] == REDIRECT_SERVER_ADDRESS and not r[1]:
                    addr = text(buf, r)
        elif c == RESTRICTION_FILTER_RULE:
            rules.append(bytes(buf[e[4]:e[5]]))
        elif c == FILTER_ID:
            fids.append(text(buf, e))
    return FinalUnit(action, atype, addr, tuple(rules), tuple(fids))


def _triggers(buf: bytes, e: tuple[int, ...]) -> list[int]:
    return [uint(buf, t) for t in scan(buf, e[4], e[5]) if t[0] == TRIGGER_TYPE and t[1] == TGPP]


def mscc_request(buf: bytes, s: int, end: int) -> MsccRequest:
    rg = requested = None
    sids: list[int] = []
    used: list[Units] = []
    reasons: list[int] = []
    triggers: list[int] = []
    for e in scan(buf, s, end):
        c = e[0]
        if e[1] == 0:
            if c == RSU:
                requested = units(buf, e[4], e[5])[0]
            elif c == USU:
                u, r = units(buf, e[4], e[5])
                used.append(u)
                if r is not None:
                    reasons.append(r)
            elif c == RATING_GROUP:
                rg = _U32(buf, e[4])[0] if e[5] - e[4] == 4 else uint(buf, e)
            elif c == SERVICE_IDENTIFIER:
                sids.append(uint(buf, e))
        elif e[1] == TGPP:
            if c == REPORTING_REASON:
                reasons.append(uint(buf, e))
            elif c == TRIGGER:
                triggers = _triggers(buf, e)
    return MsccRequest(rg, sids, requested, used, reasons, triggers)


def ccr_request(msg: Any, buf: bytes, peer: str, dialect: str, usage: Any = None) -> CCRequest:
    """The :class:`CCRequest` of a CCR's bytes (``msg``: its decoded message, kept for the
    AVPs read on first access); see :func:`diameter.cc.wire.parse_ccr`. With `usage`, the
    request's ``services`` are ``usage(rating_group, service_identifiers, requested, used,
    reporting_reasons)`` of each MSCC (of the top-level units: as their ``mscc`` has them);
    the compiled reader (:mod:`.ccr_walk`) gives None for an MSCC's empty list."""
    sid = oh = orealm = ""
    rtype: int | None = None
    number: int | None = None
    mscc: list[MsccRequest] = []
    rsu: Units | None = None
    usus: list[tuple[Units, int | None]] = []
    sids: list[int] = []
    subs: list[tuple[int, str]] = []
    sctx: Any = _UNSEEN
    auth: Any = _UNSEEN
    user: Any = _UNSEEN
    action: Any = _UNSEEN
    top_codes = _CCR_TOP
    for e in scan(buf, 20, len(buf)):
        k = top_codes.get(e[0], -1)
        if k < 0 or e[1]:
            continue
        if k == 0:
            sid = text(buf, e)
        elif k == 1:
            mscc.append(mscc_request(buf, e[4], e[5]))
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
        elif k == 8:
            sids.append(uint(buf, e))
        elif k == 9:
            sub = subscription_id(buf, e[4], e[5])
            if sub is not None:
                subs.append(sub)
        elif k == 10:
            if sctx is _UNSEEN:
                sctx = text(buf, e)
        elif k == 11:
            if auth is _UNSEEN:
                auth = uint(buf, e)
        elif k == 12:
            if user is _UNSEEN:
                user = text(buf, e)
        elif action is _UNSEEN:
            action = int32(buf, e)
    rt = _REQUEST_TYPES.get(rtype if rtype is not None else -1)
    if rt is None:
        raise ValueError(f"bad CC-Request-Type {rtype!r}")
    top = False
    if not mscc and (rsu is not None or usus):
        top = True
        mscc.append(MsccRequest(None, sids[:1], rsu, [u for u, _ in usus],
                                [r for _, r in usus if r is not None]))
    req = CCRequest(sid, rt, number or 0, bool(buf[4] & 0x10), oh, orealm, peer or oh, dialect,
                    mscc=mscc, top_level_units=top, message=msg)
    if number is None:
        req.has_request_number = False
    if subs:  # else decoded on first access (Subscription-Id inside Service-Information)
        req._subscription_ids = subs
    # the AVPs the scan saw are not decoded again; the others read as absent
    req._service_context_id = None if sctx is _UNSEEN else sctx
    req._auth_application_id = None if auth is _UNSEEN else auth
    req._user_name = None if user is _UNSEEN else user
    req._requested_action = None if action is _UNSEEN else action
    if usage is not None:
        req.services = [usage(m.rating_group, m.service_identifiers, m.requested, m.used, m.reporting_reasons)
                        for m in mscc]
    return req


_UNSEEN: Final[Any] = object()
_REQUEST_TYPES: Final[dict[int, RequestType]] = {int(t): t for t in RequestType}
_CCR_TOP: Final[dict[int, int]] = {
    SESSION_ID: 0, MSCC: 1, CC_REQUEST_TYPE: 2, CC_REQUEST_NUMBER: 3, ORIGIN_HOST: 4, ORIGIN_REALM: 5,
    RSU: 6, USU: 7, SERVICE_IDENTIFIER: 8, SUBSCRIPTION_ID: 9, SERVICE_CONTEXT_ID: 10,
    AUTH_APPLICATION_ID: 11, USER_NAME: 12, REQUESTED_ACTION: 13}


def grant(buf: bytes, s: int, end: int) -> Grant:
    g = Grant()
    for e in scan(buf, s, end):
        c, v = e[0], e[1]
        if v == 0:
            if c == RATING_GROUP:
                g.rating_group = uint(buf, e)
            elif c == GSU:
                g.granted = units(buf, e[4], e[5])[0]
            elif c == RESULT_CODE:
                g.result_code = uint(buf, e)
            elif c == VALIDITY_TIME:
                g.validity_time = uint(buf, e)
            elif c == SERVICE_IDENTIFIER:
                g.service_identifiers.append(uint(buf, e))
            elif c == FUI:
                g.final_unit = final_unit(buf, e[4], e[5])
        elif v == TGPP:
            if c == QUOTA_HOLDING_TIME:
                g.quota_holding_time = uint(buf, e)
            elif c == VOLUME_QUOTA_THRESHOLD:
                g.volume_quota_threshold = uint(buf, e)
            elif c == TIME_QUOTA_THRESHOLD:
                g.time_quota_threshold = uint(buf, e)
            elif c == TRIGGER:
                g.triggers = _triggers(buf, e)
    return g


# ---- encoders (M bit set; vendor AVPs with the V bit) ----------------------------------
_E_U32: Final = struct.Struct("!III").pack
_E_U64: Final = struct.Struct("!IIQ").pack
_E_VU32: Final = struct.Struct("!IIII").pack
_E_HDR: Final = struct.Struct("!II").pack
_E_VHDR: Final = struct.Struct("!III").pack
_PAD: Final = (b"", b"\0\0\0", b"\0\0", b"\0")
#: a message header, the request's application and identifiers, then an AVP header (a CCA's
#: first 28 bytes: Session-Id's header last)
_E_HEAD: Final = struct.Struct("!II12sII").pack
_M: Final = 0x40000000
_VM: Final = 0xC0000000


def enc_u32(code: int, value: int) -> bytes:
    return _E_U32(code, _M | 12, value)


def enc_u64(code: int, value: int) -> bytes:
    return _E_U64(code, _M | 16, value)


def enc_vu32(code: int, value: int, vendor: int = TGPP) -> bytes:
    return _E_VU32(code, _VM | 16, vendor, value)


def enc_group(code: int, payload: bytes, vendor: int = 0) -> bytes:
    """A grouped AVP around already-encoded (so 4-byte aligned) members."""
    if vendor:
        return _E_VHDR(code, _VM | (12 + len(payload)), vendor) + payload
    return _E_HDR(code, _M | (8 + len(payload))) + payload


def enc_bytes(code: int, data: bytes, mandatory: bool = True) -> bytes:
    return _E_HDR(code, (_M if mandatory else 0) | (8 + len(data))) + data + _PAD[len(data) & 3]


_RC_2001: Final = enc_u32(RESULT_CODE, 2001)
#: CC-Request-Type AVPs by type (a tuple: indexed by the type's value, no hashing)
_REQUEST_TYPE_AVPS: Final = tuple(enc_u32(CC_REQUEST_TYPE, t) for t in range(5))
#: the same AVPs by the request types themselves (an IntEnum hashes and compares as its int)
_RT_AVPS: Final[dict[Any, bytes]] = {t: _REQUEST_TYPE_AVPS[int(t)] for t in RequestType}


def cca(raw: bytes, req: CCRequest, rc: int, static: bytes, avps: bytes) -> bytes:
    """The CCA answering the CCR ``raw`` (parsed as ``req``): its header (version and length
    anew, the request's P flag kept, its identifiers), Session-Id, Result-Code ``rc``,
    ``static`` (Origin-Host, Origin-Realm, Auth-Application-Id), CC-Request-Type and -Number,
    then ``avps``, encoded already. Joined once, its length computed first."""
    sid = req.session_id.encode()
    n = len(sid)
    rc_avp = _RC_2001 if rc == 2001 else _E_U32(RESULT_CODE, _M | 12, rc)
    rt: Any = req.request_type
    rt_avp = _RT_AVPS.get(rt)  # (no int() of the enum: a new int object each time)
    if rt_avp is None:
        t = int(rt)
        rt_avp = _REQUEST_TYPE_AVPS[t] if 0 < t < 5 else enc_u32(CC_REQUEST_TYPE, t)
    size = 40 + ((n + 3) & ~3) + len(rc_avp) + len(static) + len(rt_avp) + len(avps)
    if size > 0xFFFFFF:
        raise OverflowError(f"a CCA of {size} bytes overflows the message length")
    flags: int = _U32(raw, 4)[0]
    return b"".join((_E_HEAD(0x01000000 | size, flags & 0x40FFFFFF, raw[8:20], SESSION_ID, _M | (8 + n)),
                     sid, _PAD[n & 3], rc_avp, static, rt_avp,
                     _E_U32(CC_REQUEST_NUMBER, _M | 12, req.request_number), avps))
