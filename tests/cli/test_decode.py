"""``diameter decode`` on real captures: tshark -i lo traffic between our nodes and freeDiameter."""
from __future__ import annotations

import base64

import pytest

from diameter.demo import build_ccr
from diameter.jsonview import dict_to_bytes

from .compare import compare
from .conftest import invoke, run_cli, run_json
from .pcapgen import write_sctp, write_tcp
from .tshark_pdml import dissect

pytestmark = pytest.mark.interop


def _port_args(cap) -> list[str]:
    return [x for p in cap.ports for x in ("-p", str(p))]


def _decode_as(cap, proto: str = "tcp") -> list[str]:
    return [f"{proto}.port=={p},diameter" for p in cap.ports]


def test_every_message_agrees_with_tshark(gy_capture):
    records = run_json("decode", str(gy_capture.path), *_port_args(gy_capture), "--json")
    problems, stats = compare(records, dissect(gy_capture.path, _decode_as(gy_capture)))
    assert problems == []
    # CER/CEA, CCR/CCA I/U/T/E on both hops, freeDiameter's own 3002, DPR/DPA
    assert stats["messages"] == len(records) >= 28
    assert stats["latencies"] == stats["messages"] // 2
    # Huawei DCC AVPs: tshark shows "Unknown", we decode them by name
    assert stats["named_only_by_us"] >= 4 and stats["values"] > 150
    names = {a["name"] for r in records for a in _walk(r["message"]["avps"])}
    assert {"IN-Information", "Account-Query-Method", "Balance-Info",
            "Account-Change-Info"} <= names


def _walk(avps):
    for a in avps:
        yield a
        yield from _walk(a.get("avps", []))


def _messages(records):
    return [dict_to_bytes(r["message"]) for r in records]


def _flows(records):
    return [((r["src"], r["sport"], r["dst"], r["dport"]), r["time"],
             dict_to_bytes(r["message"])) for r in records]


@pytest.mark.parametrize("mode,link,v6", [("split", "eth", False), ("coalesce", "sll", False),
                                          ("split", "sll2", True), ("coalesce", "eth", True)])
def test_reassembly_finds_the_same_messages(gy_capture, tmp_path, mode, link, v6):
    """Segments split / out of order / retransmitted, several messages per segment,
    Linux cooked captures, IPv6: the same messages, and tshark agrees."""
    records = run_json("decode", str(gy_capture.path), *_port_args(gy_capture), "--json")
    path = tmp_path / f"{mode}-{link}.pcap"
    retrans = write_tcp(path, _flows(records), mode=mode, link=link, v6=v6)
    again = run_json("decode", str(path), *_port_args(gy_capture), "--json")
    assert _messages(again) == _messages(records)
    stats = run_json("decode", str(path), *_port_args(gy_capture), "--stats", "--json")
    assert stats["capture"]["tcp_retransmissions"] == retrans
    assert stats["capture"]["skipped_bytes"] == 0
    if mode == "split":  # tshark reassembles the same
        problems, _ = compare(again, dissect(path, _decode_as(gy_capture)))
        assert [p for p in problems if "latency" not in p] == []


def test_sctp_data_chunks(gy_capture, tmp_path):
    records = run_json("decode", str(gy_capture.path), *_port_args(gy_capture), "--json")
    path = tmp_path / "sctp.pcap"
    write_sctp(path, _flows(records))
    again = run_json("decode", str(path), *_port_args(gy_capture), "--json")
    assert _messages(again) == _messages(records)
    assert all(r["transport"] == "sctp" for r in again)
    problems, _ = compare(again, dissect(path, _decode_as(gy_capture, "sctp")))
    assert problems == []


def test_any_port_and_wrong_port(gy_capture):
    every = run_json("decode", str(gy_capture.path), "--any-port", "--json")
    assert len(every) == len(run_json("decode", str(gy_capture.path),
                                      *_port_args(gy_capture), "--json"))
    none = run_cli("decode", str(gy_capture.path))  # default port 3868: nothing there
    assert none.returncode == 1 and b"no Diameter message found" in none.stderr


def test_tree_output_names_vendors_flags_enums(gy_capture):
    out = run_cli("decode", str(gy_capture.path), *_port_args(gy_capture), "-s", "*huawei",
                  "-c", "CCA", check=True).stdout.decode()
    assert out.count("Diameter Protocol (CCA-E)") == 2  # both hops
    assert "\x1b[" not in out  # no colour when not on a terminal
    assert "AVP: CC-Request-Type(416) l=12 f=-M- val=EVENT_REQUEST (4)" in out
    assert "AVP: IN-Information(20300) l=80 f=V-- vnd=Huawei" in out
    assert "        AVP: Balance-Info(60001)" in out  # nested under IN-Information
    assert "Response time:" in out


def test_filters(gy_capture):
    base = [str(gy_capture.path), *_port_args(gy_capture)]
    gy = run_json("decode", *base, "--json", "-a", "gy")
    assert gy and all(r["message"]["header"]["application_id"] == 4 for r in gy)
    r4012 = run_json("decode", *base, "--json", "-r", "4012")
    assert len(r4012) == 2 and all("poor" in _sid(r) for r in r4012)
    by_host = run_json("decode", *base, "--json", "-o", "relay.relay.test")
    assert [_rc(r) for r in by_host if r["message"]["header"]["command_code"] == 272] == [3002]
    ccri = run_json("decode", *base, "--json", "-c", "ccr-i")
    assert {_sid(r) for r in ccri} == {"client.c.test;1;gy", "client.c.test;3;poor",
                                       "client.c.test;4;lost"}
    nothing = invoke("decode", *base, "-c", "ULR")
    assert nothing.returncode == 1 and b"no Diameter message matched" in nothing.stderr


