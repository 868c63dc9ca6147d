"""The CCR read by byte indexing, what compiled builds run instead of ``scan``'s entries.

:func:`ccr_request` reads a CCR into a :class:`~diameter.cc.types.CCRequest` exactly as
:func:`diameter.cc.fastwire.ccr_request` does, errors included (tests compare the two on
well-formed and malformed bytes), but walks the AVP headers with native integers, builds
no tuple per AVP and sets the request's slots directly: compiled (mypyc), a third of the
instructions. Interpreted, the ``scan`` reader is the faster one, and :func:`ccr_request`
runs it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..codec.errors import AvpDecodeError
from ..codec.frame import scan
from .fastwire import _U64, units
from .fastwire import ccr_request as ccr_request_scan
from .types import _UNSET, CCRequest, MsccRequest, RequestType, Units, _made

if TYPE_CHECKING:
    from mypy_extensions import i64


def _probe() -> None:
    pass


#: whether this module runs compiled (mypyc)
COMPILED: Final = type(_probe).__name__ != "function"
_UNSEEN: Final[Any] = object()
_UNSET_: Final[Any] = _UNSET  # Final: one load when compiled, no look-up in the globals
_object_new: Final[Any] = object.__new__
_REQUEST_TYPES: Final[dict[int, RequestType]] = {int(t): t for t in RequestType}
#: the MSCC list of a walk that builds none (never changed: the request gets `_mscc_later`)
_NO_MSCC: Final[list[MsccRequest]] = []
_T = TypeVar("_T")


def _push(items: list[_T] | None, item: _T) -> list[_T]:
    """``items`` with ``item`` appended, a new list when ``items`` is None (the walk makes a
    list only when it gets an item: most stay empty)."""
    if items is None:
        return [item]
    items.append(item)
    return items


def ccr_request(msg: Any, buf: bytes, peer: str, dialect: str, usage: Any = None) -> CCRequest:
    """The :class:`CCRequest` of a CCR's bytes, as :func:`diameter.cc.fastwire.ccr_request`
    gives it: by :func:`walk` when compiled, by that reader when interpreted. `usage`: the
    request's ``services`` read by it (see there)."""
    if COMPILED:
        return walk(msg, buf, peer, dialect, usage)
    return ccr_request_scan(msg, buf, peer, dialect, usage)


def _mscc_later(msg: Any) -> list[MsccRequest]:
    """The MSCCs of a CCR read with a `usage` hook, read from its message when first asked for
    (the request's ``_mscc`` holds this function until then)."""
    mscc: list[MsccRequest] = ccr_request(msg, msg.as_bytes(), "", "").mscc
    return mscc


