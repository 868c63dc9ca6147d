"""Between the credit-control values of a CCR/CCA (:mod:`diameter.cc.types`) and the
charging model's requests and outcomes: what the Diameter front (:mod:`.front`) hands the
engine and how it answers. Pure functions, no I/O; compiled with the rating core when
built (mypyc), ``DIAMETER_PURE_PYTHON=1`` runs this source.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from ..cc.types import _UNSET
from ..cc.types import (
    CCRequest,
    CCResult,
    FinalUnit,
    FinalUnitAction,
    Grant,
    MsccRequest,
    ReportingReason,
    RequestType,
    Units,
)
from ..cc.ccr_walk import ccr_request
from ..cc.fastwire import enc_bytes, enc_group, enc_u32, enc_u64, enc_vu32
from ..message.avp import grouped as _grouped
from .model import SUCCESS, Outcome, RequestedAction, RequestKind, UnitKind
from .model import Grant as EngineGrant
from .rating import ChargeRequest, ServiceUsage

log = logging.getLogger("diameter.ocs.front")

_G: Final[Any] = _grouped
#: cc.types' "not decoded yet" sentinel of a CCRequest's lazily decoded slots (Final: a
#: static when compiled; ``type(x) is object`` looks `object` up in the builtins each time)
_NOT_YET: Final[Any] = _UNSET
CHECK_BALANCE_RESULT: Final = 422
REDIRECT_URL: Final = 2  # Redirect-Address-Type URL


def units_of(u: Units | None) -> dict[UnitKind, int]:
    """Charging-model units of Diameter service units (octets: total, else input + output)."""
    out: dict[UnitKind, int] = {}
    if u is None:
        return out
    if u.time is not None:
        out[UnitKind.TIME] = int(u.time)
    if u.total_octets is not None:
        out[UnitKind.OCTETS] = int(u.total_octets)
    elif u.input_octets is not None or u.output_octets is not None:
        out[UnitKind.OCTETS] = int(u.input_octets or 0) + int(u.output_octets or 0)
    if u.service_specific is not None:
        out[UnitKind.EVENTS] = int(u.service_specific)
    return out


_SEEN: Final[dict[int, tuple[Units, dict[UnitKind, int]]]] = {}


def _units_read(u: Units) -> dict[UnitKind, int]:
    """`units_of` for the service units of requests, remembered by identity (bounded; the
    entry holds the Units, so its id is not reused meanwhile): the CCR parser shares equal
    Units. The dict returned is shared: read it, do not change it."""
    hit = _SEEN.get(id(u))
    if hit is not None and hit[0] is u:
        return hit[1]
    out = units_of(u)
    if len(_SEEN) >= 4096:
        _SEEN.clear()
    _SEEN[id(u)] = (u, out)
    return out


def usage_of(m: MsccRequest) -> ServiceUsage:
    """The engine's usage of one MSCC. Its unit dicts may be shared with other usages (the
    parser shares equal Units, and so does this): read them, do not change them."""
    return usage(m.rating_group, m.service_identifiers, m.requested, m.used, m.reporting_reasons)


def usage(rating_group: int | None, service_identifiers: list[int] | None, requested: Units | None,
          us: list[Units] | None, reporting_reasons: list[int] | None) -> ServiceUsage:
    """:func:`usage_of` of an MSCC with these values (None: an empty list): the CCR reader's
    ``usage`` hook (:func:`read_request`), which then builds no MsccRequest."""
    used: dict[UnitKind, int]
    if us is None:
        used = _NO_UNITS
    elif len(us) == 1:  # the common case: one report, its dict as it is when no count is negative
        used = _units_read(us[0])
        for v in used.values():
            if v < 0:
                used = _used(us)
                break
    elif us:
        used = _used(us)
    else:
        used = _NO_UNITS
    return ServiceUsage(rating_group, service_identifiers[0] if service_identifiers else None,
                        None if requested is None else _units_read(requested),
                        used, reporting_reasons is not None and _FINAL in reporting_reasons)


def read_request(msg: Any, buf: bytes, peer: str, dialect: str) -> CCRequest:
    """The CCRequest of a CCR's bytes with its ``services`` read as the engine's usages
    (:func:`usage`): what `CreditControlServer` reads through its handler's ``read_request``."""
    return _CCR_REQUEST(msg, buf, peer, dialect, _USAGE)


#: (Final: statics when compiled, not look-ups in the module's globals)
_CCR_REQUEST: Final = ccr_request
_USAGE: Final = usage