def _sid(r):
    return next(a["value"] for a in r["message"]["avps"] if a["code"] == 263)


def _rc(r):
    return next(a["value"] for a in r["message"]["avps"] if a["code"] == 268)


def test_stats(gy_capture, tmp_path):
    base = [str(gy_capture.path), *_port_args(gy_capture)]
    s = run_json("decode", *base, "--stats", "--json")
    assert s["requests"]["Credit-Control"] == s["answers"]["Credit-Control"] == 11
    assert s["result_codes_by_command"]["Credit-Control"] == {"2001": 8, "3002": 1, "4012": 2}
    for key in ("CCR-I", "CCR-U", "CCR-T", "CCR-E", "Credit-Control 4012"):
        lat = s["latency_ms"][key]
        assert lat["count"] >= 1 and 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"]
    assert s["unanswered"] == {} and s["retransmissions"] == {}
    # drop the last answer (a DPA) and repeat a CCR with the T flag: both are reported
    records = run_json("decode", *base, "--json")
    flows = _flows(records)[:-1]
    i, ccr = next((i, r) for i, r in enumerate(records)
                  if r["message"]["header"]["command_code"] == 272
                  and r["message"]["header"]["flags"]["request"])
    ccr["message"]["header"]["flags"]["retransmit"] = True
    flows.insert(i + 1, _flows([ccr])[0])
    cut = flows
    path = tmp_path / "lossy.pcap"
    write_tcp(path, cut, mode="coalesce")
    s2 = run_json("decode", str(path), *_port_args(gy_capture), "--stats", "--json")
    assert s2["retransmissions"] == {"Credit-Control": 1}
    assert s2["unanswered"] == {"Disconnect-Peer": 1}
    text = run_cli("decode", str(path), *_port_args(gy_capture), "--stats", check=True)
    assert b"Unanswered requests" in text.stdout and b"p99" in text.stdout


def test_sessions_timeline(gy_capture):
    base = [str(gy_capture.path), *_port_args(gy_capture)]
    sessions = run_json("decode", *base, "--sessions", "--json")
    gy = next(s for s in sessions if s["session_id"] == "client.c.test;1;gy")
    assert gy["flow"] == "CCR-I -> CCR-I -> CCR-U -> CCR-U -> CCR-T -> CCR-T"
    cca_u = next(e for e in gy["events"] if e["message"] == "CCA-U")
    rg10 = next(u for u in cca_u["mscc"] if u["rating_group"] == 10)
    assert rg10 == {"rating_group": 10, "granted": {"total": 1048576}, "validity_time": 600,
                    "final_unit_action": "TERMINATE", "result_code": 2001}
    ccr_u = next(e for e in gy["events"] if e["message"] == "CCR-U")
    assert ccr_u["mscc"][0]["used"] == {"total": 524288, "input": 262144, "output": 262144}
    assert ccr_u["mscc"][1] == {"rating_group": 20, "used": {"time": 120}}
    text = run_cli("decode", *base, "--sessions", check=True).stdout.decode()
    assert "Session client.c.test;3;poor" in text and "result=4012" in text
    assert "RG 10, granted total=1048576, validity 600s, FUI TERMINATE, result=2001" in text


def test_hex_base64_files_and_stdin(tmp_path):
    wire = build_ccr().as_bytes()
    spaced = " ".join(f"{b:02x}" for b in wire)
    colons = ":".join(f"{b:02X}" for b in wire)
    prefixed = " ".join(f"0x{b:02x}" for b in wire)
    for text in (wire.hex(), spaced, colons, prefixed, base64.b64encode(wire).decode()):
        out = invoke("decode", text).stdout
        assert b"AVP: Subscription-Id-Data(444)" in out
    (tmp_path / "m.hex").write_text(spaced + "\n")
    (tmp_path / "m.bin").write_bytes(wire + wire)  # two messages back to back
    assert invoke("decode", str(tmp_path / "m.hex")).stdout.count(b"CCR-U") == 1
    assert invoke("decode", str(tmp_path / "m.bin")).stdout.count(b"(CCR-U)") == 2
    assert b"Session-Id" in run_cli("decode", "-", input=colons.encode(), check=True).stdout
    # unquoted hex words are joined
    assert invoke("decode", *spaced.split()).returncode == 0


def test_bad_input_is_a_clear_error(tmp_path):
    missing = run_cli("decode", str(tmp_path / "nope.pcap"))
    assert missing.returncode == 1 and b"neither hex, base64 nor a readable file" in missing.stderr
    short = invoke("decode", "0x01:00:00:1c:00")
    assert short.returncode == 1 and b"not a valid Diameter message" in short.stderr
    (tmp_path / "trunc.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(10))
    trunc = invoke("decode", str(tmp_path / "trunc.pcap"))
    assert trunc.returncode == 1
    usage = invoke("decode")
    assert usage.returncode == 2
