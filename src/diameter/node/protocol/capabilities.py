"""Capabilities exchange (RFC 6733 §5.3): building CER/CEA and negotiating."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import avps as A
from .constants import (APP_COMMON, APP_RELAY, AVP_ACCT_APPLICATION_ID, AVP_AUTH_APPLICATION_ID,
                        AVP_FIRMWARE_REVISION, AVP_HOST_IP_ADDRESS, AVP_INBAND_SECURITY_ID,
                        AVP_ORIGIN_HOST, AVP_ORIGIN_REALM, AVP_ORIGIN_STATE_ID, AVP_PRODUCT_NAME,
                        AVP_RESULT_CODE, AVP_SUPPORTED_VENDOR_ID, AVP_VENDOR_ID,
                        AVP_VENDOR_SPECIFIC_APPLICATION_ID, DIAMETER_MISSING_AVP,
                        DIAMETER_NO_COMMON_APPLICATION, DIAMETER_NO_COMMON_SECURITY,
                        DIAMETER_SUCCESS, INBAND_NO_SECURITY, INBAND_TLS)


@dataclass
class Capabilities:
    """What one Diameter node advertises in a CER or CEA."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: list[str] = field(default_factory=list)
    vendor_id: int = 0
    product_name: str = "python-diameter"
    origin_state_id: int | None = None
    supported_vendor_ids: set[int] = field(default_factory=set)
    auth_application_ids: set[int] = field(default_factory=set)
    acct_application_ids: set[int] = field(default_factory=set)
    #: (vendor_id, auth_app_id or None, acct_app_id or None)
    vendor_specific_application_ids: list[tuple[int, int | None, int | None]] = field(default_factory=list)
    inband_security_ids: set[int] = field(default_factory=set)
    firmware_revision: int | None = None

    @property
    def all_auth(self) -> set[int]:
        return self.auth_application_ids | {a for _v, a, _c in self.vendor_specific_application_ids if a is not None}

    @property
    def all_acct(self) -> set[int]:
        return self.acct_application_ids | {c for _v, _a, c in self.vendor_specific_application_ids if c is not None}

    @property
    def is_relay(self) -> bool:
        return APP_RELAY in self.all_auth or APP_RELAY in self.all_acct

    def avps(self) -> list[bytes]:
        out = [A.text(AVP_ORIGIN_HOST, self.origin_host), A.text(AVP_ORIGIN_REALM, self.origin_realm)]
        out += [A.address(AVP_HOST_IP_ADDRESS, ip) for ip in self.host_ip_addresses]
        out.append(A.u32(AVP_VENDOR_ID, self.vendor_id))
        out.append(A.avp(AVP_PRODUCT_NAME, self.product_name.encode(), mandatory=False))
        if self.origin_state_id is not None:
            out.append(A.u32(AVP_ORIGIN_STATE_ID, self.origin_state_id))
        out += [A.u32(AVP_SUPPORTED_VENDOR_ID, v) for v in sorted(self.supported_vendor_ids)]
        out += [A.u32(AVP_AUTH_APPLICATION_ID, a) for a in sorted(self.auth_application_ids)]
        out += [A.u32(AVP_INBAND_SECURITY_ID, s) for s in sorted(self.inband_security_ids) if s != INBAND_NO_SECURITY or len(self.inband_security_ids) > 1]
        out += [A.u32(AVP_ACCT_APPLICATION_ID, a) for a in sorted(self.acct_application_ids)]
        for vendor, auth, acct in self.vendor_specific_application_ids:
            members = [A.u32(AVP_VENDOR_ID, vendor)]
            if auth is not None:
                members.append(A.u32(AVP_AUTH_APPLICATION_ID, auth))
            if acct is not None:
                members.append(A.u32(AVP_ACCT_APPLICATION_ID, acct))
            out.append(A.grouped(AVP_VENDOR_SPECIFIC_APPLICATION_ID, members))
        if self.firmware_revision is not None:
            out.append(A.avp(AVP_FIRMWARE_REVISION, self.firmware_revision.to_bytes(4, "big"), mandatory=False))
        return out


