"""Message and MessageHeader: the python-diameter message API over the codec core."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from ..codec import assemble as _assemble
from ..codec import objects as core
from ..codec import typed as _typed
from ..codec import typed_encode as _typed_encode
from ..codec.errors import AvpEncodeError, DecodeError, MessageDecodeError
from ..codec.wire import pack_header, scan_avps
from ._binding import binding_of, encode_body, install_attrs, is_clean, raw_index
from .avp.avp import Avp, AvpGrouped, make_avps
from ._registry import CommandRegistry

__all__ = ["Message", "MessageHeader", "DefinedMessage", "UndefinedMessage", "UnknownAttributeWarning",
           "UndefinedGroupedAvp"]


MessageHeader = core.MessageHeader


class Message:
    """A Diameter message: a header and a list of AVPs.

    Use :meth:`Message.from_bytes` to decode; it returns the typed command
    class (e.g. ``CreditControlRequest``) when the command is known.
    """
    code: int = 0
    name: str = "Unknown"
    #: a decoded message's header is made from its bytes when first read
    header: MessageHeader = core.LazyHeader()  # type: ignore[assignment]

    def __init__(self, header: MessageHeader | None = None, avps: list[Avp] | None = None) -> None:
        self.header = header or MessageHeader()
        self._avps = avps or []
        self.__post_init__()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _ANSWER_CLASSES.clear()   # a new class may be some request's answer

    def __post_init__(self) -> None:
        pass

    def __str__(self) -> str:
        return f"{self.name} {self.header}"

    if TYPE_CHECKING:
        # A decoded message's class is known at run time only: its AVP attributes read
        # as Any until narrowed, e.g. ``isinstance(msg, CreditControlRequest)``.
        def __getattr__(self, name: str) -> Any: ...

    # -- decoding ---------------------------------------------------------
    @classmethod
    def from_bytes(cls, msg_data: bytes, plain_msg: bool = False) -> Message:
        """Decode a whole message; the typed class when known, ``UndefinedMessage`` otherwise.

        With ``plain_msg`` the result only holds the AVP list (no attributes).
        Raises a :class:`~diameter.codec.errors.DecodeError` subclass for bad bytes.
        """
        if type(msg_data) is not bytes:
            try:
                msg_data = bytes(msg_data)
            except TypeError:
                raise MessageDecodeError(f"{type(msg_data).__name__} is not bytes") from None
        return _decode_message(msg_data, plain_msg)

    @classmethod
    def type_factory(cls, header: MessageHeader) -> type | None:
        """The class to decode a message with this header into (None: this class)."""
        return None

    # -- AVP list ---------------------------------------------------------
    @property
    def avps(self) -> list[Avp]:
        """The message's AVPs (decoded from the bytes on first access)."""
        avps = self._avps
        if avps is None:
            d = self.__dict__
            raw = d.get("_raw")
            if raw is None:
                avps = []
            else:
                entries = d.get("_raw_entries")
                if entries is None:
                    avps = core.scan_avp_objects(raw[0], raw[1], raw[2], 0)
                else:
                    avps = make_avps(raw[0], entries, 0)
            self._avps = avps
        return avps

    @avps.setter
    def avps(self, new_avps: list[Avp]) -> None:
        self._avps = new_avps

    def append_avp(self, avp: Avp) -> None:
        """Add an AVP at the end of the message."""
        self.avps.append(avp)

    def _body(self) -> bytes:
        avps = self.__dict__.get("_avps")
        if avps is None:
            raw = self.__dict__.get("_raw")
            if raw is None:
                return b""
            buf, start, end = raw
            return buf[start:end]
        return b"".join(a.as_bytes() for a in avps)

    # -- encoding ---------------------------------------------------------
    def as_bytes(self) -> bytes:
        """The whole message on the wire; updates ``header.length``."""
        body = self._body()
        h = self.header
        h.length = 20 + len(body)
        return pack_header(h.version, h.length, h.command_flags, h.command_code,
                           h.application_id, h.hop_by_hop_identifier,
                           h.end_to_end_identifier) + body

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    # -- searching --------------------------------------------------------
    def find_avps(self, *code_and_vendor: tuple[int, int],
                  alt_list: list[Avp] | None = None) -> list[Avp]:
        """AVPs at the end of a (code, vendor) path, e.g. ``((456, 0), (446, 0), (421, 0))``."""
        if not code_and_vendor:
            return []
        return _traverse(self.avps if alt_list is None else alt_list, list(code_and_vendor))

    # -- answers ----------------------------------------------------------
    def to_answer(self) -> Message:
        """A new answer to this request: same code, application and ids, P bit kept."""
        cls = type(self)
        answer_cls = _ANSWER_CLASSES.get(cls)
        if answer_cls is None:
            answer_cls = _ANSWER_CLASSES[cls] = _answer_class_for(cls)
        # a decoded request's header not read yet: the answer's is made from its bytes
        ans = _new_answer(answer_cls, self.__dict__, _DEFINED_INIT, _NO_POST_INIT)
        if ans is not None:
            return ans      # a DefinedMessage built in one go (compiled): the code below
        h = self.header
        p_bit = h.command_flags & 0x40
        hdr = MessageHeader(h.version, 0, p_bit, h.command_code, h.application_id,
                            h.hop_by_hop_identifier, h.end_to_end_identifier)
        ans = answer_cls(hdr)
        if answer_cls.__init__ is _DEFINED_INIT and answer_cls.__post_init__ is _NO_POST_INIT:
            return ans      # its __init__ kept ``hdr`` as built above
        ah = ans.header
        ah.command_flags = (ah.command_flags & ~0xC0) | p_bit   # an answer; P bit kept
        ah.application_id = h.application_id
        return ans

    def answer(self, result_code: int | None = None, *, origin_host: str | bytes | None = None,
               origin_realm: str | bytes | None = None, vendor_id: int = 0,
               error_message: str | None = None) -> Message:
        """:meth:`to_answer` filled from this request (``diameter.message.answers``).

        Copies Session-Id, the application id AVPs, Proxy-Info, CC-Request-Type/-Number
        and Accounting-Record-Type/-Number; sets Result-Code (Experimental-Result with
        ``vendor_id``), Origin-Host and Origin-Realm when given.
        """
        from .answers import fill_answer
        return fill_answer(self, self.to_answer(), result_code, origin_host=origin_host,
                           origin_realm=origin_realm, vendor_id=vendor_id,
                           error_message=error_message)


