"""Constant-name derivation (python-diameter's convention), shared by the
generator and the import tools. See docs/dictionary.md, "Constant names"."""
from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def upper_name(name: str) -> str:
    """``CC-Request-Type`` -> ``CC_REQUEST_TYPE``."""
    return _NON_ALNUM.sub("_", name.upper()).strip("_")


def avp_const(name: str, vendor_const: str | None) -> str:
    """``AVP_`` + vendor const (for vendor AVPs) + upper-cased name."""
    prefix = f"AVP_{vendor_const}_" if vendor_const else "AVP_"
    return prefix + upper_name(name)


def enum_const(avp_name: str, value_name: str) -> str:
    """``E_<AVP>_<VALUE>``; the parenthesised part of a value name is dropped."""
    short = re.sub(r"\s*\(.*?\)\s*", " ", value_name).strip() or value_name
    value = upper_name(short)
    if not value:
        value = upper_name(value_name) or "VALUE"
    return f"E_{upper_name(avp_name)}_{value}"


def cmd_const(name: str) -> str:
    return "CMD_" + upper_name(name)


def app_const(name: str) -> str:
    return upper_name(name)