#: the used units of an MSCC without a report (shared: never changed)
_NO_UNITS: Final[dict[UnitKind, int]] = {}


def _used(us: list[Units]) -> dict[UnitKind, int]:
    """The used units of several reports, summed (a negative count as 0)."""
    used: dict[UnitKind, int] = {}
    for u in us:
        for k, v in _units_read(u).items():
            used[k] = used.get(k, 0) + (v if v > 0 else 0)  # max(0, v), no generic call
    return used


_FINAL: Final = int(ReportingReason.FINAL)
_UNITS_FOR: Final = {UnitKind.TIME.value: lambda n: Units(time=n),
                     UnitKind.OCTETS.value: lambda n: Units(total_octets=n)}
#: unit -> granted units -> Units (nested: a tuple key costs its building and hashing)
_GRANTED: Final[dict[str, dict[int, Units]]] = {}


def _granted(unit: str | None, n: int | None) -> Units | None:
    """Granted-Service-Unit of an engine grant; equal ones are shared (bounded): Units are
    immutable and the CCA encoder keeps the bytes of the ones it has seen."""
    if n is None or unit is None:
        return None
    by_n = _GRANTED.get(unit)
    u = by_n.get(n) if by_n is not None else None
    if u is None:
        UnitKind(unit)  # ValueError for what the engine never writes
        make = _UNITS_FOR.get(unit)
        u = make(n) if make is not None else Units(service_specific=n)
        if by_n is None:
            by_n = _GRANTED[unit] = {}
        elif len(by_n) >= 4096:
            by_n.clear()
        by_n[n] = u
    return u


# Grant(...) and CCResult(...) without their interpreted dataclass __init__ (a Python call
# from compiled code): every field set here as __init__ sets it (tests compare the two)
_object_new: Final[Any] = object.__new__


def _grant(rg: int | None, sids: list[int], granted: Units | None, code: int | None, vt: int | None,
           qht: int | None, vqt: int | None, tqt: int | None, fu: FinalUnit | None) -> Grant:
    g: Grant = _object_new(Grant)
    g.rating_group = rg
    g.service_identifiers = sids
    g.granted = granted
    g.result_code = code
    g.validity_time = vt
    g.quota_holding_time = qht
    g.volume_quota_threshold = vqt
    g.time_quota_threshold = tqt
    g.final_unit = fu
    g.triggers = []
    return g


def _result(code: int, grants: list[Grant], error_message: str | None) -> CCResult:
    r: CCResult = _object_new(CCResult)
    r.result_code = code
    r.grants = grants
    r.validity_time = None
    r.cost_information = None
    r.credit_control_failure_handling = None
    r.direct_debiting_failure_handling = None
    r.cc_session_failover = None
    r.final_unit = None
    r.extra_avps = []
    r.error_message = error_message
    return r


def result_of(out: Outcome, req: CCRequest) -> CCResult:
    """The CCA content of an engine outcome."""
    grants = []
    for g in out.grants:
        fu = None
        if g.final_action is not None:
            action = FinalUnitAction(g.final_action)
            fu = FinalUnit(action, REDIRECT_URL if g.redirect_address else None, g.redirect_address,
                           tuple(r.encode() for r in g.restriction_filter_rules or ()),
                           tuple(g.filter_ids or ()))
        grants.append(_grant(g.rating_group, [g.service_identifier] if g.service_identifier is not None else [],
                             _granted(g.unit, g.units), g.result_code, g.validity_time,
                             g.quota_holding_time, g.volume_threshold, g.time_threshold, fu))
    res = _result(out.result_code, grants, out.error_message)
    if req.top_level_units and grants:
        res.grants[0].result_code = None
        if out.grants[0].result_code != SUCCESS:
            res.result_code = out.grants[0].result_code
    if out.cost is not None and req.request_type is RequestType.EVENT:
        res.cost_information = _G.CostInformation(
            unit_value=_G.UnitValue(value_digits=out.cost, exponent=-2), currency_code=out.currency or 978)
    if out.check_balance is not None:
        res.extra_avps.append((CHECK_BALANCE_RESULT, 0, out.check_balance))
    return res