_ANSWER_CLASSES: dict[type, type] = {}
"""Request class -> answer class (emptied when a message class is defined)."""


def _answer_class_for(cls: type) -> type:
    name = cls.__name__
    if name.endswith("Request"):
        base = name[:-7]
        for klass in cls.__mro__:
            if klass.__name__ == base:
                ans = klass.__dict__.get("_answer_cls")
                if ans is not None:
                    return ans
                for sub in klass.__subclasses__():
                    if sub.__name__ == f"{base}Answer":
                        return sub
                break
        return Message
    if issubclass(cls, DefinedMessage) and cls.__dict__.get("_answer_cls"):
        return cls._answer_cls
    return cls


def _traverse(avps: list[Avp], path: list[tuple[int, int]]) -> list[Avp]:
    code, vendor = path[0]
    found: list[Avp] = []
    for a in avps:
        if a.code == code and a.vendor_id == vendor:
            if len(path) == 1 or not isinstance(a, AvpGrouped):
                found.append(a)
            else:
                found.extend(_traverse(a.value, path[1:]))
    return found


class DefinedMessage(Message):
    """A command with typed attributes for its AVPs (listed in ``avp_def``).

    Attributes listed for the command read ``None`` (or ``[]`` for lists) when
    absent; other names raise ``AttributeError``. Decoded messages decode an
    attribute on first read and re-encode unchanged AVPs byte for byte.
    """
    avp_def: tuple = ()
    default_application_id: int = 0
    header_flags_request: bool | None = None
    header_flags_proxyable: bool | None = None
    attr_defaults: dict[str, Any] = {}
    attr_lists: tuple[str, ...] = ()
    _request_cls: type | None = None
    _answer_cls: type | None = None
    #: a decoded message's custom AVPs' list is made when first read
    _additional_avps: list[Avp] = core.LazyExtras()  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        for suffix, slot in (("Request", "_request_cls"), ("Answer", "_answer_cls")):
            if name.endswith(suffix):
                for base in cls.__bases__:
                    if base.__name__ == name[:-len(suffix)] and issubclass(base, DefinedMessage):
                        setattr(base, slot, cls)
        install_attrs(cls)
        core.MESSAGE_TYPES.cache.clear()

    def __init__(self, header: MessageHeader | None = None, avps: list[Avp] | None = None) -> None:
        d = self.__dict__
        cls = type(self)
        if header is None and avps is None and _init_fresh(d, cls, _NO_POST_INIT):
            return      # the common case in one go (compiled): the general code below
        fresh_header = header is None
        h = d["header"] = header or MessageHeader()
        d["_additional_avps"] = []
        if avps:
            body = b"".join(a.as_bytes() for a in avps)
            d["_raw"] = (body, 0, len(body))
        if cls.__post_init__ is not _NO_POST_INIT:
            self.__post_init__()
            h = self.header
        if cls.code:
            h.command_code = cls.code
        if fresh_header:
            # the R and P bits of the class (``is_request``/``is_proxyable``, inline)
            req = cls.header_flags_request
            if req is not None:
                h.command_flags = h.command_flags | 0x80 if req else h.command_flags & ~0x80
            prox = cls.header_flags_proxyable
            if prox is not None:
                h.command_flags = h.command_flags | 0x40 if prox else h.command_flags & ~0x40
            if not h.application_id and cls.default_application_id:
                h.application_id = cls.default_application_id
        defaults = cls.attr_defaults
        if defaults:
            if "_raw" in d:
                idx = raw_index(self)
                by_name = binding_of(cls).by_name
                for k, v in defaults.items():
                    spec = by_name.get(k)
                    if spec is not None and spec.key not in idx:
                        d[k] = v
            else:
                d.update(defaults)

    @classmethod
    def type_factory(cls, header: MessageHeader) -> type | None:
        return (cls._request_cls if header.command_flags & 0x80 else cls._answer_cls) or None

    @property
    def avps(self) -> list[Avp]:
        """All AVPs of the message, in wire order (built from the attributes)."""
        d = self.__dict__
        if d.get("_plain"):
            return Message.avps.fget(self)  # type: ignore[attr-defined]
        raw = d.get("_raw")
        if raw is not None and is_clean(self):
            entries = d.get("_raw_entries")
            if entries is None:
                return core.scan_avp_objects(raw[0], raw[1], raw[2], 0)
            return make_avps(raw[0], entries, 0)
        body = encode_body(self)
        return make_avps(body, scan_avps(body, 0, len(body)), 0)

    @avps.setter
    def avps(self, new_avps: list[Avp]) -> None:
        """Replace the custom (non-attribute) AVPs."""
        if self.__dict__.get("_plain"):
            self._avps = new_avps
        else:
            self._additional_avps = new_avps

    def find_avps(self, *code_and_vendor: tuple[int, int],
                  alt_list: list[Avp] | None = None) -> list[Avp]:
        """AVPs at the end of a (code, vendor) path, e.g. ``((456, 0), (446, 0), (421, 0))``.

        On a message unchanged since decoding, only the AVPs matching the first
        step are built (from the bytes); the result is what :attr:`avps` would give.
        """
        if not code_and_vendor:
            return []
        if alt_list is None:
            d = self.__dict__
            if len(code_and_vendor) == 1:
                first = code_and_vendor[0]
                if type(first) is tuple and len(first) == 2:
                    found = _find_clean(d, first[0], first[1])   # the common case (compiled)
                    if found is not _MISS:
                        return found
            raw = d.get("_raw")
            first = code_and_vendor[0]
            if (raw is not None and type(first) is tuple and len(first) == 2
                    and type(first[0]) is int and type(first[1]) is int
                    and 0 <= first[0] <= 0xFFFFFFFF and 0 <= first[1] <= 0xFFFFFFFF
                    and not d.get("_plain") and is_clean(self)):
                idx = d.get("_raw_index")
                if idx is not None:
                    occ = idx.get(first[0] | (first[1] << 32))
                    if not occ:
                        return []
                    found = make_avps(raw[0], occ, 0)
                else:   # one pass over the bytes, Avp objects for the matches only
                    found = _find_avp_objects(raw[0], raw[1], raw[2], first[0], first[1], 0)
                if len(code_and_vendor) == 1:
                    return found
                return _traverse(found, list(code_and_vendor))
            return _traverse(self.avps, list(code_and_vendor))
        return _traverse(alt_list, list(code_and_vendor))

    def append_avp(self, avp: Avp) -> None:
        """Add a custom AVP, encoded after the attributes."""
        if self.__dict__.get("_plain"):
            self.avps.append(avp)
        else:
            self._additional_avps.append(avp)

    def as_bytes(self) -> bytes:
        """The whole message on the wire; updates ``header.length`` (``_body`` inline)."""
        out = _encode_typed(self)   # built from attributes, custom AVPs plain Avps: compiled
        if out is not None:
            return out
        d = self.__dict__
        extras = d.get("_additional_avps")
        if extras and "_raw" not in d and type(extras) is list:
            # custom AVPs after the attributes (e.g. echoed ones) of another kind
            cls = type(self)
            b = _BINDINGS.get(cls)
            known = _KNOWN.get(cls)
            if b is not None and known is not None:
                out = _with_extras(d, b, known, extras)
                if out is not None:
                    return out
        if d.get("_plain"):
            body = Message._body(self)
        else:
            cls = type(self)
            known = _KNOWN.get(cls) or _known_names(cls)
            if not known.issuperset(d):     # an attribute no AVP stands for: a typo?
                _warn_unknown(self, known)
            body = encode_body(self)
        h = self.header
        h.length = length = 20 + len(body)
        return pack_header(h.version, length, h.command_flags, h.command_code,
                           h.application_id, h.hop_by_hop_identifier,
                           h.end_to_end_identifier) + body

    def _body(self) -> bytes:
        d = self.__dict__
        if d.get("_plain"):
            return Message._body(self)
        known = _KNOWN.get(type(self)) or _known_names(type(self))
        if not known.issuperset(d):     # an attribute no AVP stands for: a typo?
            _warn_unknown(self, known)
        return encode_body(self)


