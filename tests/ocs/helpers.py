"""Builders for OCS tests."""

from __future__ import annotations

from diameter.ocs import ChargeRequest, RequestKind, ServiceUsage, UnitKind

GY = "32251@3gpp.org"
MSISDN = "491700000001"
MIB = 1 << 20


def gy(session: str, number: int, kind: RequestKind, *, used: int = 0, requested: int | None = 0,
       rg: int | None = 1, msisdn: str = MSISDN, final: bool = False) -> ChargeRequest:
    """A Gy request for one rating group; `requested=None` sends no RSU, 0 an empty RSU."""
    req = None if requested is None else ({UnitKind.OCTETS: requested} if requested else {})
    usage = ServiceUsage(rg, requested=req, used={UnitKind.OCTETS: used} if used else {}, final=final)
    return ChargeRequest(session, number, kind, [(0, msisdn)], GY, [usage])