# -- the CCA's grant AVPs straight from an outcome ------------------------------------------
# What `result_of` and `diameter.cc.encode.CcaEncoder.encode` give for the common outcomes,
# without the CCResult and Grants between them (tests compare the bytes of the two paths).
_GSU: Final = 431
_MSCC: Final = 456
_RATING_GROUP: Final = 432
_SERVICE_IDENTIFIER: Final = 439
_VALIDITY_TIME: Final = 448
_RESULT_CODE: Final = 268
_TIME_QT: Final = 868
_VOLUME_QT: Final = 869
_QHT: Final = 871
_ERROR_MESSAGE: Final = 281
_UNIT_NAMES: Final[frozenset[str]] = frozenset(k.value for k in UnitKind)
#: MSCC (or top-level) AVPs by the grant's values (bounded)
_GRANT_AVPS: Final[dict[tuple[Any, ...], bytes]] = {}


def _gsu(unit: str, n: int) -> bytes:
    """The Granted-Service-Unit of `_granted(unit, n)` as the CCA encoder writes it."""
    if unit == "time":
        payload = enc_u32(420, n)  # CC-Time
    elif unit == "octets":
        payload = enc_u64(421, n)  # CC-Total-Octets
    else:
        payload = enc_u64(417, n)  # CC-Service-Specific-Units
    return enc_group(_GSU, payload)


class _Encoded:
    """A grant's values (those `_grant_avps` encodes) and their bytes; never changed once made."""

    def __init__(self, g: EngineGrant, top_level: bool, out: bytes) -> None:
        self.top_level = top_level
        self.rating_group = g.rating_group
        self.service_identifier = g.service_identifier
        self.unit = g.unit
        self.units = g.units
        self.result_code = g.result_code
        self.validity_time = g.validity_time
        self.quota_holding_time = g.quota_holding_time
        self.volume_threshold = g.volume_threshold
        self.time_threshold = g.time_threshold
        self.out = out


class _Last:
    """The last grant encoded: most answers repeat it, and comparing its values natively costs
    less than a look-up by them (one reference, replaced whole: threads see it whole)."""

    def __init__(self) -> None:
        self.last: _Encoded | None = None


_LAST: Final = _Last()


def _eq(a: int | None, b: int | None) -> bool:
    if a is None:
        return b is None
    return b is not None and a == b


def _grant_avps(g: EngineGrant, top_level: bool) -> bytes:
    """The MSCC of an engine grant (no Final-Unit-Indication); top level: its GSU and
    Validity-Time. Equal grants encode once."""
    m = _LAST.last
    if (m is not None and m.top_level == top_level and _eq(m.units, g.units)
            and _eq(m.rating_group, g.rating_group) and m.result_code == g.result_code
            and _eq(m.validity_time, g.validity_time) and _eq(m.volume_threshold, g.volume_threshold)
            and _eq(m.quota_holding_time, g.quota_holding_time) and _eq(m.time_threshold, g.time_threshold)
            and _eq(m.service_identifier, g.service_identifier) and (m.unit is g.unit or m.unit == g.unit)):
        return m.out
    key = (top_level, g.rating_group, g.service_identifier, g.unit, g.units, g.result_code,
           g.validity_time, g.quota_holding_time, g.volume_threshold, g.time_threshold)
    b = _GRANT_AVPS.get(key)
    if b is None:
        b = _grant_avps_of(g, top_level)
        if len(_GRANT_AVPS) >= 4096:
            _GRANT_AVPS.clear()
        _GRANT_AVPS[key] = b
    _LAST.last = _Encoded(g, top_level, b)
    return b


def _grant_avps_of(g: EngineGrant, top_level: bool) -> bytes:
    """`_grant_avps`, encoded."""
    b: bytes
    parts: list[bytes] = []
    if g.units is not None and g.unit is not None:
        parts.append(_gsu(g.unit, g.units))
    if top_level:
        if g.validity_time is not None:
            parts.append(enc_u32(_VALIDITY_TIME, g.validity_time))
        b = b"".join(parts)
    else:
        if g.service_identifier is not None:
            parts.append(enc_u32(_SERVICE_IDENTIFIER, g.service_identifier))
        if g.rating_group is not None:
            parts.append(enc_u32(_RATING_GROUP, g.rating_group))
        if g.validity_time is not None:
            parts.append(enc_u32(_VALIDITY_TIME, g.validity_time))
        parts.append(enc_u32(_RESULT_CODE, g.result_code))
        if g.time_threshold is not None:
            parts.append(enc_vu32(_TIME_QT, g.time_threshold))
        if g.volume_threshold is not None:
            parts.append(enc_vu32(_VOLUME_QT, g.volume_threshold))
        if g.quota_holding_time is not None:
            parts.append(enc_vu32(_QHT, g.quota_holding_time))
        b = enc_group(_MSCC, b"".join(parts))
    return b


