"""Checking a message against its command grammar (RFC 6733 sections 3.2, 4, 7.1.5)."""
from __future__ import annotations

from typing import Any

from ..codec.errors import DecodeError, MessageDecodeError
from ..codec.types import CODECS
from ..codec.frame import COMPILED, U32X2
from ..codec.grammar import grammar_ok as _grammar_ok
from ..codec.grammar import message_ok as _message_ok
from ..codec.wire import LIMITS, encode_avp, scan_avps, unpack_header
from .findings import (AvpNotAllowed, AvpOccursTooManyTimes, AvpUnsupported, CommandUnsupported,
                       InvalidAvpBits, InvalidAvpLength, InvalidAvpValue, InvalidHdrBits,
                       InvalidMessageLength, MissingAvp, UnsupportedVersion, ValidationError)
from .rules import GENERATION, Grammar, RuleSet, default_rules

__all__ = ["validate", "example_avp"]

_FIXED = {"Integer32": 4, "Integer64": 8, "Unsigned32": 4, "Unsigned64": 8,
          "Float32": 4, "Float64": 8, "Enumerated": 4, "Time": 4}
_MIN_PAYLOAD = dict(_FIXED, Address=6)
_FAMILY_RESERVED = (0, 65535)
_AnyEntry = tuple[int, int, int, int, int, int]
_MISS = object()
FAST_PATH = [COMPILED]
"""Check valid-looking messages in one compiled pass first (slower than the full check
when interpreted, so on only in the compiled build)."""


