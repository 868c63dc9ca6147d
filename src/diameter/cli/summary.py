"""The facts about one message that filters, statistics and timelines use.

Built from the JSON view (:func:`diameter.jsonview.to_dict`), so names,
vendors and enum labels come from the running dictionary.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..jsonview import to_dict

__all__ = ["Summary", "summarize", "find_avp", "find_all", "walk", "short_command",
           "CC_REQUEST_TYPES"]

SESSION_ID, ORIGIN_HOST, ORIGIN_REALM, RESULT_CODE = 263, 264, 296, 268
EXPERIMENTAL_RESULT, EXPERIMENTAL_RESULT_CODE = 297, 298
CC_REQUEST_TYPE, CC_REQUEST_NUMBER = 416, 415
CC_REQUEST_TYPES = {1: "INITIAL", 2: "UPDATE", 3: "TERMINATION", 4: "EVENT"}
_ABBREV = {257: "CE", 280: "DW", 282: "DP", 258: "RA", 274: "AS", 275: "ST", 271: "AC",
           272: "CC", 316: "UL", 318: "AI", 317: "CL", 319: "ID", 320: "DS", 321: "PU",
           323: "NO", 8388635: "SL", 8388636: "SN"}


def walk(avps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every AVP dict, nested ones included, depth first."""
    for a in avps:
        yield a
        if "avps" in a:
            yield from walk(a["avps"])


def find_avp(avps: list[dict[str, Any]], code: int, vendor: int = 0) -> dict[str, Any] | None:
    """The first AVP with this code and vendor at this level."""
    for a in avps:
        if a["code"] == code and a["vendor_id"] == vendor:
            return a
    return None


def find_all(avps: list[dict[str, Any]], code: int, vendor: int = 0) -> list[dict[str, Any]]:
    return [a for a in avps if a["code"] == code and a["vendor_id"] == vendor]


def value_of(avps: list[dict[str, Any]], code: int, vendor: int = 0) -> Any:
    a = find_avp(avps, code, vendor)
    return None if a is None else a.get("value", a.get("raw"))


@dataclass
class Summary:
    """One decoded message: header, a few well-known AVPs and the full dict form."""
    doc: dict[str, Any]
    command_code: int
    command_name: str
    application_id: int
    application_name: str
    request: bool
    retransmit: bool
    error_bit: bool
    hop_by_hop: int
    end_to_end: int
    session_id: str | None
    origin_host: str | None
    origin_realm: str | None
    result_code: int | None
    cc_request_type: int | None
    cc_request_number: int | None

    @property
    def label(self) -> str:
        """E.g. ``CCR-I``, ``CCA-U``, ``CER``, ``ULA``."""
        base = short_command(self.command_code, self.command_name)
        text = base + ("R" if self.request else "A")
        if self.cc_request_type in CC_REQUEST_TYPES:
            text += "-" + CC_REQUEST_TYPES[self.cc_request_type][0]
        return text

    @property
    def avps(self) -> list[dict[str, Any]]:
        return self.doc["avps"]  # type: ignore[no-any-return]


def short_command(code: int, name: str | None) -> str:
    if code in _ABBREV:
        return _ABBREV[code]
    if name:
        return "".join(w[0] for w in name.replace("_", "-").split("-") if w).upper()
    return str(code)


def summarize(data: bytes) -> Summary:
    """The summary of one message's bytes (raises ``DecodeError`` on a broken header)."""
    doc = to_dict(data)
    h = doc["header"]
    avps = doc["avps"]
    result = value_of(avps, RESULT_CODE)
    if result is None:
        exp = find_avp(avps, EXPERIMENTAL_RESULT)
        if exp is not None and "avps" in exp:
            result = value_of(exp["avps"], EXPERIMENTAL_RESULT_CODE)
    return Summary(
        doc=doc, command_code=h["command_code"],
        command_name=h["command_name"] or f"Command-{h['command_code']}",
        application_id=h["application_id"],
        application_name=h["application_name"] or str(h["application_id"]),
        request=h["flags"]["request"], retransmit=h["flags"]["retransmit"],
        error_bit=h["flags"]["error"],
        hop_by_hop=h["hop_by_hop_identifier"], end_to_end=h["end_to_end_identifier"],
        session_id=_text(value_of(avps, SESSION_ID)),
        origin_host=_text(value_of(avps, ORIGIN_HOST)),
        origin_realm=_text(value_of(avps, ORIGIN_REALM)),
        result_code=result if isinstance(result, int) else None,
        cc_request_type=_int(value_of(avps, CC_REQUEST_TYPE)),
        cc_request_number=_int(value_of(avps, CC_REQUEST_NUMBER)),
    )


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