def _with_extras(d: dict, b: Any, known: frozenset[str], extras: list[Avp]) -> bytes | None:
    """A message built from attributes plus custom AVPs (e.g. echoed ones): the compiled
    encoder's bytes with the AVPs' bytes after them; None: the general path answers."""
    tail = b"".join([a.as_bytes() if isinstance(a, Avp) else _not_avp(a) for a in extras])
    bare = dict(d)
    del bare["_additional_avps"]
    out = _encode_message(bare, b, known)
    if out is None:
        return None
    length = len(out) + len(tail)
    if length > 0xFFFFFF:
        return None
    d["header"].length = length
    return b"%b%b%b%b" % (out[:1], length.to_bytes(3, "big"), out[4:], tail)


def _not_avp(a: Any) -> bytes:
    raise AvpEncodeError(f"{a!r} is not an Avp instance")


_F = TypeVar("_F")


def by_r_bit(method: _F) -> _F:
    """Marks a command class's ``type_factory`` (a classmethod) whose class depends on the
    header's R bit alone, as the generated ones do: the decoder then calls it once per
    (application, command, R bit), not per message. A subclass that overrides it is asked
    per message again."""
    core.MESSAGE_TYPES.r_bit_factories.add(getattr(method, "__func__"))  # noqa: B009
    return method


