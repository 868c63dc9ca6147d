"""Grammar rules compiled for fast checking, cached per command and grouped AVP."""
from __future__ import annotations

import weakref
from collections.abc import Mapping

from ..codec.typed import GENERATION
from ..dictionary import tables as _tables
from ..dictionary.runtime import on_change
from ..message.avp import dictionary as _avpdict

__all__ = ["Grammar", "RuleSet", "AvpInfo", "default_rules", "key_of", "BASE_APPLICATIONS"]

BASE_APPLICATIONS = (0, 3)
"""The base protocol's applications (RFC 6733: common messages, base accounting): their
commands are the only ones whose grammar applies under any Application-Id."""

Member = tuple[int, int, str, int, int]  # (vendor, code, kind, min, max)
_FIXED_SIZE = {"Integer32": 4, "Integer64": 8, "Unsigned32": 4, "Unsigned64": 8,
               "Float32": 4, "Float64": 8, "Enumerated": 4, "Time": 4}


def key_of(code: int, vendor: int) -> int:
    """The codec's AVP key: ``code | vendor << 32``."""
    return code | (vendor << 32)


class Grammar:
    """A command or grouped grammar: occurrence bounds per AVP key."""
    __slots__ = ("fixed", "bounds", "allowed", "allow_any", "order", "required")

    def __init__(self, members: tuple[Member, ...]) -> None:
        fixed: list[int] = []
        bounds: list[tuple[int, int, int]] = []
        allowed: dict[int, tuple[int, int]] = {}
        allow_any = False
        order: list[int] = []
        for vendor, code, kind, lo, hi in members:
            if vendor == -1:
                allow_any = True
                continue
            k = key_of(code, vendor)
            if k in allowed:  # merged grammars: keep the widest bounds
                plo, phi = allowed[k]
                lo = min(lo, plo)
                hi = -1 if (hi < 0 or phi < 0) else max(hi, phi)
            else:
                order.append(k)
            allowed[k] = (lo, hi)
            if kind == "fixed" and k not in fixed:
                fixed.append(k)
        for k in order:
            lo, hi = allowed[k]
            if lo > 0 or hi >= 0:
                bounds.append((k, lo, hi))
        self.fixed = tuple(fixed)
        self.bounds = tuple(bounds)
        self.required = tuple((k, lo) for k, lo, _hi in bounds if lo > 0)
        self.allowed = allowed
        self.allow_any = allow_any
        self.order = tuple(order)


class AvpInfo:
    """What the checker needs to know of one AVP: type and flag rules."""
    __slots__ = ("name", "type_name", "must_m", "must_not_m", "enum", "bad_flags", "fixed",
                 "grouped", "value_check")

    def __init__(self, name: str, type_name: str, rules: tuple[str, str, str] | None,
                 enum: Mapping[int, str] | None) -> None:
        self.name = name
        self.type_name = type_name
        must, _may, must_not = rules or ("", "", "")
        self.must_m = "M" in must
        self.must_not_m = "M" in must_not
        self.enum = enum
        # for the checker's fast path (lenient mode)
        self.bad_flags = 0x40 if self.must_not_m else 0
        self.fixed = _FIXED_SIZE.get(type_name, 0)
        self.grouped = type_name == "Grouped"
        self.value_check = type_name in ("Address", "UTF8String", "DiameterURI")


_ALL: weakref.WeakSet[RuleSet] = weakref.WeakSet()


#: entries a RuleSet cache holds at most (the dictionary's AVPs fit many times over)
MAX_CACHE_ENTRIES = 20_000


