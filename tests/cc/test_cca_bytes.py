"""The CCA encoder's bytes, AVP by AVP, against a plain reference encoding of the same
result (the encoder inlines its AVP headers and caches MSCCs by the identity of shared Units:
neither may change a byte)."""
from __future__ import annotations

import random
import struct

from diameter.cc import fastwire as fw
from diameter.cc.encode import CcaEncoder, units_group
from diameter.cc.types import CCRequest, CCResult, FinalUnit, FinalUnitAction, Grant, Money, RequestType, Units

ORIGIN_HOST, ORIGIN_REALM = b"ocs.example.net", b"example.net"


def reference(raw: bytes, req: CCRequest, res: CCResult) -> bytes:
    """The CCA as the AVP encoders of `fastwire` give it, one call per AVP, nothing cached."""
    def fui(f: FinalUnit) -> bytes:
        m = [fw.enc_u32(fw.FINAL_UNIT_ACTION, int(f.action))]
        m += [fw.enc_bytes(fw.RESTRICTION_FILTER_RULE, r) for r in f.restriction_filter_rules]
        m += [fw.enc_bytes(fw.FILTER_ID, x.encode()) for x in f.filter_ids]
        if f.redirect_server_address is not None:
            m.append(fw.enc_group(fw.REDIRECT_SERVER, fw.enc_u32(fw.REDIRECT_ADDRESS_TYPE, f.redirect_address_type or 0)
                                  + fw.enc_bytes(fw.REDIRECT_SERVER_ADDRESS, f.redirect_server_address.encode())))
        return fw.enc_group(fw.FUI, b"".join(m))

    def mscc(g: Grant) -> bytes:
        m = []
        if g.granted is not None:
            m.append(units_group(fw.GSU, g.granted))
        m += [fw.enc_u32(fw.SERVICE_IDENTIFIER, si) for si in g.service_identifiers]
        for code, v in ((fw.RATING_GROUP, g.rating_group), (fw.VALIDITY_TIME, g.validity_time),
                        (fw.RESULT_CODE, g.result_code)):
            if v is not None:
                m.append(fw.enc_u32(code, v))
        if g.final_unit is not None:
            m.append(fui(g.final_unit))
        for code, v in ((fw.TIME_QUOTA_THRESHOLD, g.time_quota_threshold),
                        (fw.VOLUME_QUOTA_THRESHOLD, g.volume_quota_threshold),
                        (fw.QUOTA_HOLDING_TIME, g.quota_holding_time)):
            if v is not None:
                m.append(fw.enc_vu32(code, v))
        if g.triggers:
            m.append(fw.enc_group(fw.TRIGGER, b"".join(fw.enc_vu32(fw.TRIGGER_TYPE, t) for t in g.triggers), fw.TGPP))
        return fw.enc_group(fw.MSCC, b"".join(m))

    parts = [fw.enc_bytes(fw.SESSION_ID, req.session_id.encode()), fw.enc_u32(fw.RESULT_CODE, res.result_code),
             fw.enc_bytes(fw.ORIGIN_HOST, ORIGIN_HOST), fw.enc_bytes(fw.ORIGIN_REALM, ORIGIN_REALM),
             fw.enc_u32(258, 4), fw.enc_u32(fw.CC_REQUEST_TYPE, int(req.request_type)),
             fw.enc_u32(fw.CC_REQUEST_NUMBER, req.request_number)]
    if res.cc_session_failover is not None:
        parts.append(fw.enc_u32(fw.CC_SESSION_FAILOVER, res.cc_session_failover))
    top_fu, vt = res.final_unit, res.validity_time
    if req.top_level_units:
        if res.grants:
            g = res.grants[0]
            if g.granted is not None:
                parts.append(units_group(fw.GSU, g.granted))
            top_fu = g.final_unit or top_fu
            vt = g.validity_time if g.validity_time is not None else vt
    else:
        parts += [mscc(g) for g in res.grants]
    if top_fu is not None:
        parts.append(fui(top_fu))
    if res.credit_control_failure_handling is not None:
        parts.append(fw.enc_u32(fw.CCFH_AVP, res.credit_control_failure_handling))
    if vt is not None:
        parts.append(fw.enc_u32(fw.VALIDITY_TIME, vt))
    if res.direct_debiting_failure_handling is not None:
        parts.append(fw.enc_u32(fw.DDFH_AVP, res.direct_debiting_failure_handling))
    if res.error_message:
        parts.append(fw.enc_bytes(281, res.error_message.encode()[:1000], mandatory=False))
    body = b"".join(parts)
    return struct.pack("!B3sB3sIII", 1, (len(body) + 20).to_bytes(3, "big"), raw[4] & 0x40, raw[5:8],
                       *struct.unpack_from("!III", raw, 8)) + body


