"""Read what a user gives on the command line: message bytes or a structured document.

Message input (:func:`read_message_bytes`) may be hex digits with any spacing,
``0x`` prefixes or ``:``/``-`` separators, base64, a file of raw bytes, a file
holding hex or base64 text, or ``-`` for stdin. Documents
(:func:`read_document`) are JSON or YAML.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["InputError", "parse_text_bytes", "read_source", "read_message_bytes",
           "read_document", "looks_like_capture", "content_bytes"]

_SEPARATORS = re.compile(r"[\s:,\-]+")
_HEX_PREFIX = re.compile(r"0x", re.IGNORECASE)
_B64 = re.compile(r"^[A-Za-z0-9+/_\-\s]+=*\s*$")
PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
               b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


class InputError(click.ClickException):
    """Input that is neither a message nor a readable file (exit code 1)."""


def parse_text_bytes(text: str) -> bytes | None:
    """Bytes from hex (any spacing, ``0x``, ``:``) or base64 text; ``None`` if neither."""
    stripped = text.strip()
    if not stripped:
        return None
    hex_digits = _SEPARATORS.sub("", _HEX_PREFIX.sub("", stripped))
    if hex_digits and re.fullmatch(r"[0-9a-fA-F]+", hex_digits) and len(hex_digits) % 2 == 0:
        return bytes.fromhex(hex_digits)
    if _B64.match(stripped):
        compact = re.sub(r"\s+", "", stripped)
        try:
            if "-" in compact or "_" in compact:
                return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
            return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def read_source(arg: str) -> bytes:
    """The raw content of ``arg``: ``-`` is stdin, otherwise a file path."""
    if arg == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(arg).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {arg!r}: {e.strerror or e}") from None


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() or all(c.isprintable() or c.isspace() for c in text) else None


def looks_like_capture(data: bytes) -> bool:
    """Whether ``data`` starts like a pcap or pcapng file."""
    return data[:4] in PCAP_MAGICS


def content_bytes(data: bytes) -> bytes:
    """Raw bytes of a file or stdin; hex or base64 text inside is decoded."""
    if data[:1] == b"\x01":  # a Diameter version byte: raw message(s)
        return data
    text = _as_text(data)
    if text is not None:
        parsed = parse_text_bytes(text)
        if parsed is not None:
            return parsed
    return data


def read_message_bytes(arg: str) -> bytes:
    """Message bytes from a command-line argument (see the module docstring)."""
    if arg == "-":
        return content_bytes(sys.stdin.buffer.read())
    if _is_file(arg):
        return content_bytes(read_source(arg))
    parsed = parse_text_bytes(arg)
    if parsed is not None:
        return parsed
    shown = arg if len(arg) <= 60 else arg[:57] + "..."
    raise InputError(f"{shown!r} is neither hex, base64 nor a readable file")


def _is_file(arg: str) -> bool:
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):
        return False


def read_document(arg: str) -> Any:
    """A JSON or YAML document from a file or ``-`` (JSON tried first, YAML if installed)."""
    raw = read_source(arg)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{arg!r} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise InputError(f"{arg!r} is not JSON ({json_error}); install PyYAML for YAML"
                             ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{arg!r} is neither JSON nor YAML: {e}") from None
