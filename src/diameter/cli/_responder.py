"""The answer-by-rule responder of ``diameter serve``.

A rule matches on the command and on AVP values of the request (paths such as
``Subscription-Id.Subscription-Id-Data``, shell wildcards, enum names) and answers
with a Result-Code and a template of AVPs; template strings ``{Name}`` take the
value of the request's first AVP of that name. Session-Id, Origin-Host/Realm,
Auth-/Acct-Application-Id, CC-Request-Type/Number and Proxy-Info are filled as RFC
6733 and RFC 4006 ask; ``copy`` names further AVPs to echo.
"""
from __future__ import annotations

import asyncio
import copy
import fnmatch
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ..jsonview import dict_to_bytes, to_dict
from ._avpindex import DocumentError, _complete_avp, lookup_avp, lookup_command
from ._names import norm

__all__ = ["Rule", "Responder", "ConfigError"]

log = logging.getLogger("diameter.cli.serve")

_ECHO = ("Session-Id", "Auth-Application-Id", "Acct-Application-Id", "CC-Request-Type",
         "CC-Request-Number", "Accounting-Record-Type", "Accounting-Record-Number")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")


_MISSING = object()


class ConfigError(ValueError):
    """A serve configuration that cannot be used."""


def _values(avps: list[dict[str, Any]], path: list[tuple[int, int]]) -> list[Any]:
    out: list[Any] = []
    for a in avps:
        if (a["vendor_id"], a["code"]) != path[0]:
            continue
        if len(path) == 1:
            out.append(a.get("value", a.get("raw")))
            if a.get("enum"):
                out.append(a["enum"])
        else:
            out += _values(a.get("avps", []), path[1:])
    return out


def _first(avps: list[dict[str, Any]], key: tuple[int, int]) -> Any:
    for a in avps:
        if (a["vendor_id"], a["code"]) == key and "value" in a:
            return a["value"]
        found = _first(a.get("avps", []), key)
        if found is not None:
            return found
    return None


def _path(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split("."):
        refs = lookup_avp(part)
        if not refs:
            raise ConfigError(f"unknown AVP {part!r} in {text!r}")
        out.append((refs[0].vendor, refs[0].code))
    return out


@dataclass
class Rule:
    command: int | None
    match: list[tuple[list[tuple[int, int]], str]]
    result_code: int | None
    avps: list[dict[str, Any]]
    copy: list[str] = field(default_factory=list)
    delay: float = 0.0
    error: bool = False
    name: str = ""

    @classmethod
    def from_config(cls, c: dict[str, Any], index: int) -> Rule:
        command = None
        if "command" in c:
            try:
                command = lookup_command(str(c["command"]))[0]
            except DocumentError as e:
                raise ConfigError(str(e)) from None
        match = [(_path(k), str(v)) for k, v in dict(c.get("match", {})).items()]
        for key in c.get("copy", []):
            _path(key)
        return cls(command, match, c.get("result_code", 2001), list(c.get("avps", [])),
                   list(c.get("copy", [])), float(c.get("delay_ms", 0)) / 1000,
                   bool(c.get("error", False)), c.get("name", f"rule {index + 1}"))

    def matches(self, code: int, avps: list[dict[str, Any]]) -> bool:
        if self.command is not None and code != self.command:
            return False
        for path, pattern in self.match:
            values = [str(v) for v in _values(avps, path)]
            if not any(fnmatch.fnmatchcase(v, pattern) or norm(v) == norm(pattern)
                       for v in values):
                return False
        return True


class Responder:
    """Answers requests of one application from its rules (first match wins)."""

    def __init__(self, app_id: int, rules: list[Rule], identity: str, realm: str) -> None:
        self.app_id = app_id
        self.rules = rules
        self.identity = identity
        self.realm = realm
        self.counts: dict[str, int] = {}

    def _fill(self, template: Any, avps: list[dict[str, Any]]) -> Any:
        """The template with ``{Name}`` placeholders filled; AVPs whose placeholder
        the request cannot fill are left out (``_MISSING``)."""
        if isinstance(template, dict):
            out = {k: self._fill(v, avps) for k, v in template.items()}
            if any(v is _MISSING for v in out.values()):
                return _MISSING
            return out
        if isinstance(template, list):
            return [v for v in (self._fill(x, avps) for x in template) if v is not _MISSING]
        if isinstance(template, str):
            names = _PLACEHOLDER.findall(template)
            values = [_first(avps, _path(n)[-1]) for n in names]
            if any(v is None for v in values):
                return _MISSING
            if len(names) == 1 and _PLACEHOLDER.fullmatch(template):
                return values[0]
            it = iter(values)
            return _PLACEHOLDER.sub(lambda m: str(next(it)), template)
        return template

    def answer(self, data: bytes) -> bytes:
        req = to_dict(data)
        h, avps = req["header"], req["avps"]
        rule = next((r for r in self.rules if r.matches(h["command_code"], avps)), None)
        result = rule.result_code if rule else 3001  # DIAMETER_COMMAND_UNSUPPORTED
        name = rule.name if rule else "no rule"
        self.counts[name] = self.counts.get(name, 0) + 1
        out: list[dict[str, Any]] = []
        for echo in (_ECHO[0],):
            out += [copy.deepcopy(a) for a in avps if a["name"] == echo]
        if result is not None:
            out.append(_complete_avp({"name": "Result-Code", "value": result}, 0))
        out.append(_complete_avp({"name": "Origin-Host", "value": self.identity}, 0))
        out.append(_complete_avp({"name": "Origin-Realm", "value": self.realm}, 0))
        for echo in (*_ECHO[1:], *(rule.copy if rule else [])):
            key = _path(echo)[0]
            out += [copy.deepcopy(a) for a in avps if (a["vendor_id"], a["code"]) == key]
        if rule:
            out += [_complete_avp(a, 0) for a in self._fill(copy.deepcopy(rule.avps), avps)]
        out += [copy.deepcopy(a) for a in avps if a["code"] == 284 and a["vendor_id"] == 0]
        flags = dict(h["flags"], request=False, retransmit=False,
                     error=bool(rule.error) if rule else True)
        return dict_to_bytes({"header": dict(h, flags=flags), "avps": out})

    async def __call__(self, data: bytes) -> bytes:
        rule_delay = 0.0
        if any(r.delay for r in self.rules):
            d = to_dict(data)
            rule = next((r for r in self.rules
                         if r.matches(d["header"]["command_code"], d["avps"])), None)
            rule_delay = rule.delay if rule else 0.0
        if rule_delay:
            await asyncio.sleep(rule_delay)
        return self.answer(data)
