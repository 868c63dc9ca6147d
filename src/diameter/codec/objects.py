"""python-diameter's Avp objects and whole messages, decoded from bytes.

:func:`make_avps` and :func:`grouped_value` build the dictionary's Avp classes
over located AVPs, the ``value_*`` functions are their ``value`` readers, and
:func:`decode_message` is ``Message.from_bytes``. The message layer fills
:data:`AVP_TABLES` and :data:`MESSAGE_TYPES`. Compiled by mypyc with the rest
of the codec's hot loops.
"""
from __future__ import annotations

from typing import Any, ClassVar, Final

from .errors import AvpDecodeError, MessageDecodeError
from .frame import (COMPILED, FRAMED, HEADER, LIMITS, Entry, check, frame_at, header_error, scan, scan_struct,
                    u32_at)


class AvpTables:
    """The running dictionary as the Avp constructors see it (set by the message layer)."""
    base: dict[int, Any]               # code -> entry, vendor 0
    vendors: dict[int, dict[int, Any]]  # vendor -> code -> entry
    plain: Any                         # Avp
    grouped: Any                       # AvpGrouped

    def __init__(self) -> None:
        self.base = {}
        self.vendors = {}
        self.plain = None
        self.grouped = None


AVP_TABLES: Final = AvpTables()


def _make_avp(t: AvpTables, buf: bytes, code: int, vendor: int, flags: int, ps: int, pe: int,
              depth: int) -> Any:
    info: Any = None
    if vendor == 0:
        info = t.base.get(code)
    else:
        vd = t.vendors.get(vendor)
        if vd is not None:
            info = vd.get(code)
    if info is None:
        cls: Any = t.plain
        name = "Unknown"
    else:
        cls = info["type"]
        name = info["name"]
    avp = cls.__new__(cls)
    avp.code = code
    avp.flags = flags
    avp._vendor_id = vendor
    avp.payload = buf[ps:pe]
    avp.name = name
    if isinstance(avp, t.grouped):
        avp._avps = None
        avp._depth = depth
    return avp


def make_avps(buf: bytes, entries: list[Entry], depth: int) -> list[Any]:
    """Avp objects (of the dictionary's classes) for located AVPs; payloads are copied."""
    t = AVP_TABLES
    return [_make_avp(t, buf, e[0], e[1], e[2], e[4], e[5], depth) for e in entries]


def scan_avp_objects(buf: bytes, start: int, end: int, depth: int) -> list[Any]:
    """``make_avps(buf, scan(buf, start, end), depth)`` in one pass."""
    if not COMPILED:
        return make_avps(buf, scan_struct(buf, start, end), depth)
    t = AVP_TABLES
    out: list[Any] = []
    pos = start
    while pos < end:
        code, flags, vendor, ps, pe, nxt = frame_at(buf, pos, end)
        out.append(_make_avp(t, buf, code, vendor, flags, ps, pe, depth))
        pos = nxt
    return out


def find_avp_objects(buf: bytes, start: int, end: int, code: int, vendor: int, depth: int) -> list[Any]:
    """``make_avps`` of only the AVPs ``code``/``vendor`` in ``buf[start:end]``, in one pass
    (the framing is checked as by :func:`scan`; the other AVPs are not built)."""
    t = AVP_TABLES
    out: list[Any] = []
    if not COMPILED:
        for e in scan_struct(buf, start, end):
            if e[0] == code and e[1] == vendor:
                out.append(_make_avp(t, buf, code, vendor, e[2], e[4], e[5], depth))
        return out
    pos = start
    while pos < end:
        c, flags, v, ps, pe, nxt = frame_at(buf, pos, end)
        if c == code and v == vendor:
            out.append(_make_avp(t, buf, c, v, flags, ps, pe, depth))
        pos = nxt
    return out


def grouped_value(avp: Any) -> list[Any]:
    """``AvpGrouped.value``: the member Avp objects, decoded on first read."""
    avps: list[Any] | None = getattr(avp, "_avps", None)
    if avps is not None:
        return avps
    p = avp.payload
    if not isinstance(p, bytes):
        if isinstance(p, bytearray):
            p = bytes(p)
        else:
            raise AvpDecodeError(f"{avp.name} payload {p!r} is not bytes", None, avp.code)
    depth: int = getattr(avp, "_depth", 0) + 1
    try:
        avps = scan_avp_objects(p, 0, len(p), depth)
    except AvpDecodeError as e:
        raise AvpDecodeError(
            f"{avp.name} grouped value does not contain a valid group of AVPs: {e}",
            e.offset, e.avp_code or avp.code, e.vendor_id, e.result_code) from None
    if depth > LIMITS.max_depth:
        raise AvpDecodeError(f"AVP nesting deeper than {LIMITS.max_depth} levels",
                             None, avp.code, avp._vendor_id, result_code=5014)
    avp._avps = avps
    return avps


