"""The CCR reader's two ways (``ccr_walk.walk``, byte indexing, what compiled builds run;
``fastwire.ccr_request``, through ``scan``, what the source runs) read every CCR alike:
the same request, every slot of it, and for malformed bytes the same error, message included
(the server answers it as the Error-Message of its 5004)."""
from __future__ import annotations

SCENARIO = r"""
import json, random, struct
from diameter.cc import Money, Units, ccr_walk, fastwire
from diameter.cc.types import _UNSET, CCRequest
from diameter.cc.wire import Usage, build_ccr
from diameter.message import Message

rng = random.Random(8)


def units():
    return Units(rng.choice([None, 0, 60]), rng.choice([None, 1 << 20, 2**40]), rng.choice([None, 5]),
                 rng.choice([None, 7]), rng.choice([None, 1]), rng.choice([None, None, Money(1234, -2, 978)]))


def avp(code, payload, vendor=0):
    pad = b"\0" * (-len(payload) & 3)
    if vendor:
        return struct.pack("!III", code, (0xC0 << 24) | (12 + len(payload)), vendor) + payload + pad
    return struct.pack("!II", code, (0x40 << 24) | (8 + len(payload))) + payload + pad


def extras():
    # AVPs the reader must skip or take as the source does: vendor copies of base codes,
    # odd lengths, repeated ones, triggers, 8-byte integers, a 3GPP Reporting-Reason
    pool = [avp(416, struct.pack("!I", 2), 10415), avp(263, b"vendor;sid", 9), avp(1, b"user@x"),
            avp(436, struct.pack("!i", -1)), avp(258, struct.pack("!Q", 4)), avp(415, struct.pack("!Q", 2**40)),
            avp(461, b"ext.01.001.8.32260@3gpp.org"), avp(439, struct.pack("!I", 7)),
            avp(443, avp(444, b"\xff\xfe") + avp(450, struct.pack("!i", 3))), avp(443, avp(450, b"\0\0\0\1")),
            avp(456, avp(432, struct.pack("!Q", 9)) + avp(1264, avp(870, struct.pack("!I", 1), 10415)
                                                        + avp(870, b"\0\0\0\2", 10415), 10415)
                + avp(872, struct.pack("!I", 2), 10415) + avp(439, b"\0\0\0\5")
                + avp(446, avp(421, struct.pack("!Q", 100)) + avp(872, b"\0\0\0\3", 10415))),
            avp(437, avp(420, b"\0\0\0\x3c")), avp(446, avp(421, struct.pack("!Q", 5))),
            avp(416, struct.pack("!I", 9)), avp(415, b"\0\0\0"), avp(432, b"\0\0\0\1"), avp(999, b"x")]
    return b"".join(rng.sample(pool, rng.randrange(4)))


def ccr(i):
    usages = [Usage(rng.choice([None, 1, 2**32 - 1]), rng.sample([1, 2, 3], rng.randrange(3)),
                    units() if rng.random() < 0.7 else None, units() if rng.random() < 0.7 else None,
                    rng.choice([None, 0, 2]))
              for _ in range(rng.randrange(3))]
    raw = build_ccr(session_id=f"s;{i}", request_type=rng.choice([1, 2, 3, 4]), request_number=rng.randrange(9),
                    origin_host="h.example.net", origin_realm="example.net", destination_realm="example.net",
                    destination_host=None, service_context_id=rng.choice(["32251@3gpp.org", "x"]),
                    subscription_ids=[(rng.randrange(5), f"49{i}")] * rng.randrange(3), usages=usages,
                    requested_action=rng.choice([None, 0, 2]), user_name=rng.choice([None, "u@x"]),
                    top_level=rng.random() < 0.3, retransmit=rng.random() < 0.2).as_bytes()
    if rng.random() < 0.5:
        body = raw[20:] + extras()
        raw = raw[:1] + (20 + len(body)).to_bytes(3, "big") + raw[4:20] + body
    return raw


def mutate(raw):
    b = bytearray(raw)
    how = rng.randrange(4)
    if how == 0:  # a flipped byte
        i = rng.randrange(20, len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif how == 1:  # cut short
        b = b[:rng.randrange(20, len(b))]
    elif how == 2:  # an AVP length field changed
        i = rng.randrange(20, len(b) - 8)
        b[i + 5:i + 8] = rng.randrange(1 << 12).to_bytes(3, "big")
    else:  # junk appended
        b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 13)))
    return bytes(b)


def slots(req):
    out = {}
    for name in CCRequest.__slots__:
        v = getattr(req, name)  # AttributeError: a slot left unset
        out[name] = "<unset>" if v is _UNSET else (v if name != "message" else v is not None)
    return repr(sorted(out.items()))


def read(fn, msg, raw):
    try:
        return slots(fn(msg, raw, "", "3gpp"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


results = []
for i in range(1500):
    raw = ccr(i)
    if i % 3:
        raw = mutate(raw)
    msg = Message.from_bytes(raw) if i % 5 == 0 and i % 3 == 0 else None
    walked, scanned = read(ccr_walk.walk, msg, raw), read(fastwire.ccr_request, msg, raw)
    assert walked == scanned, (raw.hex(), walked, scanned)
    results.append(walked)
errors = sorted({r.split(":")[0] for r in results if not r.startswith("[")})
print(json.dumps([ccr_walk.__file__.endswith(".py"), ccr_walk.COMPILED, errors, results]))
"""