def validate(msg_or_bytes: Any, dictionary: RuleSet | None = None,
             strict: bool = False) -> list[ValidationError]:
    """Check a message (a ``Message`` or its bytes) against its grammar.

    Returns the findings, an empty list for a valid message. By default the
    check is lenient where RFC 6733 lets a receiver be: unknown AVPs without
    the M bit are ignored, Enumerated values outside the dictionary's list
    are accepted, a missing M bit is accepted. ``strict=True`` reports those
    too (as 5008, 5004 and 3009). A built message is encoded first
    (``EncodeError`` propagates: that is a programming error, not bad input).
    """
    rules = dictionary if dictionary is not None else default_rules()
    if type(msg_or_bytes) is bytes:
        data = msg_or_bytes
    elif isinstance(msg_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(msg_or_bytes)
    else:
        data = msg_or_bytes.as_bytes()
    if FAST_PATH[0] and not strict and _message_ok(data, rules, rules.fast_cache()):
        return []
    return _Checker(data, rules, strict).run()


def request_findings(data: bytes, rules: RuleSet) -> list[ValidationError]:
    """``validate(data, rules)`` for a received message's bytes (the node's check of each
    request): the same findings, one Python frame for the common valid message. The rule
    set's caches bound themselves as they fill; a new dictionary generation resets them."""
    if FAST_PATH[0] and type(data) is bytes:
        if rules._generation != GENERATION[0]:
            rules.avp_cache()       # the one place that resets the caches
        if _message_ok(data, rules, rules._fast):
            return []
        return _Checker(data, rules, False).run()
    return validate(data, rules)


def _certainly_valid(buf: bytes, rules: RuleSet) -> bool:
    """The common case in one compiled pass: True only when the full check finds nothing.

    The same conditions as the fast path of ``_Checker.run``, without building
    the checker: sound framing, a request without the E bit or an answer without
    it, the P bit allowed, a known command, and ``grammar_ok``
    (``codec.grammar.message_ok``).
    """
    return _message_ok(buf, rules, rules.fast_cache())


def example_avp(code: int, vendor: int, rules: RuleSet | None = None, depth: int = 0) -> bytes:
    """An AVP of (code, vendor) with a zero-filled payload of minimum length (RFC 6733 7.5).

    Grouped AVPs hold examples of their required members (to a bounded depth).
    """
    rules = rules or default_rules()
    from .rules import key_of
    k = key_of(code, vendor)
    info = rules.avp(k)
    flags = 0x40 if (info is not None and info.must_m) else 0
    payload = b""
    if info is not None:
        if info.type_name == "Grouped":
            g = rules.grouped(k)
            if g is not None and depth < 4:
                parts = []
                for mk, lo, _hi in g.bounds:
                    for _ in range(lo):
                        parts.append(example_avp(mk & 0xFFFFFFFF, mk >> 32, rules, depth + 1))
                payload = b"".join(parts)
        else:
            payload = bytes(_MIN_PAYLOAD.get(info.type_name, 0))
    return encode_avp(code, flags, vendor, payload)


class _Checker:
    __slots__ = ("buf", "rules", "strict", "out", "cache")

    def __init__(self, buf: bytes, rules: RuleSet, strict: bool) -> None:
        self.buf = buf
        self.rules = rules
        self.strict = strict
        self.out: list[ValidationError] = []
        self.cache = rules.avp_cache()

    def run(self) -> list[ValidationError]:
        buf = self.buf
        try:
            _v, length, flags, code, app, _h, _e = unpack_header(buf)
        except MessageDecodeError as e:
            cls = UnsupportedVersion if e.result_code == 5011 else InvalidMessageLength
            return [cls(str(e), offset=e.offset)]
        is_request = bool(flags & 0x80)
        if is_request and flags & 0x20:
            self.out.append(InvalidHdrBits("E bit set in a request"))
        grammar = self.rules.command(app, code, is_request)
        if flags & 0x40 and grammar is not None and not self.rules.proxiable.get(code, True):
            self.out.append(InvalidHdrBits(f"P bit set on the non-proxiable command {code}"))
        if grammar is None and not self.rules.knows_command(code):
            self.out.append(CommandUnsupported(f"command code {code} is unknown"))
        if (FAST_PATH[0] and not self.out and not self.strict
                and not flags & 0x20
                and _grammar_ok(buf, 20, length, grammar, self.rules, self.rules.fast_cache(), 0,
                                LIMITS.max_depth)):
            return self.out      # the common case, checked in one pass (compiled core)
        try:
            entries = scan_avps(buf, 20, length)
        except DecodeError as e:
            self.out.append(self._framing(e))
            return self.out
        if grammar is not None and flags & 0x20 and not is_request:
            grammar = None  # an answer with the E bit follows RFC 6733 7.2, not its command
            self._check_list(entries, _ERROR_ANSWER, (), 0)
        else:
            self._check_list(entries, grammar, (), 0)
        return self.out

    # -- framing errors -----------------------------------------------------
    def _framing(self, e: DecodeError, path: tuple = ()) -> ValidationError:
        buf = self.buf
        off = e.offset
        code = e.avp_code
        vendor = e.vendor_id or 0
        flags = 0
        if off is not None and off + 8 <= len(buf) and code is not None and \
                U32X2.unpack_from(buf, off)[0] == code:
            flags = buf[off + 4]
            if flags & 0x80 and off + 12 <= len(buf):
                vendor = int.from_bytes(buf[off + 8:off + 12], "big")
        avp = None
        if code is not None:
            info = self.rules.avp(code | (vendor << 32))
            size = _MIN_PAYLOAD.get(info.type_name, 0) if info is not None else 0
            avp = encode_avp(code, flags, vendor, bytes(size))
        cls = InvalidAvpValue if e.result_code == 5004 else InvalidAvpLength
        return cls(str(e), code, vendor if code is not None else None, avp, path, off)

    # -- grammar --------------------------------------------------------------
    def _check_list(self, entries: list[_AnyEntry], grammar: Grammar | None, path: tuple,
                    depth: int) -> None:
        buf = self.buf
        out = self.out
        rules = self.rules
        strict = self.strict
        counts: dict[int, list[_AnyEntry]] = {}
        allowed = grammar.allowed if grammar is not None else None
        allow_any = grammar is None or grammar.allow_any
        cache = self.cache
        for e in entries:
            code, vendor, flags, start, ps, pe = e
            k = code | (vendor << 32)
            lst = counts.get(k)
            if lst is None:
                counts[k] = [e]
            else:
                lst.append(e)
            info = cache.get(k, _MISS)
            if info is _MISS:
                info = rules.avp(k)
            if (info is not None and not strict and not flags & info.bad_flags  # type: ignore[union-attr]
                    and (vendor or not flags & 0x80) and (allow_any or k in allowed)):  # type: ignore[operator]
                # fast path: a known AVP, allowed here, with acceptable flags
                size = info.fixed  # type: ignore[union-attr]
                if size:
                    if pe - ps != size:
                        self._check_value(e, info, path)
                elif info.grouped:  # type: ignore[union-attr]
                    self._check_grouped(e, k, info.name, path, depth)  # type: ignore[union-attr]
                elif info.value_check:  # type: ignore[union-attr]
                    self._check_value(e, info, path)
                continue
            if info is None:
                if flags & 0x40:
                    out.append(AvpUnsupported(f"unknown AVP {code}/{vendor} with the M bit",
                                              code, vendor, self._copy(e), path, start))
                elif strict and not allow_any and k not in allowed:  # type: ignore[operator]
                    out.append(AvpNotAllowed(f"unknown AVP {code}/{vendor} not in the grammar",
                                             code, vendor, self._copy(e), path, start))
                if flags & 0x80 and vendor == 0:
                    out.append(InvalidAvpBits(f"AVP {code}: V bit set with Vendor-Id 0",
                                              code, vendor, self._copy(e), path, start))
                continue
            if not allow_any and k not in allowed:  # type: ignore[operator]
                out.append(AvpNotAllowed(f"{info.name} is not allowed here", code, vendor,
                                         self._copy(e), path, start))
            if flags & 0x40 and info.must_not_m:
                out.append(InvalidAvpBits(f"{info.name}: M bit set, its definition forbids it",
                                          code, vendor, self._copy(e), path, start))
            elif strict and info.must_m and not flags & 0x40:
                out.append(InvalidAvpBits(f"{info.name}: M bit clear, its definition requires it",
                                          code, vendor, self._copy(e), path, start))
            if flags & 0x80 and vendor == 0:
                out.append(InvalidAvpBits(f"{info.name}: V bit set with Vendor-Id 0",
                                          code, vendor, self._copy(e), path, start))
            tn = info.type_name
            if tn == "Grouped":
                self._check_grouped(e, k, info.name, path, depth)
            else:
                self._check_value(e, info, path)
        if grammar is None:
            return
        for i, fk in enumerate(grammar.fixed):
            occ = counts.get(fk)
            if occ and (i >= len(entries) or entries[i] is not occ[0]):
                e = occ[0]
                out.append(AvpNotAllowed(
                    f"{self._name(fk)} must be at position {i + 1} (a fixed-position AVP)",
                    e[0], e[1], self._copy(e), path, e[3]))
        for k, lo, hi in grammar.bounds:
            occ = counts.get(k)
            n = len(occ) if occ else 0
            if n < lo:
                code, vendor = k & 0xFFFFFFFF, k >> 32
                out.append(MissingAvp(f"{self._name(k)} is missing" + (
                    f" ({n} of at least {lo})" if lo > 1 else ""),
                    code, vendor, example_avp(code, vendor, rules), path, None))
            elif hi >= 0 and n > hi:
                e = occ[hi]  # type: ignore[index]
                out.append(AvpOccursTooManyTimes(
                    f"{self._name(k)} occurs {n} times, at most {hi} allowed",
                    e[0], e[1], self._copy(e), path, e[3]))
        del buf

    def _check_grouped(self, e: _AnyEntry, k: int, name: str, path: tuple, depth: int) -> None:
        code, vendor, flags, start, ps, pe = e
        sub_path = path + ((code, vendor, flags),)
        if depth + 1 >= LIMITS.max_depth:
            self.out.append(InvalidAvpValue(f"{name}: grouped AVPs nested too deep",
                                            code, vendor, self._copy(e), path, start))
            return
        try:
            members = scan_avps(self.buf, ps, pe)
        except DecodeError as err:
            if err.avp_code is None:  # truncated member header: the group itself is bad
                self.out.append(InvalidAvpLength(f"{name}: {err}", code, vendor,
                                                 self._copy(e), path, err.offset))
            else:
                self.out.append(self._framing(err, sub_path))
            return
        self._check_list(members, self.rules.grouped(k), sub_path, depth + 1)

    def _check_value(self, e: _AnyEntry, info: Any, path: tuple) -> None:
        code, vendor, flags, start, ps, pe = e
        tn = info.type_name
        buf = self.buf
        size = _FIXED.get(tn)
        if size is not None:
            if pe - ps != size:
                self.out.append(InvalidAvpLength(
                    f"{info.name}: {tn} payload of {pe - ps} bytes, expected {size}",
                    code, vendor, self._copy(e), path, start))
                return
            if info.enum and self.strict:
                value = int.from_bytes(buf[ps:pe], "big", signed=True)
                if value not in info.enum:
                    self.out.append(InvalidAvpValue(f"{info.name}: {value} is not a defined value",
                                                    code, vendor, self._copy(e), path, start))
            return
        if tn == "Address":
            problem = _address_problem(buf, ps, pe)
            if problem:
                self.out.append(InvalidAvpValue(f"{info.name}: {problem}", code, vendor,
                                                self._copy(e), path, start))
            return
        if tn in ("UTF8String", "DiameterURI"):
            try:
                CODECS[tn][0](buf, ps, pe)
            except DecodeError as err:
                self.out.append(InvalidAvpValue(f"{info.name}: {err}", code, vendor,
                                                self._copy(e), path, start))
            return
        if tn == "DiameterIdentity" and self.strict:
            raw = buf[ps:pe]
            if not raw or not raw.isascii() or b" " in raw:
                self.out.append(InvalidAvpValue(f"{info.name}: {raw!r} is not an FQDN",
                                                code, vendor, self._copy(e), path, start))

    # -- helpers --------------------------------------------------------------
    def _copy(self, e: _AnyEntry) -> bytes:
        s, pe = e[3], e[5]
        return self.buf[s:pe] + bytes(-(pe - s) & 3)

    def _name(self, k: int) -> str:
        info = self.rules.avp(k)
        return info.name if info is not None else f"AVP {k & 0xFFFFFFFF}/{k >> 32}"


def _address_problem(buf: bytes, ps: int, pe: int) -> str | None:
    n = pe - ps
    if n < 2:
        return f"Address of {n} bytes has no address family"
    family = int.from_bytes(buf[ps:ps + 2], "big")
    if family in _FAMILY_RESERVED:
        return f"reserved address family {family}"
    if family == 1 and n != 6:
        return f"IPv4 address of {n - 2} bytes"
    if family == 2 and n != 18:
        return f"IPv6 address of {n - 2} bytes"
    return None


# RFC 6733 7.2: the generic answer-message grammar (E bit set).
_ERROR_ANSWER = Grammar((
    (0, 263, "fixed", 0, 1), (0, 264, "required", 1, 1), (0, 296, "required", 1, 1),
    (0, 268, "required", 1, 1), (0, 278, "optional", 0, 1), (0, 281, "optional", 0, 1),
    (0, 294, "optional", 0, 1), (0, 279, "optional", 0, 1), (0, 297, "optional", 0, 1),
    (0, 284, "optional", 0, -1), (-1, -1, "optional", 0, -1)))