class RuleSet:
    """Command and grouped grammars plus AVP definitions, compiled lazily and cached.

    The default (:func:`default_rules`) uses the generated tables and the
    running AVP dictionary (AVPs registered at run time included). Pass other
    grammar mappings (same shape as ``COMMAND_GRAMMARS`` / ``GROUPED_GRAMMARS``)
    to check against a custom dictionary. AVPs of ``unrecognised_vendors`` are
    treated as unknown (RFC 6733 4.1: 5001 with the M bit, ignored without it):
    that is how a dialect (:mod:`.dialects`) leaves out a vendor's extensions.
    """

    def __init__(self, command_grammars: Mapping[tuple[int, int, bool], tuple[Member, ...]] | None = None,
                 grouped_grammars: Mapping[tuple[int, int], tuple[Member, ...]] | None = None,
                 proxiable: Mapping[int, bool] | None = None,
                 unrecognised_vendors: frozenset[int] | set[int] = frozenset()) -> None:
        self.command_grammars = (_tables.COMMAND_GRAMMARS if command_grammars is None
                                 else command_grammars)
        self.grouped_grammars = (_tables.GROUPED_GRAMMARS if grouped_grammars is None
                                 else grouped_grammars)
        if proxiable is None:
            proxiable = {}
            for code, _app, _name, flags, _abbr in _tables.COMMANDS:
                proxiable[code] = proxiable.get(code, False) or "P" in flags
        self.proxiable = proxiable
        self.unrecognised_vendors = frozenset(unrecognised_vendors)
        self._by_code: dict[tuple[int, bool], list[int]] = {}
        for app, code, req in self.command_grammars:
            self._by_code.setdefault((code, req), []).append(app)
        for apps in self._by_code.values():
            apps.sort()
        # (code, is_request) -> the base protocol's grammar key, shared by every application
        self._base: dict[tuple[int, bool], tuple[int, int, bool]] = {}
        for base in reversed(BASE_APPLICATIONS):
            for (code, req), apps in self._by_code.items():
                if base in apps:
                    self._base[(code, req)] = (base, code, req)
        self._commands: dict[tuple[int, int, bool], Grammar | None] = {}
        self._grouped: dict[int, Grammar | None] = {}
        self._avps: dict[int, AvpInfo | None] = {}
        self._fast: dict = {}          # key -> codec.grammar.VInfo, for the compiled fast path
        self._generation = GENERATION[0]
        _ALL.add(self)

    def command(self, app: int, code: int, is_request: bool) -> Grammar | None:
        """The grammar of command ``code`` in application ``app``.

        A base protocol command (:data:`BASE_APPLICATIONS`: CER, DWR, DPR, RAR,
        STR, ASR, ACR) that ``app`` does not define itself has the base grammar.
        Any other command the dictionary does not define for ``app`` has none
        (None): its AVPs are checked one by one and the rest is left to the
        application, whatever other application uses the same command code.
        """
        ck = (app, code, is_request)
        try:
            return self._commands[ck]
        except KeyError:
            pass
        members = self.command_grammars.get(ck)
        if members is None:
            base = self._base.get((code, is_request))
            if base is None:
                return None     # not cached: only the dictionary's keys are
            if app != base[0]:
                return self.command(*base)
            members = self.command_grammars[base]
        g = Grammar(members)
        if len(self._commands) >= MAX_CACHE_ENTRIES:
            self._drop_grammars()
        self._commands[ck] = g
        return g

    def knows_command(self, code: int) -> bool:
        """Whether any application of the dictionary defines command ``code``."""
        return (code, True) in self._by_code or (code, False) in self._by_code

    def grouped(self, key: int) -> Grammar | None:
        try:
            return self._grouped[key]
        except KeyError:
            pass
        members = self.grouped_grammars.get((key >> 32, key & 0xFFFFFFFF))
        g = Grammar(members) if members is not None else None
        if len(self._grouped) >= MAX_CACHE_ENTRIES:
            self._drop_grammars()
        self._grouped[key] = g
        return g

    def _drop_grammars(self) -> None:
        """Start the grammar caches again (and the fast cache, which holds their plans)."""
        self._commands.clear()
        self._grouped.clear()
        self._fast.clear()

    def clear_cache(self) -> None:
        """Forget compiled grammars and AVP infos (after run-time dictionary changes)."""
        self._commands.clear()
        self._grouped.clear()
        self._avps.clear()
        self._fast.clear()

    def avp_cache(self) -> dict[int, AvpInfo | None]:
        """The AVP info cache (read-only for callers; :meth:`avp` fills it).

        Called once per checked message; it also keeps every cache bounded
        whatever the input (unknown AVP codes, application ids): a cache past
        :data:`MAX_CACHE_ENTRIES` starts again empty.
        """
        if self._generation != GENERATION[0]:
            self._avps.clear()
            self._fast.clear()
            self._generation = GENERATION[0]
        if len(self._fast) > MAX_CACHE_ENTRIES or len(self._avps) > MAX_CACHE_ENTRIES:
            self._avps.clear()
            self._fast.clear()
        if len(self._commands) > MAX_CACHE_ENTRIES or len(self._grouped) > MAX_CACHE_ENTRIES:
            self._commands.clear()
            self._grouped.clear()
        return self._avps

    def fast_cache(self) -> dict:
        """The compiled fast path's per-AVP cache (filled by ``codec.grammar.grammar_ok``).

        Its AVP entries follow :meth:`avp` look-ups and its plans the grammars of
        :meth:`command` and :meth:`grouped`, which bound their caches as they fill them:
        a dictionary generation is what a caller must still check (see
        ``check.request_findings``)."""
        fast = self._fast
        if (self._generation != GENERATION[0] or len(fast) > MAX_CACHE_ENTRIES
                or len(self._avps) > MAX_CACHE_ENTRIES or len(self._commands) > MAX_CACHE_ENTRIES
                or len(self._grouped) > MAX_CACHE_ENTRIES):
            self.avp_cache()   # a new dictionary generation, or a cache to bound
        return fast

    def avp(self, key: int) -> AvpInfo | None:
        """Type and flag rules of an AVP, None when the dictionary does not know it."""
        if self._generation != GENERATION[0]:
            self._avps.clear()
            self._fast.clear()
            self._generation = GENERATION[0]
        try:
            return self._avps[key]
        except KeyError:
            pass
        vk = (key >> 32, key & 0xFFFFFFFF)
        type_name = (None if vk[0] in self.unrecognised_vendors
                     else _avpdict.AVP_TYPE_NAMES.get(vk))
        info = None
        if type_name is not None:
            vendor, code = vk
            entry = (_avpdict.AVP_DICTIONARY.get(code) if vendor == 0 else
                     _avpdict.AVP_VENDOR_DICTIONARY.get(vendor, {}).get(code))
            name = entry["name"] if entry else f"AVP {code}/{vendor}"
            rules = _avpdict.AVP_FLAG_RULES.get(vk)
            if rules is None and entry is not None:
                rules = ("M" if entry.get("mandatory") else "", "", "")
            info = AvpInfo(name, type_name, rules, _avpdict.ENUMS.get(vk))
        if len(self._avps) >= MAX_CACHE_ENTRIES:
            # keys come from the input: start again (the fast cache's AVP entries are
            # a subset of these, made after this look-up)
            self._avps.clear()
            self._fast.clear()
        self._avps[key] = info
        return info


_DEFAULT: list[RuleSet] = []


def clear_caches() -> None:
    """Forget the compiled grammars of every RuleSet (the default one and the
    dialects'), after grammars were added at run time."""
    for rs in list(_ALL):
        rs.clear_cache()


on_change(clear_caches)  # grammars installed at run time (diameter.dictionary.runtime)


def default_rules() -> RuleSet:
    """The shared RuleSet over the generated tables (built once)."""
    if not _DEFAULT:
        _DEFAULT.append(RuleSet())
    return _DEFAULT[0]
