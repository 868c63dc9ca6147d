"""Per Multiple-Services-Credit-Control quota tracking on the client (sans-IO).

A :class:`Quota` holds what one rating group (or the top-level units, rating group None) was
granted, what was consumed since the last report, its timers (Validity-Time, Quota-Holding-Time)
and thresholds, its Final-Unit-Indication and its per-MSCC Result-Code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .types import FinalUnit, Grant, Units, is_success

_KINDS = ("time", "total_octets", "input_octets", "output_octets", "service_specific")


def add_units(a: Units | None, b: Units | None) -> Units | None:
    """Field-wise sum (a kind absent in both stays None; money is taken from ``b`` when set)."""
    if a is None:
        return b
    if b is None:
        return a
    vals = {}
    for k in _KINDS:
        x, y = getattr(a, k), getattr(b, k)
        vals[k] = None if x is None and y is None else (x or 0) + (y or 0)
    return Units(money=b.money or a.money, **vals)


@dataclass(slots=True)
class Quota:
    """One rating group's quota."""
    rating_group: int | None
    service_identifiers: list[int] = field(default_factory=list)
    granted: Units | None = None
    consumed: Units | None = None          # since the grant (for remaining / thresholds)
    unreported: Units | None = None        # since the last CCR that reported usage
    result_code: int | None = None
    final_unit: FinalUnit | None = None
    validity_deadline: float | None = None
    qht: float | None = None
    qht_deadline: float | None = None
    volume_threshold: int | None = None
    time_threshold: int | None = None
    threshold_reported: bool = False
    exhausted: bool = False
    requested: Units | None = None         # what to ask for again in the next CCR

    @property
    def blocked(self) -> bool:
        """The server refused this rating group (per-MSCC Result-Code not 2xxx, e.g. 4012)."""
        return self.result_code is not None and not is_success(self.result_code)

    def apply(self, g: Grant, now: float, default_validity: int | None) -> None:
        """A new grant replaces the old one; consumption restarts from zero."""
        self.result_code = g.result_code
        self.granted = g.granted
        self.consumed = None
        self.final_unit = g.final_unit
        vt = g.validity_time if g.validity_time is not None else default_validity
        self.validity_deadline = now + vt if vt is not None and not self.blocked else None
        self.qht = float(g.quota_holding_time) if g.quota_holding_time else None
        self.qht_deadline = now + self.qht if self.qht is not None and not self.blocked else None
        self.volume_threshold = g.volume_quota_threshold
        self.time_threshold = g.time_quota_threshold
        self.threshold_reported = False
        self.exhausted = False
        if g.service_identifiers:
            self.service_identifiers = list(g.service_identifiers)

    def remaining(self) -> dict[str, int]:
        """Units left per granted kind (may be negative when overused)."""
        out: dict[str, int] = {}
        if self.granted is None:
            return out
        for k in _KINDS:
            gv = getattr(self.granted, k)
            if gv is not None:
                used = getattr(self.consumed, k) if self.consumed is not None else None
                out[k] = gv - (used or 0)
        return out

    def consume(self, units: Units, now: float) -> str | None:
        """Add usage; returns ``"exhausted"``, ``"threshold"`` or None (what became due)."""
        self.consumed = add_units(self.consumed, units)
        self.unreported = add_units(self.unreported, units)
        if self.qht is not None:
            self.qht_deadline = now + self.qht
        rem = self.remaining()
        if not self.exhausted and rem and any(v <= 0 for v in rem.values()):
            self.exhausted = True
            return "exhausted"
        if not self.threshold_reported and self.final_unit is None:
            vol = min((v for k, v in rem.items() if k != "time"), default=None)
            if (self.volume_threshold is not None and vol is not None and vol <= self.volume_threshold) or \
                    (self.time_threshold is not None and "time" in rem and rem["time"] <= self.time_threshold):
                self.threshold_reported = True
                return "threshold"
        return None

    def take_consumed(self) -> Units | None:
        """The usage to report in the next CCR (and forget it here)."""
        u, self.unreported = self.unreported, None
        return u

    def next_deadline(self) -> float | None:
        v, q = self.validity_deadline, self.qht_deadline
        if v is None:
            return q
        return v if q is None or v <= q else q