def test_cca_bytes_equal_the_reference_encoding():
    rng = random.Random(6)
    shared = [Units(total_octets=10 << 20), Units(time=600), Units(total_octets=1), Units(service_specific=3),
              Units(money=Money(125, -2, 978))]
    fus = [None, FinalUnit(FinalUnitAction.TERMINATE),
           FinalUnit(FinalUnitAction.REDIRECT, 2, "http://top.up/", (), ()),
           FinalUnit(FinalUnitAction.RESTRICT_ACCESS, None, None, (b"permit out ip from any to 10.0.0.1",), ("f1",))]
    enc = CcaEncoder(ORIGIN_HOST, ORIGIN_REALM)
    seen = set()
    for i in range(3000):
        grants = [Grant(rng.choice([None, 1, 2, 2**32 - 1]), rng.sample([5, 6], rng.randrange(3)),
                        rng.choice(shared + [None, Units(total_octets=rng.randrange(1 << 30))]),
                        rng.choice([None, 2001, 4012]), rng.choice([None, 0, 600]), rng.choice([None, 30]),
                        rng.choice([None, 1 << 20]), rng.choice([None, 10]), rng.choice(fus),
                        rng.choice([[], [1], [1, 2]]))
                  for _ in range(rng.randrange(3))]
        res = CCResult(rng.choice([2001, 2001, 4012, 5030, 5031]), grants, rng.choice([None, 300]),
                       credit_control_failure_handling=rng.choice([None, 1]),
                       direct_debiting_failure_handling=rng.choice([None, 0]),
                       cc_session_failover=rng.choice([None, 1]), final_unit=rng.choice(fus),
                       error_message=rng.choice([None, "", "no credit", "é" * 600]))
        req = CCRequest(rng.choice(["s;1", "pgw.example;5;42", "é;x"]), rng.choice(list(RequestType)),
                        rng.choice([0, 7, 2**32 - 1]), top_level_units=rng.random() < 0.25, message=object())
        flags = rng.choice([0x80, 0xC0, 0xD0, 0x90, 0xE0])
        raw = (struct.pack("!I", 0x01000000 | 20) + bytes([flags]) + (272).to_bytes(3, "big")
               + struct.pack("!III", 4, rng.randrange(1 << 32), rng.randrange(1 << 32)))
        out = enc.encode(None, raw, req, res)
        assert out == reference(raw, req, res), i
        seen.add(out[4])
    assert seen == {0x00, 0x40}  # answers: R, E and T cleared, P kept


def test_one_shared_units_in_grants_that_differ_encodes_each_grant():
    enc = CcaEncoder(ORIGIN_HOST, ORIGIN_REALM)
    u = Units(total_octets=1 << 20)
    req = CCRequest("s;1", RequestType.UPDATE, 1, message=object())
    raw = bytes.fromhex("01000014c000011000000004") + bytes(8)
    for vt in (600, 601, None, 600):
        res = CCResult(2001, [Grant(1, [], u, 2001, vt)])
        assert enc.encode(None, raw, req, res) == reference(raw, req, res)


def test_cca_takes_the_request_type_as_enum_or_int():
    """`fastwire.cca` finds the CC-Request-Type AVP by the request's type, an enum member or
    a plain int alike, and encodes one it has not made before."""
    enc = CcaEncoder(ORIGIN_HOST, ORIGIN_REALM)
    raw = struct.pack("!I", 0x01000000 | 20) + bytes([0xC0]) + (272).to_bytes(3, "big") + struct.pack("!III", 4, 9, 8)
    for rt in RequestType:
        by_enum = CCRequest("s;1", rt, 3, message=object())
        by_int = CCRequest("s;1", int(rt), 3, message=object())  # type: ignore[arg-type]
        out = fw.cca(raw, by_enum, 2001, enc.static, b"")
        assert out == fw.cca(raw, by_int, 2001, enc.static, b"") == reference(raw, by_enum, CCResult(2001))
    odd = fw.cca(raw, CCRequest("s;1", 7, 3, message=object()), 2001, enc.static, b"")  # type: ignore[arg-type]
    assert fw.enc_u32(fw.CC_REQUEST_TYPE, 7) in odd and len(odd) == len(out)
