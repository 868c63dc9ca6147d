"""Session scenarios of ``diameter bench``: pre-encoded requests patched per session.

Each scenario encodes its request templates once (through the JSON view, by
name); a session copies them and patches Session-Id, subscriber, request
numbers and used units in place, so the load generator spends its time on the
wire, not on encoding. Answers are read with the codec's AVP scanner.
"""
from __future__ import annotations

import abc
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from ..codec.wire import scan_avps
from ..jsonview import dict_to_bytes
from ._avpindex import complete_document
from ._client import A

__all__ = ["Scenario", "Session", "SCENARIOS", "make_scenario", "Lengths", "result_code"]

SID_WIDTH = 12


def _encode(command: str, app: int | None, avps: list[dict[str, Any]]) -> bytes:
    header: dict[str, Any] = {"command": command}
    if app is not None:
        header["application_id"] = app
    return dict_to_bytes(complete_document({"header": header, "avps": avps}))


def _find(buf: bytes | bytearray, path: list[tuple[int, int]], start: int = 20,
          end: int | None = None) -> tuple[int, int] | None:
    """(payload start, payload end) of the first AVP at ``path`` (vendor, code) pairs."""
    for code, vendor, _flags, _s, ps, pe in scan_avps(bytes(buf), start, len(buf) if end is None
                                                      else end):
        if (vendor, code) == path[0]:
            return (ps, pe) if len(path) == 1 else _find(buf, path[1:], ps, pe)
    return None


_RC_HEAD = b"\x00\x00\x01\x0c\x40\x00\x00\x0c"  # Result-Code, M flag, length 12
_u32 = struct.Struct(">I").unpack_from


def result_code(msg: bytes) -> int | None:
    """Result-Code, else Experimental-Result-Code, of an answer."""
    i = msg.find(_RC_HEAD, 20)
    if i > 0 and not (i - 20) & 3:  # fast path: the usual encoding, on an AVP boundary
        off = 20
        while off < i:  # walk the AVP headers before it (lengths padded to 4)
            length = _u32(msg, off + 4)[0] & 0xFFFFFF
            if length < 8:
                break
            off += (length + 3) & ~3
        if off == i:
            rc: int = _u32(msg, i + 8)[0]
            return rc
    for code, vendor, _f, _s, ps, pe in scan_avps(msg, 20, len(msg)):
        if code == 268 and vendor == 0 and pe - ps == 4:
            return int.from_bytes(msg[ps:pe], "big")
        if code == 297 and vendor == 0:
            for c2, v2, _f2, _s2, ps2, pe2 in scan_avps(msg, ps, pe):
                if c2 == 298 and v2 == 0 and pe2 - ps2 == 4:
                    return int.from_bytes(msg[ps2:pe2], "big")
    return None


@dataclass
class Template:
    """Encoded request with the offsets of the fields a session patches."""
    data: bytes
    sid: tuple[int, int]
    fields: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, data: bytes, sid: str, **paths: list[tuple[int, int]]) -> Template:
        start = data.find(sid.encode())
        t = cls(data, (start, start + len(sid)))
        for name, path in paths.items():
            found = _find(data, path)
            if found is None:
                raise ValueError(f"template has no {name}")
            t.fields[name] = found
        return t

    def make(self, sid: bytes, **values: int | bytes) -> bytearray:
        buf = bytearray(self.data)
        buf[self.sid[0]:self.sid[1]] = sid
        for name, v in values.items():
            ps, pe = self.fields[name]
            if isinstance(v, int):
                buf[ps:pe] = v.to_bytes(pe - ps, "big")
            else:
                buf[ps:pe] = v
        return buf


@dataclass
class Lengths:
    """How many middle requests (CCR-U...) a session has: fixed, uniform or exponential."""
    kind: str = "fixed"
    a: float = 1
    b: float = 1

    @classmethod
    def parse(cls, text: str) -> Lengths:
        kind, _, rest = text.partition(":")
        try:
            if kind == "fixed":
                return cls("fixed", float(rest or 1))
            if kind == "uniform":
                lo, _, hi = rest.partition("-")
                return cls("uniform", float(lo), float(hi))
            if kind in ("exp", "exponential"):
                return cls("exp", float(rest))
        except ValueError:
            pass
        raise ValueError(f"session length {text!r}: use fixed:N, uniform:A-B or exp:MEAN")

    def draw(self, rng: random.Random) -> int:
        if self.kind == "uniform":
            return rng.randint(int(self.a), int(self.b))
        if self.kind == "exp":
            return int(rng.expovariate(1 / self.a)) if self.a > 0 else 0
        return int(self.a)

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a