def _frame(buf: bytes, p: i64, end: i64) -> tuple[i64, i64, i64, i64, i64]:
    """(code, vendor, payload start, payload end, next AVP) of the AVP at ``p`` of
    ``buf[:end]``; a payload end of -1 when it is not well framed (``scan`` says why)."""
    if end - p < 8:
        return 0, 0, 0, -1, 0
    b0: i64 = buf[p]
    b1: i64 = buf[p + 1]
    b2: i64 = buf[p + 2]
    b3: i64 = buf[p + 3]
    flags: i64 = buf[p + 4]
    l0: i64 = buf[p + 5]
    l1: i64 = buf[p + 6]
    l2: i64 = buf[p + 7]
    code: i64 = (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    length: i64 = (l0 << 16) | (l1 << 8) | l2
    pe: i64 = p + length
    vendor: i64 = 0
    ps: i64 = p + 8
    if flags & 0x80:
        if length < 12 or pe > end:
            return 0, 0, 0, -1, 0
        v0: i64 = buf[p + 8]
        v1: i64 = buf[p + 9]
        v2: i64 = buf[p + 10]
        v3: i64 = buf[p + 11]
        vendor = (v0 << 24) | (v1 << 16) | (v2 << 8) | v3
        ps = p + 12
    elif length < 8 or pe > end:
        return 0, 0, 0, -1, 0
    nxt: i64 = (pe + 3) & ~3
    if nxt != pe:
        if nxt > end:
            return 0, 0, 0, -1, 0
        q: i64 = pe
        while q < nxt:
            if buf[q]:
                return 0, 0, 0, -1, 0
            q += 1
    return code, vendor, ps, pe, nxt


def _framed(buf: bytes, start: i64, end: i64) -> None:
    """Raise ``scan``'s error when the AVPs of ``buf[start:end]`` are not well framed."""
    p: i64 = start
    while p < end:
        f = _frame(buf, p, end)
        if f[3] < 0:
            scan(buf, start, end)  # raises what is wrong
            raise AvpDecodeError("AVP framing", p)  # not reached: scan checks the same
        p = f[4]


def _bad(buf: bytes, start: i64, end: i64, p: i64) -> None:
    """Raise ``scan``'s error for ``buf[start:end]``, found not well framed at ``p``."""
    scan(buf, start, end)  # raises what is wrong
    raise AvpDecodeError("AVP framing", p)  # not reached: scan checks the same


def _u32(buf: bytes, p: i64) -> i64:
    b0: i64 = buf[p]
    b1: i64 = buf[p + 1]
    b2: i64 = buf[p + 2]
    b3: i64 = buf[p + 3]
    return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3


def _text(buf: bytes, ps: i64, pe: i64) -> str:
    """``buf[ps:pe].decode("utf-8", "replace")``: strict UTF-8 first (compiled, a direct
    decoder call, where an error handler's name makes it the generic codec look-up)."""
    b = buf[ps:pe]
    try:
        return b.decode()
    except UnicodeDecodeError:
        return b.decode("utf-8", "replace")


def _uint_at(buf: bytes, code: i64, ps: i64, pe: i64) -> int:
    """:func:`uint` of the AVP ``code`` whose payload is ``buf[ps:pe]``."""
    n: i64 = pe - ps
    if n == 4:
        return _u32(buf, ps)
    if n == 8:
        v: int = _U64(buf, ps)[0]
        return v
    raise ValueError(f"AVP {code}: {n} bytes is not an unsigned integer")


def _int32_at(buf: bytes, code: i64, ps: i64, pe: i64) -> int:
    """:func:`int32` of the AVP ``code`` whose payload is ``buf[ps:pe]``."""
    if pe - ps != 4:
        raise ValueError(f"AVP {code}: {pe - ps} bytes is not an Integer32")
    v: i64 = _u32(buf, ps)
    return v - 0x100000000 if v >= 0x80000000 else v


def _subscription_walk(buf: bytes, start: i64, end: i64) -> tuple[int, str] | None:
    """:func:`subscription_id`, natively."""
    typ = 0
    data: str | None = None
    p: i64 = start
    try:
        while p < end:
            code, vendor, ps, pe, p = _frame(buf, p, end)
            if pe < 0:
                _bad(buf, start, end, p)
            if vendor == 0:
                if code == 450:  # Subscription-Id-Type
                    typ = _int32_at(buf, code, ps, pe)
                elif code == 444:  # Subscription-Id-Data
                    data = _text(buf, ps, pe)
    except Exception:
        _framed(buf, start, end)  # a framing error anywhere in the range comes first
        raise
    return None if data is None else (typ, data)


def _mscc_parts(buf: bytes, start: i64, end: i64) -> tuple[int | None, list[int] | None, Units | None,
                                                          list[Units] | None, list[int] | None, list[int] | None]:
    """:func:`mscc_request`'s values, natively: (rating group, service identifiers, requested,
    used, reporting reasons, triggers); None for a list that would be empty (no list made)."""
    rg: int | None = None
    requested: Units | None = None
    sids: list[int] | None = None
    used: list[Units] | None = None
    reasons: list[int] | None = None
    triggers: list[int] | None = None
    p: i64 = start
    try:
        while p < end:
            code, vendor, ps, pe, p = _frame(buf, p, end)
            if pe < 0:
                _bad(buf, start, end, p)
            if vendor == 0:
                if code == 437:  # Requested-Service-Unit
                    requested = units(buf, ps, pe)[0]
                elif code == 446:  # Used-Service-Unit
                    u, r = units(buf, ps, pe)
                    used = _push(used, u)
                    if r is not None:
                        reasons = _push(reasons, r)
                elif code == 432:  # Rating-Group
                    rg = _uint_at(buf, code, ps, pe)
                elif code == 439:  # Service-Identifier
                    sids = _push(sids, _uint_at(buf, code, ps, pe))
            elif vendor == 10415:
                if code == 872:  # Reporting-Reason
                    reasons = _push(reasons, _uint_at(buf, code, ps, pe))
                elif code == 1264:  # Trigger
                    triggers = _triggers_walk(buf, ps, pe)
    except Exception:
        _framed(buf, start, end)  # a framing error anywhere in the range comes first
        raise
    return rg, sids, requested, used, reasons, triggers


def _new_mscc(rg: int | None, sids: list[int] | None, requested: Units | None, used: list[Units] | None,
              reasons: list[int] | None, triggers: list[int] | None) -> MsccRequest:
    """``MsccRequest(...)`` without its interpreted ``__init__`` (every field set here; a
    list of its own for each None)."""
    m: MsccRequest = _object_new(MsccRequest)
    m.rating_group = rg
    m.service_identifiers = [] if sids is None else sids
    m.requested = requested
    m.used = [] if used is None else used
    m.reporting_reasons = [] if reasons is None else reasons
    m.triggers = [] if triggers is None else triggers
    return m


def _triggers_walk(buf: bytes, start: i64, end: i64) -> list[int]:
    out: list[int] = []
    p: i64 = start
    try:
        while p < end:
            code, vendor, ps, pe, p = _frame(buf, p, end)
            if pe < 0:
                _bad(buf, start, end, p)
            if code == 870 and vendor == 10415:  # Trigger-Type
                out.append(_uint_at(buf, code, ps, pe))
    except Exception:
        _framed(buf, start, end)  # a framing error anywhere in the range comes first
        raise
    return out


def walk(msg: Any, buf: bytes, peer: str, dialect: str, usage: Any = None) -> CCRequest:
    """:func:`~diameter.cc.fastwire.ccr_request` by byte indexing: no entry tuples, no ``scan`` calls.
    With `usage` and a message, the MSCCs are read only as the ``services`` (``mscc`` is
    decoded from the message on first access)."""
    end: i64 = len(buf)
    try:
        return _walk(msg, buf, peer, dialect, end, usage)
    except Exception:
        _framed(buf, 20, end)  # a framing error anywhere comes first, as `scan` finds it first
        raise


def _walk(msg: Any, buf: bytes, peer: str, dialect: str, end: i64, usage: Any) -> CCRequest:
    """:func:`walk`, which checks the framing of the whole message first when this raises."""
    sid = oh = orealm = ""
    rtype = -1
    number: int | None = None
    both = usage is None or msg is None  # MsccRequests too (none to decode them from later)
    mscc: list[MsccRequest] = [] if both else _NO_MSCC
    services: list[Any] = []
    seen = False
    rsu: Units | None = None
    # (made when first needed: most CCRs have no top-level units)
    usus: list[tuple[Units, int | None]] | None = None
    sids: list[int] | None = None
    subs: list[tuple[int, str]] = []
    sctx: Any = _UNSEEN
    auth: Any = _UNSEEN
    user: Any = _UNSEEN
    action: Any = _UNSEEN
    p: i64 = 20
    while p < end:
        code, vendor, ps, pe, p = _frame(buf, p, end)
        if pe < 0:
            _bad(buf, 20, end, p)
        if vendor != 0:
            continue
        if code == 263:  # Session-Id
            sid = _text(buf, ps, pe)
        elif code == 456:  # Multiple-Services-Credit-Control
            m = _mscc_parts(buf, ps, pe)
            seen = True
            if both:
                mscc.append(_new_mscc(m[0], m[1], m[2], m[3], m[4], m[5]))
            if usage is not None:
                services.append(usage(m[0], m[1], m[2], m[3], m[4]))
        elif code == 416:  # CC-Request-Type
            rtype = _uint_at(buf, code, ps, pe)
        elif code == 415:  # CC-Request-Number
            number = _uint_at(buf, code, ps, pe)
        elif code == 264:  # Origin-Host
            oh = _text(buf, ps, pe)
        elif code == 296:  # Origin-Realm
            orealm = _text(buf, ps, pe)
        elif code == 437:  # Requested-Service-Unit
            rsu = units(buf, ps, pe)[0]
        elif code == 446:  # Used-Service-Unit
            usus = _push(usus, units(buf, ps, pe))
        elif code == 439:  # Service-Identifier
            sids = _push(sids, _uint_at(buf, code, ps, pe))
        elif code == 443:  # Subscription-Id
            sub = _subscription_walk(buf, ps, pe)
            if sub is not None:
                subs.append(sub)
        elif code == 461:  # Service-Context-Id
            if sctx is _UNSEEN:
                sctx = _text(buf, ps, pe)
        elif code == 258:  # Auth-Application-Id
            if auth is _UNSEEN:
                auth = _uint_at(buf, code, ps, pe)
        elif code == 1:  # User-Name
            if user is _UNSEEN:
                user = _text(buf, ps, pe)
        elif code == 436:  # Requested-Action
            if action is _UNSEEN:
                action = _int32_at(buf, code, ps, pe)
    rt = _REQUEST_TYPES.get(rtype)
    if rt is None:
        raise ValueError(f"bad CC-Request-Type {None if rtype < 0 else rtype!r}")
    top = False
    if not seen and (rsu is not None or usus):
        top = True
        used = [u for u, _ in usus] if usus else []
        reasons = [r for _, r in usus if r is not None] if usus else []
        first = sids[:1] if sids else []
        if both:
            mscc.append(_new_mscc(None, first, rsu, used, reasons, []))
        if usage is not None:
            services.append(usage(None, first, rsu, used, reasons))
    # the AVPs the walk saw are not decoded again; the others read as absent; Subscription-Id
    # not seen: decoded on first access (inside Service-Information)
    return _made(sid, rt, number or 0, bool(buf[4] & 0x10), oh, orealm, peer or oh, dialect,
                 mscc if both else _mscc_later, services if usage is not None else None, top, msg,
                 number is not None, None if sctx is _UNSEEN else sctx,
                 subs if subs else (_UNSET_ if msg is not None else []), None if user is _UNSEEN else user,
                 None if action is _UNSEEN else action, None if auth is _UNSEEN else auth)
