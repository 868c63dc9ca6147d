"""Value codecs for every RFC 6733 basic and derived AVP data type.

A decoder is ``decode(buf, start, end) -> value`` over a slice of a buffer;
an encoder is ``encode(value) -> bytes``. Both raise the typed errors of
:mod:`diameter.codec.errors` and nothing else.
"""
from __future__ import annotations

import datetime
import ipaddress
import socket
from struct import Struct
from typing import Any, Callable

from .errors import AvpDecodeError, AvpEncodeError

Decoder = Callable[[bytes, int, int], Any]
Encoder = Callable[[Any], bytes]

_I32 = Struct(">i")
_I64 = Struct(">q")
_U32 = Struct(">I")
_U64 = Struct(">Q")
_F32 = Struct(">f")
_F64 = Struct(">d")
_H = Struct(">H")

# NTP era arithmetic (RFC 5905; RFC 2030 section 3 for the 2036 rollover).
NTP_UNIX_OFFSET = 2208988800        # seconds from 1900-01-01 to 1970-01-01
NTP_ERA1_OFFSET = 2085978496        # 2036-02-07 06:28:16 UTC (NTP era 1 starts) as a Unix time
NTP_CUTOFF = 0x80000000             # values below this are in era 1 (after 2036)


def _fixed(st: Struct, kind: str) -> tuple[Decoder, Encoder]:
    size = st.size
    unpack_from = st.unpack_from
    pack = st.pack

    def decode(buf: bytes, start: int, end: int) -> Any:
        if end - start != size:
            raise AvpDecodeError(f"{kind} payload of {end - start} bytes, expected {size}",
                                 start, result_code=5014)
        return unpack_from(buf, start)[0]

    def encode(value: Any) -> bytes:
        if isinstance(value, (str, bytes)):
            raise AvpEncodeError(f"{value!r} is not a valid {kind} value")
        try:
            return pack(value)
        except Exception as e:  # struct.error, TypeError, OverflowError
            raise AvpEncodeError(f"{value!r} is not a valid {kind} value: {e}") from None

    return decode, encode


decode_integer32, encode_integer32 = _fixed(_I32, "Integer32")
decode_integer64, encode_integer64 = _fixed(_I64, "Integer64")
decode_unsigned32, encode_unsigned32 = _fixed(_U32, "Unsigned32")
decode_unsigned64, encode_unsigned64 = _fixed(_U64, "Unsigned64")
decode_float32, encode_float32 = _fixed(_F32, "Float32")
decode_float64, encode_float64 = _fixed(_F64, "Float64")


def decode_octetstring(buf: bytes, start: int, end: int) -> bytes:
    return bytes(buf[start:end])


