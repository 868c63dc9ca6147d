"""Rewrite a capture's Diameter messages into harder captures (dpkt writer).

Same messages, other framings: segments split, reordered and retransmitted;
several messages per segment; Linux cooked (SLL/SLL2) link layers; IPv6;
SCTP DATA chunks (with a retransmitted chunk). The decoder must find exactly
the same messages in each.
"""
from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import dpkt

Flow = tuple[str, int, str, int]


def _ip(src: str, dst: str, proto: int, payload: dpkt.Packet, v6: bool) -> dpkt.Packet:
    if v6:
        s = socket.inet_pton(socket.AF_INET6, "::ffff:" + src if ":" not in src else src)
        d = socket.inet_pton(socket.AF_INET6, "::ffff:" + dst if ":" not in dst else dst)
        s, d = (ipaddress.IPv6Address(b"\x20\x01\x0d\xb8" + x[4:]).packed for x in (s, d))
        ip6 = dpkt.ip6.IP6(src=s, dst=d, nxt=proto, hlim=64, data=payload)
        ip6.plen = len(bytes(payload))
        return ip6
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64,
                    data=payload)
    ip.len = len(bytes(ip))
    return ip


def _frame(ip: dpkt.Packet, link: str, v6: bool) -> bytes:
    etype = 0x86DD if v6 else 0x0800
    raw = bytes(ip)
    if link == "eth":
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=etype,
                                            data=raw))
    if link == "sll":  # Linux cooked v1: 16 bytes
        return (0).to_bytes(2, "big") + (772).to_bytes(2, "big") + (6).to_bytes(2, "big") + \
            bytes(8) + etype.to_bytes(2, "big") + raw
    if link == "sll2":  # Linux cooked v2: 20 bytes
        return etype.to_bytes(2, "big") + bytes(2) + (1).to_bytes(4, "big") + \
            (772).to_bytes(2, "big") + b"\x00\x06" + bytes(8) + raw
    raise ValueError(link)


LINKTYPES = {"eth": dpkt.pcap.DLT_EN10MB, "sll": dpkt.pcap.DLT_LINUX_SLL,
             "sll2": dpkt.pcap.DLT_LINUX_SLL2}


def write_tcp(path: Path, messages: list[tuple[Flow, float, bytes]], *, mode: str,
              link: str = "eth", v6: bool = False) -> int:
    """Write messages as TCP; returns the number of retransmitted segments written.

    mode "split": each message in 3 segments sent 2,1,2(again),3;
    mode "coalesce": runs of same-direction messages glued and cut at odd sizes.
    """
    seqs: dict[Flow, int] = {}
    retrans = 0
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=LINKTYPES[link], nano=False)

        def seg(flow: Flow, ts: float, seq: int, data: bytes, syn: bool = False) -> None:
            back = (flow[2], flow[3], flow[0], flow[1])
            tcp = dpkt.tcp.TCP(sport=flow[1], dport=flow[3], seq=seq & 0xFFFFFFFF,
                               ack=seqs.get(back, 0) & 0xFFFFFFFF,
                               win=65535, data=data,
                               flags=(dpkt.tcp.TH_SYN | (dpkt.tcp.TH_ACK if back in seqs else 0))
                               if syn else dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH)
            w.writepkt(_frame(_ip(flow[0], flow[2], dpkt.ip.IP_PROTO_TCP, tcp, v6), link, v6), ts=ts)

        def start(flow: Flow, ts: float) -> int:
            if flow not in seqs:
                isn = 0xFFFFFF00 if len(seqs) % 2 else 1000  # one flow wraps around 2**32
                seg(flow, ts - 0.0001, isn, b"", syn=True)
                seqs[flow] = isn + 1
            return seqs[flow]

        if mode == "split":
            for flow, ts, msg in messages:
                seq = start(flow, ts)
                a, b = len(msg) // 3, 2 * len(msg) // 3
                parts = [(seq, msg[:a]), (seq + a, msg[a:b]), (seq + b, msg[b:])]
                for s, data in (parts[1], parts[0], parts[1], parts[2]):
                    seg(flow, ts, s, data)
                retrans += 1
                seqs[flow] = seq + len(msg)
        elif mode == "coalesce":
            sizes = [7, 150, 61, 2000]
            i = 0
            run: list[tuple[Flow, float, bytes]] = []
            for item in [*messages, None]:
                if run and (item is None or item[0] != run[0][0]):
                    flow, ts = run[0][0], run[-1][1]
                    seq = start(flow, run[0][1])
                    buf = b"".join(m for _, _, m in run)
                    off = 0
                    while off < len(buf):
                        n = sizes[i % len(sizes)]
                        i += 1
                        seg(flow, ts, seq + off, buf[off:off + n])
                        off += n
                    seqs[flow] = seq + len(buf)
                    run = []
                if item is not None:
                    run.append(item)
        else:
            raise ValueError(mode)
    return retrans


def write_sctp(path: Path, messages: list[tuple[Flow, float, bytes]]) -> None:
    """Each message in a DATA chunk (PPID 46); the second chunk of each flow sent twice."""
    tsns: dict[Flow, int] = {}
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        for flow, ts, msg in messages:
            tsn = tsns.get(flow, 100)
            tsns[flow] = tsn + 1
            body = tsn.to_bytes(4, "big") + b"\x00\x00" + (tsn - 100).to_bytes(2, "big") + \
                (46).to_bytes(4, "big") + msg
            chunk = bytes([dpkt.sctp.DATA, 0x03]) + (4 + len(body)).to_bytes(2, "big") + body
            chunk += b"\x00" * (-len(chunk) & 3)
            head = flow[1].to_bytes(2, "big") + flow[3].to_bytes(2, "big") + (1).to_bytes(4, "big")
            crc = dpkt.crc32c.cksum(head + bytes(4) + chunk)
            sctp = dpkt.sctp.SCTP(head + crc.to_bytes(4, "little") + chunk)
            frame = _frame(_ip(flow[0], flow[2], dpkt.ip.IP_PROTO_SCTP, sctp, False), "eth", False)
            for _ in range(2 if tsn == 101 else 1):
                w.writepkt(frame, ts=ts)