def _payload(avp: Any) -> bytes:
    p = avp.payload
    if isinstance(p, bytes):
        return p
    if isinstance(p, bytearray):
        return bytes(p)
    raise AvpDecodeError(f"{avp.name} payload {p!r} is not bytes", None, avp.code,
                         avp._vendor_id)


def _bad_size(avp: Any, p: bytes, kind: str, size: int) -> AvpDecodeError:
    return AvpDecodeError(f"{avp.name} value {p!r}: {kind} payload of {len(p)} bytes, "
                          f"expected {size}", None, avp.code, avp._vendor_id, 5014)


def value_octets(avp: Any) -> bytes:
    """``value`` of OctetString-like Avp classes."""
    return _payload(avp)


def value_utf8(avp: Any) -> str:
    """``value`` of AvpUtf8String."""
    p = _payload(avp)
    try:
        return p.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AvpDecodeError(f"{avp.name} value {p!r}: invalid UTF-8: {e}", None, avp.code,
                             avp._vendor_id, 5004) from None


def value_u32(avp: Any) -> int:
    """``value`` of AvpUnsigned32."""
    p = _payload(avp)
    if len(p) != 4:
        raise _bad_size(avp, p, "Unsigned32", 4)
    return u32_at(p, 0)


def value_i32(avp: Any) -> int:
    """``value`` of AvpInteger32 (and Enumerated)."""
    p = _payload(avp)
    if len(p) != 4:
        raise _bad_size(avp, p, "Integer32", 4)
    n = u32_at(p, 0)
    return n - 0x100000000 if n >= 0x80000000 else n


def value_u64(avp: Any) -> int:
    """``value`` of AvpUnsigned64."""
    p = _payload(avp)
    if len(p) != 8:
        raise _bad_size(avp, p, "Unsigned64", 8)
    return (u32_at(p, 0) << 32) | u32_at(p, 4)


def value_i64(avp: Any) -> int:
    """``value`` of AvpInteger64."""
    p = _payload(avp)
    if len(p) != 8:
        raise _bad_size(avp, p, "Integer64", 8)
    n = (u32_at(p, 0) << 32) | u32_at(p, 4)
    return n - 0x10000000000000000 if n >= 0x8000000000000000 else n