_NO_POST_INIT = Message.__post_init__   # DefinedMessage.__init__ skips calling it
_DEFINED_INIT = DefinedMessage.__init__
_DEFAULT_FACTORY = DefinedMessage.type_factory.__func__  # type: ignore[attr-defined]
_decode_message = core.decode_message
_encode_message = _typed_encode.encode_message
_encode_typed = _typed_encode.encode_typed
_typed_encode.AVP_BASE[:] = [Avp, Avp.as_bytes, Avp._payload_for_encode]
_typed_encode.AS_BYTES[0] = DefinedMessage.as_bytes
_init_fresh = _assemble.init_fresh
_new_answer = _assemble.new_answer
_find_avp_objects = core.find_avp_objects
_find_clean = _typed.find_clean
_MISS = _typed.MISS
_BINDINGS = _typed.BINDINGS


class UndefinedGroupedAvp:
    """Attributes of a grouped AVP inside an ``UndefinedMessage``."""

    def __repr__(self) -> str:
        return f"UndefinedGroupedAvp({self.__dict__})"


class UndefinedMessage(Message):
    """A command without a typed class: AVPs readable as attributes by name.

    ``Visited-PLMN-Id`` reads as ``msg.visited_plmn_id``; repeated AVPs become
    lists, grouped AVPs ``UndefinedGroupedAvp`` objects. Attributes are
    read-only views; change the message through ``avps``.
    """

    def __getattr__(self, name: str) -> Any:
        if name[0] == "_":
            raise AttributeError(name)
        d = self.__dict__
        view = d.get("_view")
        if view is None:
            view = UndefinedGroupedAvp()
            _assign_attrs(view, self.avps)
            d["_view"] = view
        try:
            return view.__dict__[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no attribute {name}") from None


class UnknownAttributeWarning(UserWarning):
    """A typed command being encoded holds an attribute no AVP stands for (a typo?).

    The value stays on the object but is not sent. Make it an error with
    ``warnings.simplefilter("error", UnknownAttributeWarning)``.
    """


_KNOWN: dict[type, frozenset[str]] = {}
_typed_encode.KNOWN_NAMES[0] = _KNOWN
# what the message layer itself keeps in an instance's __dict__
_INTERNAL = frozenset({"header", "_additional_avps", "_raw", "_raw_entries", "_st", "_plain",
                       "_avps", "_view", "_depth", "_raw_index"})


def _known_names(cls: type) -> frozenset[str]:
    known = _KNOWN.get(cls)
    if known is None:
        known = frozenset(dir(cls)) | _INTERNAL | binding_of(cls).list_names
        _KNOWN[cls] = known
    return known


_HINTS: dict[tuple[type, str], str] = {}  # (class, unknown name) -> "did you mean" hint, computed once


def _warn_unknown(msg: Any, known: frozenset[str]) -> None:
    """Checked when a typed command is encoded (free when every attribute is known)."""
    import warnings
    cls = type(msg)
    for name in msg.__dict__:
        if name in known or name[0] == "_":
            continue
        hint = _HINTS.get((cls, name))
        if hint is None:
            import difflib
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if len(_HINTS) < 4096:   # bounded whatever names a program invents
                _HINTS[(cls, name)] = hint
        warnings.warn(f"{cls.__name__} has no AVP attribute {name!r}: its value is "
                      f"not sent{hint}", UnknownAttributeWarning, stacklevel=4)


def _assign_attrs(parent: Any, avps: list[Avp]) -> None:
    for a in avps:
        attr = a.name.replace("-", "_").lower()
        if isinstance(a, AvpGrouped):
            value: Any = UndefinedGroupedAvp()
            try:
                _assign_attrs(value, a.value)
            except DecodeError:
                value = a.payload
        else:
            try:
                value = a.value
            except DecodeError:
                value = a.payload
        existing = parent.__dict__.get(attr, _MISSING)
        if existing is _MISSING:
            parent.__dict__[attr] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            parent.__dict__[attr] = [existing, value]


_MISSING = object()
_AnyMessageType = TypeVar("_AnyMessageType", bound=Message)

all_commands: CommandRegistry[int] = CommandRegistry()
commands_by_application: CommandRegistry[tuple[int, int]] = CommandRegistry()
_types = core.MESSAGE_TYPES
_types.by_application = commands_by_application
_types.by_code = all_commands
_types.undefined = UndefinedMessage
_types.defined = DefinedMessage
_types.header = MessageHeader
_types.default_factory = _DEFAULT_FACTORY
all_commands.on_change = commands_by_application.on_change = _types.cache.clear


def _resolve(app: int, code: int) -> Any:
    """The decoder's fallback: import the command class of (app, code) on first use."""
    return commands_by_application.get((app, code)) or all_commands.get(code)


_types.resolve = _resolve