class Session:
    """One session's state: the scenario asks it for its next request."""
    __slots__ = ("sid", "n", "step", "middle", "granted", "final", "done", "conn", "validity")

    def __init__(self, sid: bytes, n: int, middle: int) -> None:
        self.sid, self.n, self.step, self.middle = sid, n, 0, middle
        self.granted = 0
        self.final = False
        self.done = False
        self.conn: Any = None
        self.validity = 0  # Validity-Time of the last grant (s), 0: none


class Scenario(abc.ABC):
    name = "base"
    apps: tuple[int, ...] = ()
    per_session = 1.0  # mean requests per session

    def __init__(self, origin_host: str, origin_realm: str, destination_realm: str,
                 lengths: Lengths, seed: int = 1) -> None:
        self.origin_host, self.origin_realm = origin_host, origin_realm
        self.destination_realm = destination_realm
        self.lengths = lengths
        self.rng = random.Random(seed)
        self.sid_prefix = f"{origin_host};{random.getrandbits(31)};"
        self.placeholder = self.sid_prefix + "0" * SID_WIDTH
        self._sid_format = self.sid_prefix.encode().replace(b"%", b"%%") + b"%0*d"
        self.count = 0

    def common(self) -> list[dict[str, Any]]:
        return [A("Session-Id", self.placeholder), A("Origin-Host", self.origin_host),
                A("Origin-Realm", self.origin_realm),
                A("Destination-Realm", self.destination_realm)]

    def new_session(self) -> Session:
        self.count += 1
        sid = self._sid_format % (SID_WIDTH, self.count)
        return Session(sid, self.count, self.lengths.draw(self.rng))

    @abc.abstractmethod
    def next_request(self, s: Session) -> bytearray | None:
        """The session's next request (Session-Id patched in), or None when it is over."""

    def on_answer(self, s: Session, msg: bytes, rc: int | None) -> None:
        if rc is None or not 2000 <= rc < 3000:
            s.done = True


def _imsi(n: int) -> bytes:
    return f"00101{n % 10**10:010d}".encode()


class Gy(Scenario):
    """Credit control (RFC 4006): CCR-I, CCR-U x length, CCR-T; one rating group.
    Used units are drawn from what was granted; FUI ends the session with CCR-T;
    a failed answer (4012...) ends it at once."""
    name, apps = "gy", (4,)
    app_id, rg = 4, 10

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.per_session = 2 + self.lengths.mean
        base = self.common() + [A("Auth-Application-Id", self.app_id)]
        if self.app_id == 4:
            base.append(A("Service-Context-Id", "32251@3gpp.org"))
        sub = A("Subscription-Id", None, A("Subscription-Id-Type", 1),
                A("Subscription-Id-Data", "001010000000000"))
        rsu = A("Requested-Service-Unit", None, A("CC-Total-Octets", 0))
        usu = A("Used-Service-Unit", None, A("CC-Total-Octets", 0))
        mscc = [A("Multiple-Services-Indicator", 1)] if self.app_id == 4 else []
        tmpl: dict[str, Template] = {}
        for kind, number, units in ((1, 0, [rsu]), (2, 1, [rsu, usu]), (3, 2, [usu])):
            avps = base + [A("CC-Request-Type", kind), A("CC-Request-Number", number), sub]
            if self.app_id == 4:
                avps += mscc + [A("Multiple-Services-Credit-Control", None, *units,
                                  A("Rating-Group", self.rg))]
            paths: dict[str, list[tuple[int, int]]] = {
                "number": [(0, 415)], "imsi": [(0, 443), (0, 444)]}
            if self.app_id == 4 and kind != 1:
                paths["used"] = [(0, 456), (0, 446), (0, 421)]
            tmpl[str(kind)] = Template.build(_encode("CCR", self.app_id, avps), self.placeholder,
                                             **paths)
        self.tmpl = tmpl

    def next_request(self, s: Session) -> bytearray | None:
        if s.done:
            return None
        if s.step == 0:
            kind = "1"
        elif s.step <= s.middle and not s.final:
            kind = "2"
        else:
            kind, s.done = "3", True
        values: dict[str, int | bytes] = {"number": s.step, "imsi": _imsi(s.n)}
        if kind != "1" and "used" in self.tmpl[kind].fields:
            values["used"] = self.rng.randint(0, s.granted) if s.granted else 0
        s.step += 1
        return self.tmpl[kind].make(s.sid, **values)

    def on_answer(self, s: Session, msg: bytes, rc: int | None) -> None:
        if rc is None or not 2000 <= rc < 3000:
            s.done = True
            return
        gsu = _find(msg, [(0, 456), (0, 431), (0, 421)])
        s.granted = int.from_bytes(msg[gsu[0]:gsu[1]], "big") if gsu else 0
        vt = _find(msg, [(0, 456), (0, 448)])
        s.validity = int.from_bytes(msg[vt[0]:vt[1]], "big") if vt else 0
        if _find(msg, [(0, 456), (0, 430)]) is not None:
            s.final = True  # Final-Unit-Indication: report the last usage and end


