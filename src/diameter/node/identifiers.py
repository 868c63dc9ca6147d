"""Identifier generators: hop-by-hop and end-to-end identifiers, Session-Id values."""
from __future__ import annotations

import random
import threading
import time


class SequenceGenerator:
    """Wrapping 32-bit sequence for hop-by-hop and end-to-end identifiers.

    With ``include_now`` the high 12 bits start from the time, as RFC 6733
    §3 suggests for End-to-End identifiers.
    """

    MIN_SEQUENCE = 0x00000001
    MAX_SEQUENCE = 0xFFFFFFFF

    def __init__(self, include_now: int | None = None) -> None:
        self._lock = threading.Lock()
        if include_now:
            self._sequence = ((include_now << 20) | random.randint(1, 0xFFFFF)) & self.MAX_SEQUENCE
        else:
            self._sequence = random.randint(self.MIN_SEQUENCE, self.MAX_SEQUENCE)

    @property
    def sequence(self) -> int:
        return self._sequence

    def next_sequence(self) -> int:
        with self._lock:
            self._sequence = self._sequence + 1 if self._sequence < self.MAX_SEQUENCE else self.MIN_SEQUENCE
            return self._sequence


class SessionGenerator:
    """Unique Session-Id values: ``<identity>;<start time hex>;<hi32>;<lo32>[;opt...]``."""

    MIN_SEQUENCE = 1
    MAX_SEQUENCE = 0xFFFFFFFFFFFFFFFF

    def __init__(self, node_name: str) -> None:
        self.diameter_identity = node_name
        self._base_value = f"{int(time.time()) & 0xFFFFFFFF:08x}"
        self._sequence = random.getrandbits(64)
        self._lock = threading.Lock()

    def next_id(self, *optional: str) -> str:
        with self._lock:
            self._sequence = self._sequence + 1 if self._sequence < self.MAX_SEQUENCE else self.MIN_SEQUENCE
            seq = self._sequence
        return ";".join([self.diameter_identity, self._base_value, f"{seq >> 32:08x}",
                         f"{seq & 0xFFFFFFFF:08x}", *optional])
