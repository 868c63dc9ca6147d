"""The facts about one message that filters, statistics and timelines use.

Built from the JSON view (:func:`diameter.jsonview.to_dict`), so names,
vendors and enum labels come from the running dictionary.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..codec.wire import scan_avps, unpack_header
from ..jsonview import APPLICATION_NAMES, COMMAND_NAMES, to_dict

__all__ = ["Summary", "summarize", "find_avp", "find_all", "walk", "short_command",
           "CC_REQUEST_TYPES"]

SESSION_ID, ORIGIN_HOST, ORIGIN_REALM, RESULT_CODE = 263, 264, 296, 268
EXPERIMENTAL_RESULT, EXPERIMENTAL_RESULT_CODE = 297, 298
CC_REQUEST_TYPE, CC_REQUEST_NUMBER = 416, 415
CC_REQUEST_TYPES = {1: "INITIAL", 2: "UPDATE", 3: "TERMINATION", 4: "EVENT"}
_WANTED = frozenset({SESSION_ID, ORIGIN_HOST, ORIGIN_REALM, RESULT_CODE, EXPERIMENTAL_RESULT,
                     CC_REQUEST_TYPE, CC_REQUEST_NUMBER})
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
    """One decoded message: header, a few well-known AVPs, and (on first use) the full
    dict form of the JSON view."""
    data: bytes
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
    _doc: dict[str, Any] | None = None

    @property
    def doc(self) -> dict[str, Any]:
        """The message in the JSON view's dict form (docs/json.md)."""
        if self._doc is None:
            self._doc = to_dict(self.data)
        return self._doc

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


def _u32(data: bytes, ps: int, pe: int) -> int | None:
    return int.from_bytes(data[ps:pe], "big") if pe - ps == 4 else None


def _utf8(data: bytes, ps: int, pe: int) -> str | None:
    try:
        return data[ps:pe].decode("utf-8")
    except UnicodeDecodeError:
        return None


def summarize(data: bytes) -> Summary:
    """The summary of one message's bytes (raises ``DecodeError`` on a broken header
    or AVP framing). Reads only the header and top-level AVPs."""
    _version, _length, flags, code, app, hbh, e2e = unpack_header(data)
    found: dict[int, tuple[int, int]] = {}
    for c, vendor, _f, _s, ps, pe in scan_avps(data, 20, len(data)):
        if vendor == 0 and c in _WANTED and c not in found:
            found[c] = (ps, pe)
    result = _u32(data, *found[RESULT_CODE]) if RESULT_CODE in found else None
    if result is None and EXPERIMENTAL_RESULT in found:
        ps, pe = found[EXPERIMENTAL_RESULT]
        for c, vendor, _f, _s, ps2, pe2 in scan_avps(data, ps, pe):
            if c == EXPERIMENTAL_RESULT_CODE and vendor == 0:
                result = _u32(data, ps2, pe2)
                break
    text = {k: _utf8(data, *found[k]) if k in found else None
            for k in (SESSION_ID, ORIGIN_HOST, ORIGIN_REALM)}
    return Summary(
        data=data, command_code=code,
        command_name=COMMAND_NAMES.get(code) or f"Command-{code}",
        application_id=app, application_name=APPLICATION_NAMES.get(app) or str(app),
        request=bool(flags & 0x80), retransmit=bool(flags & 0x10), error_bit=bool(flags & 0x20),
        hop_by_hop=hbh, end_to_end=e2e,
        session_id=text[SESSION_ID], origin_host=text[ORIGIN_HOST],
        origin_realm=text[ORIGIN_REALM], result_code=result,
        cc_request_type=_u32(data, *found[CC_REQUEST_TYPE]) if CC_REQUEST_TYPE in found else None,
        cc_request_number=(_u32(data, *found[CC_REQUEST_NUMBER]) if CC_REQUEST_NUMBER in found
                           else None),
    )


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
