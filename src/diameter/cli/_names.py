"""Name matching shared by the subcommands: any case, with or without hyphens."""
from __future__ import annotations

import re

__all__ = ["norm", "APPLICATION_ALIASES", "application_id"]

# Interface names people type, to Diameter application ids.
APPLICATION_ALIASES = {
    "base": 0, "common": 0, "nasreq": 1, "mip": 2, "accounting": 3, "acct": 3,
    "gy": 4, "ro": 4, "dcca": 4, "cc": 4, "creditcontrol": 4, "eap": 5, "sip": 6,
    "cx": 16777216, "dx": 16777216, "sh": 16777217, "rx": 16777236, "gx": 16777238,
    "s6a": 16777251, "s6d": 16777251, "s13": 16777252, "slg": 16777255, "swx": 16777265,
    "s6b": 16777272, "sd": 16777303, "sy": 16777302, "s6t": 16777345, "t6a": 16777346,
}


def norm(text: str) -> str:
    """Lower case without ``-``, ``_``, spaces or dots."""
    return re.sub(r"[-_\s.]", "", text).lower()


def application_id(text: str, names: dict[int, str]) -> int | None:
    """An application id from a number, an interface alias or (part of) a name."""
    t = text.strip()
    if t.isdigit():
        return int(t)
    n = norm(t)
    if n in APPLICATION_ALIASES:
        return APPLICATION_ALIASES[n]
    exact = [i for i, name in names.items() if norm(name) == n]
    if exact:
        return exact[0]
    partial = sorted(i for i, name in names.items() if n in norm(name))
    return partial[0] if len(partial) == 1 else None
