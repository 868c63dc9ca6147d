"""Hand-built Diameter wire format for interop tests.

This is deliberately independent of ``diameter.codec``: it packs and unpacks
RFC 6733 section 3 / 4 framing with ``struct`` only, so the tests that use it
check a third-party peer against the wire format itself, not against our own
codec's view of it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from dataclasses import dataclass, field

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20

AVP_FLAG_VENDOR = 0x80
AVP_FLAG_MANDATORY = 0x40

# Base protocol AVP codes (RFC 6733 section 4.5).
HOST_IP_ADDRESS = 257
AUTH_APPLICATION_ID = 258
ACCT_APPLICATION_ID = 259
VENDOR_SPECIFIC_APPLICATION_ID = 260
SESSION_ID = 263
ORIGIN_HOST = 264
SUPPORTED_VENDOR_ID = 265
VENDOR_ID = 266
FIRMWARE_REVISION = 267
RESULT_CODE = 268
PRODUCT_NAME = 269
DISCONNECT_CAUSE = 273
ORIGIN_STATE_ID = 278
ERROR_MESSAGE = 281
ROUTE_RECORD = 282
DESTINATION_REALM = 283
DESTINATION_HOST = 293
ORIGIN_REALM = 296
INBAND_SECURITY_ID = 299

CMD_CAPABILITIES_EXCHANGE = 257
CMD_DEVICE_WATCHDOG = 280
CMD_DISCONNECT_PEER = 282

DIAMETER_SUCCESS = 2001
RELAY_APPLICATION_ID = 0xFFFFFFFF

HEADER_LEN = 20


def pad4(n: int) -> int:
    """Round ``n`` up to a multiple of four."""
    return (n + 3) & ~3


def avp(code: int, data: bytes, *, mandatory: bool = True, vendor: int | None = None) -> bytes:
    """Pack one AVP (header, data, zero padding)."""
    flags = AVP_FLAG_MANDATORY if mandatory else 0
    if vendor is not None:
        flags |= AVP_FLAG_VENDOR
        header = struct.pack("!IB3sI", code, flags, (12 + len(data)).to_bytes(3, "big"), vendor)
    else:
        header = struct.pack("!IB3s", code, flags, (8 + len(data)).to_bytes(3, "big"))
    raw = header + data
    return raw + b"\x00" * (pad4(len(raw)) - len(raw))


def avp_u32(code: int, value: int, **kw: object) -> bytes:
    return avp(code, struct.pack("!I", value), **kw)  # type: ignore[arg-type]


def avp_str(code: int, value: str, **kw: object) -> bytes:
    return avp(code, value.encode("utf-8"), **kw)  # type: ignore[arg-type]


def avp_address(code: int, value: str, **kw: object) -> bytes:
    ip = ipaddress.ip_address(value)
    family = 1 if ip.version == 4 else 2
    return avp(code, struct.pack("!H", family) + ip.packed, **kw)  # type: ignore[arg-type]


def message(
    command: int,
    avps: list[bytes],
    *,
    request: bool = True,
    proxiable: bool = False,
    error: bool = False,
    app_id: int = 0,
    hop_by_hop: int = 1,
    end_to_end: int = 1,
) -> bytes:
    """Pack a whole Diameter message from already packed AVPs."""
    body = b"".join(avps)
    flags = (FLAG_REQUEST if request else 0) | (FLAG_PROXIABLE if proxiable else 0)
    flags |= FLAG_ERROR if error else 0
    length = HEADER_LEN + len(body)
    header = struct.pack(
        "!B3sB3sIII", 1, length.to_bytes(3, "big"), flags, command.to_bytes(3, "big"),
        app_id, hop_by_hop, end_to_end,
    )
    return header + body


@dataclass
class RawAvp:
    code: int
    flags: int
    vendor: int | None
    data: bytes

    def u32(self) -> int:
        return struct.unpack("!I", self.data)[0]

    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class RawMessage:
    version: int
    length: int
    flags: int
    command: int
    app_id: int
    hop_by_hop: int
    end_to_end: int
    avps: list[RawAvp] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    def find(self, code: int) -> list[RawAvp]:
        return [a for a in self.avps if a.code == code]

    def one(self, code: int) -> RawAvp:
        found = self.find(code)
        if len(found) != 1:
            raise ValueError(f"expected exactly one AVP {code}, found {len(found)}")
        return found[0]


def parse_avps(data: bytes) -> list[RawAvp]:
    """Unpack a sequence of AVPs; raise ValueError on any length inconsistency."""
    out: list[RawAvp] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise ValueError(f"truncated AVP header at offset {pos}")
        code, flags, len_raw = struct.unpack_from("!IB3s", data, pos)
        length = int.from_bytes(len_raw, "big")
        hdr = 12 if flags & AVP_FLAG_VENDOR else 8
        if length < hdr or pos + length > len(data):
            raise ValueError(f"bad AVP length {length} for code {code} at offset {pos}")
        vendor = struct.unpack_from("!I", data, pos + 8)[0] if hdr == 12 else None
        out.append(RawAvp(code, flags, vendor, data[pos + hdr : pos + length]))
        pos += pad4(length)
    return out


def parse_message(data: bytes) -> RawMessage:
    """Unpack one complete message (header and top-level AVPs)."""
    if len(data) < HEADER_LEN:
        raise ValueError("message shorter than the Diameter header")
    version, len_raw, flags, cmd_raw, app_id, hbh, e2e = struct.unpack_from("!B3sB3sIII", data)
    length = int.from_bytes(len_raw, "big")
    if length != len(data):
        raise ValueError(f"header length {length} != buffer length {len(data)}")
    return RawMessage(
        version, length, flags, int.from_bytes(cmd_raw, "big"), app_id, hbh, e2e,
        parse_avps(data[HEADER_LEN:]),
    )


def cer(origin_host: str, origin_realm: str, *, host_ip: str = "127.0.0.1",
        auth_apps: tuple[int, ...] = (RELAY_APPLICATION_ID,), hop_by_hop: int = 1,
        end_to_end: int = 1, state_id: int = 1) -> bytes:
    """A Capabilities-Exchange-Request with the RFC 6733 mandatory AVPs."""
    avps = [
        avp_str(ORIGIN_HOST, origin_host),
        avp_str(ORIGIN_REALM, origin_realm),
        avp_address(HOST_IP_ADDRESS, host_ip),
        avp_u32(VENDOR_ID, 0),
        avp_str(PRODUCT_NAME, "interop-raw", mandatory=False),
        avp_u32(ORIGIN_STATE_ID, state_id),
        *(avp_u32(AUTH_APPLICATION_ID, app) for app in auth_apps),
        avp_u32(FIRMWARE_REVISION, 1, mandatory=False),
    ]
    return message(CMD_CAPABILITIES_EXCHANGE, avps, hop_by_hop=hop_by_hop, end_to_end=end_to_end)


def dwr(origin_host: str, origin_realm: str, *, hop_by_hop: int = 2, end_to_end: int = 2,
        state_id: int = 1) -> bytes:
    """A Device-Watchdog-Request."""
    avps = [
        avp_str(ORIGIN_HOST, origin_host),
        avp_str(ORIGIN_REALM, origin_realm),
        avp_u32(ORIGIN_STATE_ID, state_id),
    ]
    return message(CMD_DEVICE_WATCHDOG, avps, hop_by_hop=hop_by_hop, end_to_end=end_to_end)


def dpr(origin_host: str, origin_realm: str, *, cause: int = 0, hop_by_hop: int = 3,
        end_to_end: int = 3) -> bytes:
    """A Disconnect-Peer-Request (cause 0 = REBOOTING)."""
    avps = [
        avp_str(ORIGIN_HOST, origin_host),
        avp_str(ORIGIN_REALM, origin_realm),
        avp_u32(DISCONNECT_CAUSE, cause),
    ]
    return message(CMD_DISCONNECT_PEER, avps, hop_by_hop=hop_by_hop, end_to_end=end_to_end)


def answer_to(req: RawMessage, avps: list[bytes]) -> bytes:
    """An answer with the request's command, application and identifiers."""
    return message(
        req.command, avps, request=False, app_id=req.app_id,
        hop_by_hop=req.hop_by_hop, end_to_end=req.end_to_end,
    )


async def read_message(reader: asyncio.StreamReader, timeout: float = 10.0) -> bytes:
    """Read exactly one framed message from a stream (header length decides)."""
    head = await asyncio.wait_for(reader.readexactly(4), timeout)
    length = int.from_bytes(head[1:4], "big")
    if length < HEADER_LEN:
        raise ValueError(f"peer sent a message length of {length}")
    rest = await asyncio.wait_for(reader.readexactly(length - 4), timeout)
    return head + rest