class Gx(Gy):
    """Policy control (3GPP TS 29.212): CCR-I, CCR-U x length, CCR-T."""
    name, apps, app_id = "gx", (16777238,), 16777238


class _Pair(Scenario):
    """Two one-shot requests per session (e.g. AIR then ULR)."""
    requests: list[tuple[str, list[dict[str, Any]], dict[str, list[tuple[int, int]]]]] = []

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.per_session = len(self.requests)
        self.tmpl = [Template.build(_encode(cmd, self.apps[0], self.common() + avps),
                                    self.placeholder, **paths)
                     for cmd, avps, paths in self.requests]

    def next_request(self, s: Session) -> bytearray | None:
        if s.done or s.step >= len(self.tmpl):
            return None
        t = self.tmpl[s.step]
        s.step += 1
        s.done = s.step >= len(self.tmpl)
        if "imsi" in t.fields:
            return t.make(s.sid, imsi=_imsi(s.n))
        return t.make(s.sid)


_PLMN = "00f110"


class S6a(_Pair):
    """S6a (3GPP TS 29.272): Authentication-Information then Update-Location."""
    name, apps = "s6a", (16777251,)
    requests = [
        ("AIR", [A("Auth-Session-State", 1), A("User-Name", "001010000000000"),
                 A("Visited-PLMN-Id", _PLMN),
                 A("Requested-EUTRAN-Authentication-Info", None,
                   A("Number-Of-Requested-Vectors", 1))], {"imsi": [(0, 1)]}),
        ("ULR", [A("Auth-Session-State", 1), A("User-Name", "001010000000000"),
                 A("RAT-Type", 1004), A("ULR-Flags", 34), A("Visited-PLMN-Id", _PLMN)],
         {"imsi": [(0, 1)]}),
    ]


class Sy(_Pair):
    """Sy (3GPP TS 29.219): Spending-Limit then Session-Termination."""
    name, apps = "sy", (16777302,)
    requests = [
        ("SLR", [A("Auth-Application-Id", 16777302), A("SL-Request-Type", 0),
                 A("Subscription-Id", None, A("Subscription-Id-Type", 1),
                   A("Subscription-Id-Data", "001010000000000"))],
         {"imsi": [(0, 443), (0, 444)]}),
        ("STR", [A("Auth-Application-Id", 16777302), A("Termination-Cause", 1)], {}),
    ]


class TestApp(_Pair):
    """freeDiameter's test_app Test-Request (application 16777215, Test-AVP echoed)."""
    name, apps = "test_app", (16777215,)
    requests = [("16777214", [{"code": 16777215, "vendor_id": 999999,
                               "flags": {"vendor": True, "mandatory": True},
                               "raw": "00000001"}], {})]


class Templates(Scenario):
    """Requests given as documents, sent in order per session; strings may use
    ``{session}`` (the Session-Id), ``{n}`` (session number) and ``{imsi}``."""
    name = "template"

    def __init__(self, docs: list[dict[str, Any]], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        import json
        self.texts = [json.dumps(d) for d in docs]
        self.per_session = len(docs)
        self.apps = tuple(sorted({int(complete_document(d)["header"].get("application_id", 0))
                                  for d in docs} - {0}))

    def next_request(self, s: Session) -> bytearray | None:
        import json

        from ._fill import fill_request
        if s.done or s.step >= len(self.texts):
            return None
        text = (self.texts[s.step].replace("{session}", s.sid.decode())
                .replace("{n}", str(s.n)).replace("{imsi}", _imsi(s.n).decode()))
        s.step += 1
        s.done = s.step >= len(self.texts)
        doc = complete_document(json.loads(text))
        fill_request(doc, self.origin_host, self.origin_realm, self.destination_realm,
                     s.sid.decode())
        return bytearray(dict_to_bytes(doc))


SCENARIOS: dict[str, type[Scenario]] = {c.name: c for c in (Gy, Gx, S6a, Sy, TestApp)}


def make_scenario(name: str, docs: list[dict[str, Any]] | None, *args: Any,
                  **kw: Any) -> Scenario:
    if docs:
        return Templates(docs, *args, **kw)
    return SCENARIOS[name](*args, **kw)


