"""XDR-style packer and unpacker (python-diameter's ``diameter.message.packer`` API).

The codec does not use these; they exist for code written against python-diameter.
"""
from __future__ import annotations

from struct import Struct, error as struct_error
from typing import Any, Callable

from ..codec.errors import ConversionError, DiameterError

__all__ = ["Error", "ConversionError", "Packer", "Unpacker"]

Error = DiameterError

_I = Struct(">i")
_U = Struct(">I")
_Q = Struct(">Q")
_q = Struct(">q")
_F = Struct(">f")
_D = Struct(">d")


def _pad(n: int) -> int:
    return (n + 3) & ~3


class Packer:
    """Append big-endian 32-bit aligned values to a buffer."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def reset(self) -> None:
        self._parts = []

    def get_buffer(self) -> bytes:
        return b"".join(self._parts)

    def _pack(self, st: Struct, x: Any) -> None:
        try:
            self._parts.append(st.pack(x))
        except (struct_error, TypeError) as e:
            raise ConversionError(f"cannot pack {x!r}: {e}") from None

    def pack_uint(self, x: int) -> None:
        self._pack(_U, x)

    def pack_int(self, x: int) -> None:
        self._pack(_I, x)

    def pack_bool(self, x: bool) -> None:
        self._pack(_U, 1 if x else 0)

    def pack_uhyper(self, x: int) -> None:
        self._pack(_Q, x)

    def pack_hyper(self, x: int) -> None:
        self._pack(_q, x)

    def pack_float(self, x: float) -> None:
        self._pack(_F, x)

    def pack_double(self, x: float) -> None:
        self._pack(_D, x)

    def pack_fstring(self, n: int, s: bytes) -> None:
        if n < 0:
            raise ValueError("fstring size must be nonnegative")
        if not isinstance(s, (bytes, bytearray)):
            raise ConversionError(f"{s!r} is not bytes")
        data = bytes(s[:n])
        self._parts.append(data + b"\x00" * (_pad(n) - len(data)))

    pack_fopaque = pack_fstring

    def pack_string(self, s: bytes) -> None:
        self.pack_uint(len(s))
        self.pack_fstring(len(s), s)

    pack_opaque = pack_string
    pack_bytes = pack_string

    def pack_list(self, item_list: list, pack_item: Callable[[Any], None]) -> None:
        for item in item_list:
            self.pack_uint(1)
            pack_item(item)
        self.pack_uint(0)

    def pack_farray(self, n: int, item_list: list, pack_item: Callable[[Any], None]) -> None:
        if len(item_list) != n:
            raise ValueError("wrong array size")
        for item in item_list:
            pack_item(item)

    def pack_array(self, item_list: list, pack_item: Callable[[Any], None]) -> None:
        self.pack_uint(len(item_list))
        self.pack_farray(len(item_list), item_list, pack_item)


class Unpacker:
    """Read big-endian 32-bit aligned values from a buffer."""

    def __init__(self, data: bytes) -> None:
        self.reset(data)

    def reset(self, data: bytes) -> None:
        self._buf = data
        self._pos = 0

    def get_position(self) -> int:
        return self._pos

    def set_position(self, position: int) -> None:
        self._pos = position

    def get_buffer(self) -> bytes:
        return self._buf

    def done(self) -> None:
        if self._pos < len(self._buf):
            raise ConversionError("unextracted data remains", self._pos)

    def is_done(self) -> bool:
        return self._pos >= len(self._buf)

    def _unpack(self, st: Struct) -> Any:
        i = self._pos
        j = i + st.size
        if j > len(self._buf):
            raise ConversionError("buffer exhausted", i)
        self._pos = j
        return st.unpack_from(self._buf, i)[0]

    def unpack_char(self) -> int:
        if self._pos >= len(self._buf):
            raise ConversionError("buffer exhausted", self._pos)
        self._pos += 1
        return self._buf[self._pos - 1]

    def unpack_uint(self) -> int:
        return self._unpack(_U)

    def unpack_int(self) -> int:
        return self._unpack(_I)

    def unpack_bool(self) -> bool:
        return bool(self._unpack(_I))

    def unpack_uhyper(self) -> int:
        return self._unpack(_Q)

    def unpack_hyper(self) -> int:
        return self._unpack(_q)

    def unpack_float(self) -> float:
        return self._unpack(_F)

    def unpack_double(self) -> float:
        return self._unpack(_D)

    def unpack_fstring(self, n: int) -> bytes:
        if n < 0:
            raise ConversionError("fstring size must be nonnegative", self._pos)
        i = self._pos
        j = i + _pad(n)
        if j > len(self._buf):
            raise ConversionError("buffer exhausted", i)
        self._pos = j
        return self._buf[i:i + n]

    unpack_fopaque = unpack_fstring

    def unpack_string(self) -> bytes:
        return self.unpack_fstring(self.unpack_uint())

    unpack_opaque = unpack_string
    unpack_bytes = unpack_string

    def unpack_list(self, unpack_item: Callable[[], Any]) -> list:
        out = []
        while True:
            x = self.unpack_uint()
            if x == 0:
                return out
            if x != 1:
                raise ConversionError(f"0 or 1 expected, got {x}", self._pos)
            out.append(unpack_item())

    def unpack_farray(self, n: int, unpack_item: Callable[[], Any]) -> list:
        return [unpack_item() for _ in range(n)]

    def unpack_array(self, unpack_item: Callable[[], Any]) -> list:
        return self.unpack_farray(self.unpack_uint(), unpack_item)