def encode_octetstring(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise AvpEncodeError(f"{value!r} is not bytes")


def encode_identity(value: Any) -> bytes:
    """DiameterIdentity: bytes as given; text is encoded (ASCII, IDNA for other names)."""
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            try:
                return value.encode("idna")
            except UnicodeError as e:
                raise AvpEncodeError(f"{value!r} is not a valid DiameterIdentity: {e}") from None
    return encode_octetstring(value)


def decode_utf8(buf: bytes, start: int, end: int) -> str:
    try:
        return str(buf[start:end], "utf-8")
    except UnicodeDecodeError as e:
        raise AvpDecodeError(f"invalid UTF-8: {e}", start + e.start, result_code=5004) from None


def encode_utf8(value: Any) -> bytes:
    if not isinstance(value, str):
        raise AvpEncodeError(f"{value!r} is not a str")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise AvpEncodeError(f"{value!r} cannot be encoded as UTF-8: {e}") from None


# Address (RFC 6733 4.3.1): 2-byte IANA address family, then the address.
FAMILY_IPV4 = 1
FAMILY_IPV6 = 2
FAMILY_E164 = 8


def decode_address(buf: bytes, start: int, end: int) -> tuple[int, str]:
    """Return (family, text): dotted IPv4, IPv6 text, E.164 digits, or hex for other families."""
    if end - start < 2:
        raise AvpDecodeError("Address payload shorter than its family", start, result_code=5014)
    family = _H.unpack_from(buf, start)[0]
    raw = bytes(buf[start + 2:end])
    if family == FAMILY_IPV4:
        if len(raw) != 4:
            raise AvpDecodeError(f"IPv4 Address of {len(raw)} bytes", start, result_code=5014)
        return family, socket.inet_ntop(socket.AF_INET, raw)
    if family == FAMILY_IPV6:
        if len(raw) != 16:
            raise AvpDecodeError(f"IPv6 Address of {len(raw)} bytes", start, result_code=5014)
        return family, socket.inet_ntop(socket.AF_INET6, raw)
    if family == FAMILY_E164:
        try:
            return family, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AvpDecodeError(f"E.164 Address is not text: {e}", start, result_code=5004) from None
    return family, raw.hex()


def encode_address(value: Any) -> bytes:
    """Encode an address given as text, (family, text), bytes or an ipaddress object.

    Text with a '.' or ':' must be an IPv4 or IPv6 address; other text is E.164.
    """
    if isinstance(value, tuple) and len(value) == 2:
        family, text = value
        if family in (FAMILY_IPV4, FAMILY_IPV6, FAMILY_E164):
            return encode_address(text)
        if isinstance(text, str):
            try:
                return _H.pack(family) + bytes.fromhex(text)
            except (ValueError, Exception) as e:
                raise AvpEncodeError(f"Address {value!r} is not valid: {e}") from None
        if isinstance(text, (bytes, bytearray)):
            return _H.pack(family) + bytes(text)
        raise AvpEncodeError(f"Address {value!r} is not valid")
    if isinstance(value, ipaddress.IPv4Address):
        return b"\x00\x01" + value.packed
    if isinstance(value, ipaddress.IPv6Address):
        return b"\x00\x02" + value.packed
    if isinstance(value, str):
        if "." in value or ":" in value:
            try:
                return b"\x00\x01" + socket.inet_pton(socket.AF_INET, value)
            except OSError:
                pass
            try:
                return b"\x00\x02" + socket.inet_pton(socket.AF_INET6, value)
            except OSError:
                raise AvpEncodeError(
                    f"{value!r} is neither a valid IPv4 nor a valid IPv6 address") from None
        return b"\x00\x08" + value.encode("utf-8")
    raise AvpEncodeError(f"Address {value!r} is not valid")


def decode_time(buf: bytes, start: int, end: int) -> datetime.datetime:
    """NTP seconds to a naive local datetime (python-diameter's convention)."""
    if end - start != 4:
        raise AvpDecodeError(f"Time payload of {end - start} bytes, expected 4", start,
                             result_code=5014)
    seconds = _U32.unpack_from(buf, start)[0]
    if seconds < NTP_CUTOFF:
        unix = seconds + NTP_ERA1_OFFSET
    else:
        unix = seconds - NTP_UNIX_OFFSET
    try:
        return datetime.datetime.fromtimestamp(unix)
    except (OverflowError, OSError, ValueError) as e:
        raise AvpDecodeError(f"Time {seconds} out of range: {e}", start, result_code=5004) from None


def encode_time(value: Any) -> bytes:
    if not isinstance(value, datetime.datetime):
        raise AvpEncodeError(f"{value!r} is not a datetime")
    try:
        unix = int(value.timestamp())
        if unix < NTP_ERA1_OFFSET:
            return _U32.pack(unix + NTP_UNIX_OFFSET)
        return _U32.pack(unix - NTP_ERA1_OFFSET)
    except Exception as e:  # struct.error, OverflowError, OSError
        raise AvpEncodeError(f"{value!r} cannot be encoded as a Time: {e}") from None


# Type name -> (decoder, encoder). Grouped is handled by the message layer.
CODECS: dict[str, tuple[Decoder, Encoder]] = {
    "OctetString": (decode_octetstring, encode_octetstring),
    "Integer32": (decode_integer32, encode_integer32),
    "Integer64": (decode_integer64, encode_integer64),
    "Unsigned32": (decode_unsigned32, encode_unsigned32),
    "Unsigned64": (decode_unsigned64, encode_unsigned64),
    "Float32": (decode_float32, encode_float32),
    "Float64": (decode_float64, encode_float64),
    "Address": (decode_address, encode_address),
    "Time": (decode_time, encode_time),
    "UTF8String": (decode_utf8, encode_utf8),
    "DiameterIdentity": (decode_octetstring, encode_identity),
    "DiameterURI": (decode_utf8, encode_utf8),
    "Enumerated": (decode_integer32, encode_integer32),
    "IPFilterRule": (decode_octetstring, encode_octetstring),
    "QoSFilterRule": (decode_octetstring, encode_octetstring),
}