def parse_capabilities(data: bytes) -> tuple[Capabilities, int | None]:
    """Read a CER or CEA; returns the capabilities and the Result-Code (if any).

    Raises :class:`~.avps.AvpError` (5005 for a missing Origin-Host/Realm).
    """
    caps = Capabilities(origin_host="", origin_realm="")
    result = None
    for code, _flags, vendor, payload in A.iter_avps(data):
        if vendor:
            continue
        if code == AVP_ORIGIN_HOST:
            caps.origin_host = payload.decode("utf-8", "replace")
        elif code == AVP_ORIGIN_REALM:
            caps.origin_realm = payload.decode("utf-8", "replace")
        elif code == AVP_HOST_IP_ADDRESS:
            caps.host_ip_addresses.append(A.decode_address(payload))
        elif code == AVP_VENDOR_ID:
            caps.vendor_id = A.as_u32(payload, 0)
        elif code == AVP_PRODUCT_NAME:
            caps.product_name = payload.decode("utf-8", "replace")
        elif code == AVP_ORIGIN_STATE_ID:
            caps.origin_state_id = A.as_u32(payload)
        elif code == AVP_SUPPORTED_VENDOR_ID:
            caps.supported_vendor_ids.add(A.as_u32(payload, 0))
        elif code == AVP_AUTH_APPLICATION_ID:
            caps.auth_application_ids.add(A.as_u32(payload, 0))
        elif code == AVP_ACCT_APPLICATION_ID:
            caps.acct_application_ids.add(A.as_u32(payload, 0))
        elif code == AVP_INBAND_SECURITY_ID:
            caps.inband_security_ids.add(A.as_u32(payload, 0))
        elif code == AVP_FIRMWARE_REVISION:
            caps.firmware_revision = A.as_u32(payload)
        elif code == AVP_RESULT_CODE:
            result = A.as_u32(payload)
        elif code == AVP_VENDOR_SPECIFIC_APPLICATION_ID:
            v = auth = acct = None
            for c2, _f2, v2, p2 in A.iter_avps(payload, 0):
                if v2:
                    continue
                if c2 == AVP_VENDOR_ID:
                    v = A.as_u32(p2)
                elif c2 == AVP_AUTH_APPLICATION_ID:
                    auth = A.as_u32(p2)
                elif c2 == AVP_ACCT_APPLICATION_ID:
                    acct = A.as_u32(p2)
            caps.vendor_specific_application_ids.append((v or 0, auth, acct))
    if not caps.origin_host or not caps.origin_realm:
        raise A.AvpError("CER/CEA without Origin-Host or Origin-Realm", DIAMETER_MISSING_AVP)
    return caps, result


@dataclass
class Negotiated:
    """Outcome of a capabilities exchange."""

    result_code: int
    auth_application_ids: set[int] = field(default_factory=set)
    acct_application_ids: set[int] = field(default_factory=set)
    peer_is_relay: bool = False
    tls: bool = False

    def supports(self, app_id: int) -> bool:
        return (self.peer_is_relay or app_id in self.auth_application_ids
                or app_id in self.acct_application_ids or app_id == APP_COMMON)


def negotiate(local: Capabilities, remote: Capabilities) -> Negotiated:
    """Intersect applications and security (RFC 6733 §5.3, §2.4).

    A relay on either side (0xffffffff) accepts every application of the other.
    """
    la, lc, ra, rc = local.all_auth, local.all_acct, remote.all_auth, remote.all_acct
    if remote.is_relay:
        auth, acct = set(la), set(lc)
    elif local.is_relay:
        auth, acct = set(ra), set(rc)
    else:
        auth, acct = la & ra, lc & rc
    auth.discard(APP_RELAY)
    acct.discard(APP_RELAY)
    if not auth and not acct and not remote.is_relay and not local.is_relay:
        return Negotiated(DIAMETER_NO_COMMON_APPLICATION)
    lsec = local.inband_security_ids or {INBAND_NO_SECURITY}
    rsec = remote.inband_security_ids or {INBAND_NO_SECURITY}
    common = lsec & rsec
    if not common:
        return Negotiated(DIAMETER_NO_COMMON_SECURITY)
    tls = INBAND_TLS in common
    return Negotiated(DIAMETER_SUCCESS, auth, acct, remote.is_relay, tls)