def test_the_walk_reads_every_ccr_as_the_scan_does(run_scenario):
    source, running = run_scenario(SCENARIO, True), run_scenario(SCENARIO, False)
    assert source[0] is True and source[1] is False  # the walk ran interpreted there
    # malformed input of every kind was met, and read alike
    assert source[2] == ["AvpDecodeError", "ValueError"]
    assert sum(r.startswith("[") for r in source[3]) > 500  # and many well-formed requests
    assert running[3] == source[3]


def test_a_compiled_build_reads_through_the_walk():
    from diameter.cc import ccr_walk, server, wire

    assert ccr_walk.COMPILED is (not ccr_walk.__file__.endswith(".py"))
    assert server._ccr_request is wire.ccr_request is ccr_walk.ccr_request


TEXTS = r"""
import json, struct
from diameter.cc import ccr_walk, fastwire
from diameter.cc.wire import build_ccr


def avp(code, payload):
    return struct.pack("!II", code, (0x40 << 24) | (8 + len(payload))) + payload + b"\0" * (-len(payload) & 3)


base = build_ccr(session_id="s;1", request_type=1, request_number=0, origin_host="h.example.net",
                 origin_realm="example.net", destination_realm="example.net", destination_host=None,
                 service_context_id=None, subscription_ids=[], usages=[]).as_bytes()
bad = [b"\xff", b"a\xc3(b", b"\xe2\x28\xa1", b"\xf0\x28\x8c\x28", b"ok\x80", "caf\u00e9".encode(), b"plain"]
out = []
for i, junk in enumerate(bad):
    # every text AVP the reader decodes: Session-Id, Origin-Host/-Realm, Service-Context-Id,
    # User-Name, Subscription-Id-Data (the message's own ones dropped, these put first)
    body = (avp(263, b"s;" + junk) + avp(264, junk) + avp(296, junk + b".net") + avp(461, junk)
            + avp(1, b"u" + junk) + avp(443, avp(450, struct.pack("!i", 0)) + avp(444, junk)))
    kept = b""
    p = 20
    while p < len(base):
        code, flags_len = struct.unpack_from("!II", base, p)
        n = flags_len & 0xFFFFFF
        if code not in (263, 264, 296, 461, 1, 443):
            kept += base[p:p + ((n + 3) & ~3)]
        p += (n + 3) & ~3
    body += kept
    raw = base[:1] + (20 + len(body)).to_bytes(3, "big") + base[4:20] + body
    reqs = [fn(None, raw, "", "3gpp") for fn in (ccr_walk.walk, fastwire.ccr_request)]
    out.append([[r.session_id, r.origin_host, r.origin_realm, r.service_context_id, r.user_name,
                 r.subscription_ids] for r in reqs])
print(json.dumps([ccr_walk.COMPILED, out]))
"""


def test_text_avps_decode_alike_whatever_their_bytes(run_scenario):
    """Invalid UTF-8 in any text AVP reads as ``decode("utf-8", "replace")`` gives it, in
    both readers, compiled and from source (the walk decodes strictly first)."""
    source, running = run_scenario(TEXTS, True), run_scenario(TEXTS, False)
    assert source[0] is False
    assert running[1] == source[1]
    for walked, scanned in source[1]:
        assert walked == scanned
    first = source[1][0][0]
    assert first[0] == "s;\ufffd" and first[1] == "\ufffd" and first[5] == [[0, "\ufffd"]]
    assert source[1][5][0][1] == "caf\u00e9"