# -- whole messages ---------------------------------------------------------------------

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # the pure-Python package without mypy's extensions installed
    def mypyc_attr(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls


@mypyc_attr(allow_interpreted_subclasses=True)
class MessageHeader:
    """The 20-byte Diameter header: version, length, flags, code, application, ids.

    (``diameter.message.MessageHeader``; a native class when the codec is compiled.)
    """
    __slots__ = ("version", "length", "length_header", "command_flags", "command_code",
                 "application_id", "hop_by_hop_identifier", "end_to_end_identifier")

    command_flag_request_bit: ClassVar[int] = 0x80
    command_flag_proxiable_bit: ClassVar[int] = 0x40
    command_flag_error_bit: ClassVar[int] = 0x20
    command_flag_retransmit_bit: ClassVar[int] = 0x10

    version: int
    length: int
    length_header: int
    command_flags: int
    command_code: int
    application_id: int
    hop_by_hop_identifier: int
    end_to_end_identifier: int

    def __init__(self, version: int = 1, length: int = 0, command_flags: int = 0,
                 command_code: int = 0, application_id: int = 0,
                 hop_by_hop_identifier: int = 0, end_to_end_identifier: int = 0) -> None:
        self.version = version
        self.length = length
        self.length_header = 0
        self.command_flags = command_flags
        self.command_code = command_code
        self.application_id = application_id
        self.hop_by_hop_identifier = hop_by_hop_identifier
        self.end_to_end_identifier = end_to_end_identifier

    def __str__(self) -> str:
        return (f"<Version: 0x{self.version:02x}, Length: {self.length}, "
                f"Flags: 0x{self.command_flags:02x} ({', '.join(self._flags())}), "
                f"Hop-by-Hop Identifier: 0x{self.hop_by_hop_identifier:x}, "
                f"End-to-End Identifier: 0x{self.end_to_end_identifier:x}>")

    def __repr__(self) -> str:
        return self.__str__()

    def _flags(self) -> list[str]:
        out: list[str] = []
        if self.is_request:
            out.append("request")
        if self.is_proxyable:
            out.append("proxyable")
        if self.is_error:
            out.append("error")
        if self.is_retransmit:
            out.append("retransmit")
        return out

    def as_bytes(self) -> bytes:
        try:
            return HEADER.pack((self.version << 24) | self.length,
                               (self.command_flags << 24) | self.command_code,
                               self.application_id, self.hop_by_hop_identifier,
                               self.end_to_end_identifier)
        except Exception as e:  # struct.error, TypeError
            raise MessageDecodeError(f"cannot pack header: {e}") from None

    def as_packed(self, packer: Any) -> Any:
        packer._parts.append(self.as_bytes())
        return packer

    @classmethod
    def from_bytes(cls, header_data: bytes) -> MessageHeader:
        """Decode a header from at least 20 bytes (the rest is not checked)."""
        if len(header_data) < 20:
            raise MessageDecodeError(f"header needs 20 bytes, got {len(header_data)}", 0)
        vl = int.from_bytes(header_data[0:4], "big")
        fc = int.from_bytes(header_data[4:8], "big")
        h = cls(vl >> 24, vl & 0xFFFFFF, fc >> 24, fc & 0xFFFFFF,
                int.from_bytes(header_data[8:12], "big"), int.from_bytes(header_data[12:16], "big"),
                int.from_bytes(header_data[16:20], "big"))
        h.length_header = 20
        return h

    @property
    def is_request(self) -> bool:
        return bool(self.command_flags & 0x80)

    @is_request.setter
    def is_request(self, value: bool) -> None:
        self.command_flags = self.command_flags | 0x80 if value else self.command_flags & ~0x80

    @property
    def is_proxyable(self) -> bool:
        return bool(self.command_flags & 0x40)

    @is_proxyable.setter
    def is_proxyable(self, value: bool) -> None:
        self.command_flags = self.command_flags | 0x40 if value else self.command_flags & ~0x40

    @property
    def is_error(self) -> bool:
        return bool(self.command_flags & 0x20)

    @is_error.setter
    def is_error(self, value: bool) -> None:
        self.command_flags = self.command_flags | 0x20 if value else self.command_flags & ~0x20

    @property
    def is_retransmit(self) -> bool:
        return bool(self.command_flags & 0x10)

    @is_retransmit.setter
    def is_retransmit(self, value: bool) -> None:
        self.command_flags = self.command_flags | 0x10 if value else self.command_flags & ~0x10


class MessageTypes:
    """How :func:`decode_message` picks and builds message classes (set by the message layer)."""
    by_application: dict[tuple[int, int], Any]   # (application, code) -> command class
    by_code: dict[int, Any]                      # code -> command class
    undefined: Any                               # UndefinedMessage
    defined: Any                                 # DefinedMessage
    header: Any                                  # MessageHeader
    default_factory: Any                         # DefinedMessage.type_factory's function
    r_bit_factories: set[Any]                    # type_factory functions that look at the
                                                 # R bit alone (the generated ones): cached
    cache: dict[int, Any]                        # (app, code, R) key -> (command, class),
                                                 # emptied when a registry changes
    resolve: Any                                 # (app, code) -> class or None, on a miss

    def __init__(self) -> None:
        self.by_application = {}
        self.by_code = {}
        self.resolve = None
        self.undefined = None
        self.defined = None
        self.header = None
        self.default_factory = None
        self.r_bit_factories = set()
        self.cache = {}


MESSAGE_TYPES: Final = MessageTypes()


def _header(t: MessageTypes, version: int, length: int, flags: int, code: int, app: int,
            hbh: int, e2e: int) -> MessageHeader:
    h = MessageHeader(version, length, flags, code, app, hbh, e2e)
    h.length_header = 20
    return h


def raw_bytes(d: dict[str, Any]) -> bytes | None:
    """The whole message a decoded message (``d``: its instance dict) was decoded from
    (``d["_raw"]``: the message's bytes, its AVPs from offset 20); None when ``d`` holds
    no such bytes."""
    raw: Any = d.get("_raw")
    if type(raw) is not tuple:
        return None
    t: tuple[Any, ...] = raw
    if len(t) != 3:
        return None
    data: Any = t[0]
    start: Any = t[1]
    if not isinstance(data, (bytes, bytearray)) or type(start) is not int or len(data) < 20:
        return None
    s: int = start
    if s != 20:
        return None
    buf: bytes = data if type(data) is bytes else bytes(data)
    return buf


def fresh_bytes(d: dict[str, Any]) -> bytes | None:
    """The bytes a typed message (``d``: its instance dict) was decoded from when it is fresh
    from the decoder: nothing read but its header, nothing set, no custom AVP added (it would
    encode to them again); None otherwise."""
    n = len(d)
    if n > 4:
        return None
    if "header" in d:
        n -= 1
    if "_raw_entries" in d:   # (the interpreted decoder's AVP entries)
        n -= 1
    if "_additional_avps" in d:
        if d["_additional_avps"]:
            return None
        n -= 1
    if n != 1:   # the bytes alone
        return None
    buf = raw_bytes(d)
    if buf is None or type(buf) is not bytes or len(buf) != d["_raw"][2]:
        return None
    return buf


def raw_header(d: dict[str, Any]) -> MessageHeader | None:
    """The header of a decoded message (``d``: its instance dict) made from the bytes it was
    decoded from (:func:`raw_bytes`); None when ``d`` holds no such bytes."""
    buf = raw_bytes(d)
    if buf is None:
        return None
    return _header(MESSAGE_TYPES, buf[0], (buf[1] << 16) | (buf[2] << 8) | buf[3], buf[4],
                   (buf[5] << 16) | (buf[6] << 8) | buf[7], u32_at(buf, 8), u32_at(buf, 12),
                   u32_at(buf, 16))


class LazyExtras:
    """``DefinedMessage._additional_avps`` (a class attribute) for a decoded message: the
    custom AVPs' list, made empty on first read (:func:`decode_message` makes none per
    message) and kept in the instance dict, like :class:`LazyHeader`. A message decoded
    plain (``_plain``) has none."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        d: dict[str, Any] = obj.__dict__
        if "_raw" not in d or "_plain" in d:
            raise AttributeError("_additional_avps")
        extras: list[Any] = []
        d["_additional_avps"] = extras
        return extras


class LazyHeader:
    """``Message.header`` (a class attribute) for a decoded message: :func:`decode_message`
    makes no header object, this makes it from the message's bytes on first read and keeps
    it in the instance dict. A non-data descriptor: a header in the instance dict (built,
    set or read once) is read from there without calling :meth:`__get__`."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        d: dict[str, Any] = obj.__dict__
        h = raw_header(d)
        if h is None:
            raise AttributeError("header")
        d["header"] = h
        return h


def decode_message(data: bytes, plain_msg: bool) -> Any:
    """``Message.from_bytes``: check the header, locate the AVPs, build the typed message."""
    size = len(data)
    if size < 20:
        raise MessageDecodeError(f"message shorter than its header ({size} bytes)", 0)
    version = data[0]
    length = (data[1] << 16) | (data[2] << 8) | data[3]
    if version != 1 or length != size or length & 3 or length > LIMITS.max_message_size:
        header_error(version, length, size)
    flags = data[4]
    code = (data[5] << 16) | (data[6] << 8) | data[7]
    app = u32_at(data, 8)
    entries: list[Entry] | None = None
    if COMPILED:
        if data is not FRAMED[0]:   # not just checked by the validation fast path
            check(data, 20, length)     # entries are built when needed
            FRAMED[0] = data            # its reads need not check the framing again
    else:
        entries = scan(data, 20, length)
    t = MESSAGE_TYPES
    key = (app << 25) | (code << 1) | (1 if flags & 0x80 else 0)
    hit: tuple[Any, Any] | None = None if plain_msg else t.cache.get(key)
    msg_type: Any
    if hit is not None:
        msg_type = hit[1]
    else:
        cmd: Any = t.by_application.get((app, code)) or t.by_code.get(code)
        if cmd is None and t.resolve is not None:   # a command module not imported yet
            cmd = t.resolve(app, code)
        if cmd is None:
            msg_type = t.undefined
        elif plain_msg:
            msg_type = cmd
        else:
            factory: Any = getattr(cmd.type_factory, "__func__", None)
            if factory is t.default_factory:
                msg_type = (cmd._request_cls if flags & 0x80 else cmd._answer_cls) or cmd
                t.cache[key] = (cmd, msg_type)
            else:
                msg_type = cmd.type_factory(
                    _header(t, version, length, flags, code, app, u32_at(data, 12), u32_at(data, 16))) or cmd
                if factory is not None and factory in t.r_bit_factories:
                    t.cache[key] = (cmd, msg_type)
    msg = msg_type.__new__(msg_type)
    d: dict[str, Any] = msg.__dict__
    d["_raw"] = (data, 20, length)   # the header is made when read (LazyHeader)
    if entries is not None:
        d["_raw_entries"] = entries
    if plain_msg or not isinstance(msg, t.defined) or not msg_type.avp_def:
        d["_avps"] = None
        d["_plain"] = True
    # (a typed message's custom AVPs' list is made when read: LazyExtras)
    return msg
