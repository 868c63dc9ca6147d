"""Stream framing: split a byte stream into Diameter messages.

Only the 4-byte prefix (version + 24-bit length) is needed to frame; the
20-byte header is parsed with one ``struct`` call when the node needs it.
"""
from __future__ import annotations

from typing import Final, NamedTuple

from ...codec.frame import HEADER, U32
from .constants import DEFAULT_MAX_MESSAGE_SIZE


class FramingError(Exception):
    """The stream cannot be framed any further (bad version or length)."""

    def __init__(self, message: str, result_code: int) -> None:
        super().__init__(message)
        self.result_code = result_code
        #: complete messages that preceded the bad one in the same feed
        self.frames: list[bytes] = []
        #: the first 20 bytes of the bad message, when that many had arrived
        self.header: bytes = b""


class Header(NamedTuple):
    """The fixed 20-byte Diameter header, decoded."""

    length: int
    flags: int
    command_code: int
    application_id: int
    hop_by_hop_identifier: int
    end_to_end_identifier: int

    @property
    def is_request(self) -> bool:
        return bool(self.flags & 0x80)


_new_header: Final = tuple.__new__


def parse_header(data: bytes | memoryview) -> Header:
    """Decode the 20-byte header at the start of ``data``."""
    if type(data) is bytes and len(data) >= 20:   # byte by byte: native code when compiled
        return _new_header(Header, (
            (data[1] << 16) | (data[2] << 8) | data[3], data[4], (data[5] << 16) | (data[6] << 8) | data[7],
            (data[8] << 24) | (data[9] << 16) | (data[10] << 8) | data[11],
            (data[12] << 24) | (data[13] << 16) | (data[14] << 8) | data[15],
            (data[16] << 24) | (data[17] << 16) | (data[18] << 8) | data[19]))
    vl, fc, app, hbh, e2e = HEADER.unpack_from(data)
    return _new_header(Header, (vl & 0xFFFFFF, fc >> 24, fc & 0xFFFFFF, app, hbh, e2e))


def set_hop_by_hop(data: bytearray, hbh: int) -> None:
    """Overwrite the hop-by-hop identifier of an encoded message in place."""
    U32.pack_into(data, 12, hbh)


class FrameDecoder:
    """Incremental decoder: feed bytes, get complete message byte strings.

    Raises :class:`FramingError` for a version other than 1, a length under 20
    or over ``max_size``; after that the stream cannot be resynchronised.
    """

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def clear(self) -> None:
        """Drop buffered bytes (the connection is finished)."""
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        view: bytes
        if buf:
            buf += data
            view = bytes(buf)
        else:
            view = data if type(data) is bytes else bytes(data)
        out: list[bytes] = []
        pos = 0
        end = len(view)
        max_size = self.max_size
        while end - pos >= 4:
            version = view[pos]
            length = (view[pos + 1] << 16) | (view[pos + 2] << 8) | view[pos + 3]
            if version != 1 or length < 20 or length & 3 or length > max_size:
                if version != 1:
                    exc = FramingError(f"unsupported Diameter version {version}", 5011)
                elif length > max_size:
                    exc = FramingError(f"message length {length} exceeds {max_size}", 5015)
                else:
                    exc = FramingError(f"invalid message length {length}", 5015)
                exc.frames = out
                exc.header = view[pos:pos + 20] if end - pos >= 20 else b""
                self._buf = bytearray()
                raise exc
            if end - pos < length:
                break
            out.append(view[pos:pos + length])
            pos += length
        if buf:
            del buf[:pos]
        elif pos < end:
            self._buf = bytearray(view[pos:])
        return out


class WriteBatch:
    """Encoded messages held back for one write (the transport's batch), and their size.

    :meth:`add` says when the batch is full (``max_frames`` messages or ``max_bytes``): the
    owner writes it then (:meth:`take`), so that the peer is kept busy. Compiled, one native
    call per message instead of the interpreted list and byte accounting."""

    __slots__ = ("frames", "size", "max_frames", "max_bytes")

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.frames: list[bytes | bytearray] = []
        #: bytes in ``frames``
        self.size = 0
        self.max_frames = max_frames
        self.max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, data: bytes | bytearray) -> bool:
        """Hold ``data``; True when the batch is full now."""
        frames = self.frames
        frames.append(data)
        size = self.size = self.size + len(data)
        return len(frames) >= self.max_frames or size >= self.max_bytes

    def take(self) -> list[bytes | bytearray]:
        """The messages held (an empty list: none), the batch emptied."""
        frames = self.frames
        if frames:
            self.frames = []
            self.size = 0
        return frames
