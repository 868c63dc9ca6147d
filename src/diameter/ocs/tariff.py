"""Tariffs and grant policy, read from TOML, with built-in defaults.

A rate says what a service costs: `price` minor units for every started block of
`per` units (seconds, octets or events), the grant size to offer when the client asks
for none (`default_quota`), or that the service is free (answered 4011). Rates are
matched on service context (a suffix, so ``ext.01.001.8.32260@3gpp.org`` matches
``32260@3gpp.org``), rating group and service identifier; the most specific wins.

Example (the defaults)::

    [policy]
    validity_time = 600        # Validity-Time of every grant (s)
    quota_holding_time = 0     # 0 = not sent
    threshold_percent = 20     # Volume-/Time-Quota-Threshold as % of the grant
    reservation_grace = 30     # a reservation expires validity_time + grace after the grant
    final_unit_action = "terminate"   # or "redirect" / "restrict"
    redirect_address = "http://top-up.example.net/"
    # with "restrict": Restriction-Filter-Rule (IPFilterRule) and/or Filter-Id values;
    # default: a walled garden that lets only DNS through
    restriction_filter_rules = ["permit out 17 from any to any 53", "permit in 17 from any 53 to any"]
    filter_ids = []

    [[rates]]
    context = "32251@3gpp.org"  # Gy
    unit = "octets"
    price = 10
    per = 1048576
    default_quota = 10485760
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .model import FinalAction, UnitKind

if TYPE_CHECKING:
    from mypy_extensions import i64

#: affordable units without a price (as many as anyone could ask for)
_UNLIMITED: Final = 1 << 62
#: operands below this multiply without the big-integer path when compiled (mypyc's check)
_SMALL: Final = 1 << 30
#: the largest product worked out in 64-bit arithmetic when compiled
_I64_PRODUCT: Final = (1 << 62) - 1


class TariffError(ValueError):
    """A tariff file that cannot be used."""


@dataclass(frozen=True)
class Rate:
    unit: UnitKind
    price: int = 0  # minor units per block
    per: int = 1  # units per block
    default_quota: int = 1
    free: bool = False
    context: str | None = None  # service context suffix; None = any
    rating_group: int | None = None
    service_identifier: int | None = None
    max_quota: int | None = None

    def cost(self, units: int) -> int:
        """Price of `units` (every started block is paid)."""
        if self.free or units <= 0:
            return 0
        return -(-units // self.per) * self.price

    def affordable(self, money: int) -> int:
        """Units that `money` minor units pay for (whole blocks)."""
        if self.free or self.price == 0:
            return _UNLIMITED
        if money <= 0:
            return 0
        blocks = money // self.price
        per = self.per
        if blocks < _SMALL and per < _SMALL:
            return blocks * per
        return _product(blocks, per)

    def matches(self, context: str | None, rating_group: int | None, service_id: int | None) -> int:
        """Specificity score of this rate for a request, or -1 when it does not apply."""
        score = 0
        if self.context is not None:
            if context is None or not (context == self.context or context.endswith("." + self.context)
                                       or context.endswith(self.context)):
                return -1
            score += 1
        if self.rating_group is not None:
            if rating_group != self.rating_group:
                return -1
            score += 2
        if self.service_identifier is not None:
            if service_id != self.service_identifier:
                return -1
            score += 4
        return score


def _product(a: int, b: int) -> int:
    """``a * b``, in 64-bit arithmetic when compiled if the
    product fits (compiled, an operand over 2**30 otherwise takes Python's integers)."""
    if 0 < b <= _I64_PRODUCT and 0 <= a <= _I64_PRODUCT // b:
        x: i64 = a
        y: i64 = b
        return x * y
    return a * b


DEFAULT_RESTRICTION_RULES = ("permit out 17 from any to any 53", "permit in 17 from any 53 to any")


def _strings(table: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(key, default)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise TariffError(f"[policy] {key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Policy:
    validity_time: int = 600
    quota_holding_time: int = 0
    threshold_percent: int = 20
    reservation_grace: int = 30
    final_unit_action: FinalAction = FinalAction.TERMINATE
    redirect_address: str = "http://top-up.example.net/"
    share_wallet: bool = True  # divide what a wallet can pay between its open sessions
    #: RESTRICT_ACCESS: IPFilterRules the client applies once the final units are used (RFC 4006 8.36)
    restriction_filter_rules: tuple[str, ...] = DEFAULT_RESTRICTION_RULES
    filter_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tariff:
    rates: tuple[Rate, ...]
    policy: Policy = field(default_factory=Policy)

    #: context -> rating group -> service identifier -> rate (None: nothing applies); nested
    #: dicts, as a tuple key costs its building, hashing and comparing on every look-up
    _memo: dict[str | None, dict[int | None, dict[int | None, Rate | None]]] = field(
        init=False, default_factory=dict, repr=False, compare=False, hash=False)

    def rate_for(self, context: str | None, rating_group: int | None,
                 service_id: int | None) -> Rate | None:
        """The most specific rate for a request (None: nothing applies); remembered (bounded)."""
        by_rg = self._memo.get(context)
        if by_rg is not None:
            by_sid = by_rg.get(rating_group)
            if by_sid is not None and service_id in by_sid:
                return by_sid[service_id]
        return self._rate_for(context, rating_group, service_id)

    def _rate_for(self, context: str | None, rating_group: int | None,
                  service_id: int | None) -> Rate | None:
        best: Rate | None = None
        best_score = -1
        for rate in self.rates:
            score = rate.matches(context, rating_group, service_id)
            if score > best_score:
                best, best_score = rate, score
        memo = self._memo
        by_rg = memo.get(context)
        if by_rg is None or len(by_rg) >= 256:  # bounded: 16 x 256 x 16 entries at most
            if len(memo) >= 16:
                memo.clear()
            by_rg = memo[context] = {}
        by_sid = by_rg.get(rating_group)
        if by_sid is None or len(by_sid) >= 16:
            by_sid = by_rg[rating_group] = {}
        by_sid[service_id] = best
        return best


DEFAULT_RATES: tuple[Rate, ...] = (
    # Gy / packet core: 10 minor units per MiB, 10 MiB grants
    Rate(UnitKind.OCTETS, price=10, per=1 << 20, default_quota=10 << 20, context="32251@3gpp.org"),
    # Ro / IMS voice: 1 minor unit per started 6 s, 5 minute grants
    Rate(UnitKind.TIME, price=1, per=6, default_quota=300, context="32260@3gpp.org"),
    # SMS: 5 minor units per message
    Rate(UnitKind.EVENTS, price=5, per=1, default_quota=1, context="32274@3gpp.org"),
    # rating group 1000 is zero-rated everywhere
    Rate(UnitKind.OCTETS, free=True, rating_group=1000),
    # anything else: charged as time, 1 minor unit per started minute
    Rate(UnitKind.TIME, price=1, per=60, default_quota=600),
)

DEFAULT_TARIFF = Tariff(DEFAULT_RATES, Policy())

_UNIT_NAMES = {"octets": UnitKind.OCTETS, "bytes": UnitKind.OCTETS, "volume": UnitKind.OCTETS,
               "time": UnitKind.TIME, "seconds": UnitKind.TIME,
               "events": UnitKind.EVENTS, "event": UnitKind.EVENTS}
_ACTIONS = {"terminate": FinalAction.TERMINATE, "redirect": FinalAction.REDIRECT,
            "restrict": FinalAction.RESTRICT_ACCESS, "restrict_access": FinalAction.RESTRICT_ACCESS}


def _int(table: dict[str, Any], key: str, default: int | None, where: str) -> int | None:
    value = table.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise TariffError(f"{where}: {key} must be a non-negative integer, got {value!r}")
    return value


def tariff_from_dict(data: dict[str, Any]) -> Tariff:
    """Build a tariff from parsed TOML (keys `policy` and `rates`); missing parts use defaults."""
    pol = data.get("policy", {})
    if not isinstance(pol, dict):
        raise TariffError("[policy] must be a table")
    action = str(pol.get("final_unit_action", "terminate")).lower()
    if action not in _ACTIONS:
        raise TariffError(f"[policy] final_unit_action: unknown {action!r}")
    defaults = Policy()
    policy = Policy(
        validity_time=_int(pol, "validity_time", defaults.validity_time, "[policy]") or 0,
        quota_holding_time=_int(pol, "quota_holding_time", 0, "[policy]") or 0,
        threshold_percent=_int(pol, "threshold_percent", defaults.threshold_percent, "[policy]") or 0,
        reservation_grace=_int(pol, "reservation_grace", defaults.reservation_grace, "[policy]") or 0,
        final_unit_action=_ACTIONS[action],
        redirect_address=str(pol.get("redirect_address", defaults.redirect_address)),
        share_wallet=bool(pol.get("share_wallet", True)),
        restriction_filter_rules=_strings(pol, "restriction_filter_rules", DEFAULT_RESTRICTION_RULES),
        filter_ids=_strings(pol, "filter_ids", ()),
    )
    raw_rates = data.get("rates")
    if raw_rates is None:
        return Tariff(DEFAULT_RATES, policy)
    if not isinstance(raw_rates, list):
        raise TariffError("rates must be an array of tables ([[rates]])")
    rates = []
    for i, r in enumerate(raw_rates):
        where = f"rates[{i}]"
        unit = _UNIT_NAMES.get(str(r.get("unit", "")).lower())
        if unit is None:
            raise TariffError(f"{where}: unit must be one of time, octets, events")
        per = _int(r, "per", 1, where) or 0
        if per <= 0:
            raise TariffError(f"{where}: per must be positive")
        rates.append(Rate(
            unit=unit, price=_int(r, "price", 0, where) or 0, per=per,
            default_quota=_int(r, "default_quota", per, where) or per,
            free=bool(r.get("free", False)),
            context=r.get("context"), rating_group=_int(r, "rating_group", None, where),
            service_identifier=_int(r, "service_identifier", None, where),
            max_quota=_int(r, "max_quota", None, where),
        ))
    return Tariff(tuple(rates), policy)


def load_tariff(path: str | Path | None) -> Tariff:
    """Read a tariff TOML file (a `[tariff]` table inside a server config works too)."""
    if path is None:
        return DEFAULT_TARIFF
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TariffError(f"{path}: {exc}") from exc
    if "tariff" in data and isinstance(data["tariff"], dict):
        data = data["tariff"]
    return tariff_from_dict(data)