def answer_tail(out: Outcome, top_level: bool) -> tuple[int, bytes] | None:
    """``(Result-Code, AVPs after CC-Request-Number)`` of the CCA answering a session request
    (INITIAL, UPDATE, TERMINATION) with `out`, the bytes `result_of` and the CCA encoder give;
    None for what they alone build (Final-Unit-Indication, Check-Balance-Result, units the
    engine never writes). Raises what encoding raises for values out of range."""
    if out.check_balance is not None:
        return None
    grants = out.grants
    for g in grants:
        if g.final_action is not None or (g.unit is not None and g.unit not in _UNIT_NAMES):
            return None
    code = out.result_code
    tail = b""
    if top_level:
        if grants:
            g = grants[0]
            if g.result_code != SUCCESS:
                code = g.result_code
            tail = _grant_avps(g, True)
    elif len(grants) == 1:
        tail = _grant_avps(grants[0], False)
    elif grants:
        tail = b"".join([_grant_avps(g, False) for g in grants])
    if out.error_message:
        tail += enc_bytes(_ERROR_MESSAGE, out.error_message.encode()[:1000], False)
    return code, tail


def _field(req: Any, slot: str, name: str) -> Any:
    """A lazily decoded field of a CCRequest: the value in its slot when the parser set it,
    else the property's (which decodes it from the message); the slot is read directly as a
    property is a Python-level call from compiled code (`req` is Any: the slot may hold the
    sentinel, which the slot's declared type does not admit)."""
    value = getattr(req, slot)
    if value is _NOT_YET:
        return getattr(req, name)
    return value


def _pair(sub: Any) -> bool:
    """Whether `sub` is an (int, str) tuple already."""
    return type(sub) is tuple and len(sub) == 2 and type(sub[0]) is int and type(sub[1]) is str


def _converted(given: Any) -> list[tuple[int, str]]:
    """The subscriptions as (int, str) pairs, in a list of their own."""
    subs: list[tuple[int, str]] = []
    for sub in given:
        if _pair(sub):
            subs.append(sub)  # already (int, str): the same values as converting them
        else:
            t, d = sub
            subs.append((int(t), str(d)))
    return subs


def subscriptions(req: CCRequest) -> list[tuple[int, str]]:
    """The request's subscriptions; without any, its User-Name as NAI and E.164 (tolerated).
    The request's own list when it holds (int, str) pairs already: read it, do not change it."""
    return _subscriptions(req, _field(req, "_subscription_ids", "subscription_ids"))


def _subscriptions(req: CCRequest, given: Any) -> list[tuple[int, str]]:
    """:func:`subscriptions` of the request's Subscription-Ids `given` (decoded)."""
    if type(given) is not list:
        subs = _converted(given)
    else:
        subs = given
        for sub in given:
            if not _pair(sub):
                subs = _converted(given)  # not all (int, str) already (the parser's are)
                break
    if not subs and req.user_name:
        log.info("session %s: no Subscription-Id, User-Name %r used (tolerated)",
                 req.session_id, req.user_name)
        subs = [(3, req.user_name), (0, req.user_name)]
    return subs


def charge_request(req: CCRequest, kind: RequestKind) -> ChargeRequest:
    """The engine's request for a CCR (its usages as :func:`read_request` read them, if it did)."""
    r: Any = req  # (Any: a lazily decoded slot may hold the sentinel, which its type does not admit)
    return charge_of(req, kind, r.session_id, r.request_number, r._service_context_id, r._subscription_ids,
                     r._requested_action, r.services, r.peer)


def charge_of(req: CCRequest, kind: RequestKind, session_id: str, request_number: int, context: Any,
              given: Any, asked: Any, services: Any, peer: str) -> ChargeRequest:
    """:func:`charge_request` of `req` whose slots the caller read (interpreted, each read is
    specialised; compiled, each is a generic look-up): ``_service_context_id``,
    ``_subscription_ids``, ``_requested_action`` (decoded here when not yet), ``services``."""
    if services is None:
        services = [usage_of(m) for m in req.mscc]
    if kind is RequestKind.EVENT and not services:
        services = [ServiceUsage()]
    if asked is _NOT_YET:
        asked = req.requested_action
    action = None
    if asked is not None:
        try:
            action = RequestedAction(asked)
        except ValueError:
            log.info("session %s: unknown Requested-Action %r, direct debiting assumed",
                     session_id, asked)
    if given is _NOT_YET:
        given = req.subscription_ids
    if context is _NOT_YET:
        context = req.service_context_id
    return ChargeRequest(session_id, request_number, kind, _subscriptions(req, given), context, services,
                         action, peer)
