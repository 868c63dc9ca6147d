"""Diameter messages out of pcap / pcapng captures (read with dpkt).

:func:`read_capture` yields one :class:`CapturedMessage` per Diameter message:
TCP streams are reassembled per direction (several messages in one segment,
one message over several segments, retransmitted and out-of-order segments),
SCTP DATA chunks are taken per stream (fragments joined, retransmitted TSNs
dropped). Link layers: Ethernet (with VLAN tags), Linux cooked v1/v2, BSD
loopback, raw IPv4/IPv6. What could not be used is counted in
:class:`CaptureCounters`, never raised.
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

try:
    import dpkt
except ImportError:  # reading captures needs the cli extra; hex/base64/raw input does not
    dpkt = None

__all__ = ["CapturedMessage", "CaptureCounters", "CaptureError", "read_capture",
           "messages_from_stream_bytes", "DEFAULT_PORTS"]

DEFAULT_PORTS = frozenset({3868})
MAX_MESSAGE = 16 * 1024 * 1024
MAX_PENDING = 4 * 1024 * 1024  # out-of-order bytes held per stream before skipping a gap
PPID_DIAMETER = 46
_ETH_IP4, _ETH_IP6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8


class CaptureError(Exception):
    """The file is not a pcap / pcapng capture dpkt can read."""


@dataclass
class CapturedMessage:
    """One Diameter message found in a capture."""
    frame: int  # 1-based number of the frame that completed the message
    time: float  # that frame's timestamp (seconds since the epoch)
    src: str
    sport: int
    dst: str
    dport: int
    transport: str  # "tcp" or "sctp"
    data: bytes

    @property
    def flow(self) -> tuple[str, int, str, int]:
        return (self.src, self.sport, self.dst, self.dport)


@dataclass
class CaptureCounters:
    """What the reader met besides messages."""
    frames: int = 0
    diameter_frames: int = 0
    tcp_retransmissions: int = 0
    tcp_out_of_order: int = 0
    tcp_gaps: int = 0
    sctp_duplicates: int = 0
    skipped_bytes: int = 0
    ip_fragments: int = 0
    unsupported_link: int = 0
    notes: list[str] = field(default_factory=list)


def _plausible(buf: bytes | bytearray, off: int = 0) -> int:
    """The message length if a Diameter header starts at ``off``, else 0."""
    if buf[off] != 1 or buf[off + 4] & 0x0F:
        return 0
    length = int.from_bytes(buf[off + 1:off + 4], "big")
    if length < 20 or length % 4 or length > MAX_MESSAGE:
        return 0
    return length


def messages_from_stream_bytes(buf: bytearray, counters: CaptureCounters) -> list[bytes]:
    """Cut complete messages off the front of ``buf`` (resynchronising on garbage)."""
    out: list[bytes] = []
    while len(buf) >= 20:
        length = _plausible(buf)
        if not length:
            skip = 1
            while skip <= len(buf) - 20 and not _plausible(buf, skip):
                skip += 1
            counters.skipped_bytes += skip
            del buf[:skip]
            continue
        if len(buf) < length:
            break
        out.append(bytes(buf[:length]))
        del buf[:length]
    return out


class _TcpStream:
    """One direction of a TCP connection, reassembled in sequence order."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "buf", "dead")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.buf = bytearray()
        self.dead = False

    def feed(self, seq: int, data: bytes, syn: bool, counters: CaptureCounters) -> bool:
        """Add a segment; True when new in-order bytes reached ``buf``."""
        if syn:
            self.next_seq = (seq + 1) & 0xFFFFFFFF
        if not data:
            return False
        if self.next_seq is None:
            self.next_seq = seq
        diff = ((seq - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if diff + len(data) <= 0:
            counters.tcp_retransmissions += 1
            return False
        if diff > 0:
            if seq not in self.pending:
                counters.tcp_out_of_order += 1
                self.pending[seq] = data
                self.pending_bytes += len(data)
            if self.pending_bytes > MAX_PENDING:
                self._skip_gap(counters)
                return True
            return False
        if diff < 0:
            counters.tcp_retransmissions += 1
            data = data[-diff:]
        self._append(data)
        self._drain(counters)
        return True

    def _append(self, data: bytes) -> None:
        self.buf += data
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF

    def _drain(self, counters: CaptureCounters) -> None:
        progressed = True
        while self.pending and progressed:
            progressed = False
            for seq in list(self.pending):
                assert self.next_seq is not None
                diff = ((seq - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                if diff > 0:
                    continue
                data = self.pending.pop(seq)
                self.pending_bytes -= len(data)
                if diff + len(data) > 0:
                    self._append(data[-diff:] if diff < 0 else data)
                    progressed = True

    def _skip_gap(self, counters: CaptureCounters) -> None:
        """A segment was lost: drop the partial message and continue after the gap."""
        assert self.next_seq is not None
        base = self.next_seq
        first = min(self.pending, key=lambda s: (s - base) & 0xFFFFFFFF)
        counters.tcp_gaps += 1
        counters.skipped_bytes += len(self.buf)
        self.buf.clear()
        self.next_seq = first
        self._drain(counters)


def _ip_payload(linktype: int, buf: bytes) -> bytes | None:
    """The IP packet inside a link-layer frame (None when not IP)."""
    if linktype == dpkt.pcap.DLT_EN10MB:
        off, ethertype = 14, int.from_bytes(buf[12:14], "big")
        while ethertype in (_ETH_VLAN, _ETH_QINQ) and len(buf) >= off + 4:
            ethertype = int.from_bytes(buf[off + 2:off + 4], "big")
            off += 4
        return buf[off:] if ethertype in (_ETH_IP4, _ETH_IP6) else None
    if linktype == dpkt.pcap.DLT_LINUX_SLL:
        return buf[16:] if int.from_bytes(buf[14:16], "big") in (_ETH_IP4, _ETH_IP6) else None
    if linktype == dpkt.pcap.DLT_LINUX_SLL2:
        return buf[20:] if int.from_bytes(buf[0:2], "big") in (_ETH_IP4, _ETH_IP6) else None
    if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return buf[4:]
    if linktype in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):
        return buf
    return None


def _open_reader(f: BinaryIO) -> Iterator[tuple[float, bytes]] | None:
    magic = f.read(4)
    f.seek(0)
    try:
        if magic == b"\x0a\x0d\x0d\x0a":
            return dpkt.pcapng.Reader(f)  # type: ignore[no-any-return]
        return dpkt.pcap.Reader(f)  # type: ignore[no-any-return]
    except (ValueError, dpkt.dpkt.Error, struct.error) as e:
        raise CaptureError(f"not a pcap or pcapng capture: {e}") from None


class _Reassembler:
    def __init__(self, ports: Iterable[int] | None, counters: CaptureCounters) -> None:
        self.ports = None if ports is None else frozenset(ports)
        self.counters = counters
        self.tcp: dict[tuple[str, int, str, int], _TcpStream] = {}
        self.sctp_tsns: dict[tuple[str, int, str, int], set[int]] = {}
        self.sctp_frag: dict[tuple[str, int, str, int, int], bytearray] = {}

    def _wanted(self, sport: int, dport: int) -> bool:
        return self.ports is None or sport in self.ports or dport in self.ports

    def packet(self, frame: int, ts: float, ip_bytes: bytes) -> list[CapturedMessage]:
        version = ip_bytes[0] >> 4 if ip_bytes else 0
        if version == 4 and len(ip_bytes) >= 40 and ip_bytes[9] == 6:
            return self._ipv4_tcp(frame, ts, ip_bytes)
        try:
            if version == 4:
                ip4 = dpkt.ip.IP(ip_bytes)
                if ip4.mf or ip4.offset:
                    self.counters.ip_fragments += 1
                    return []
                src, dst = socket.inet_ntop(socket.AF_INET, ip4.src), socket.inet_ntop(
                    socket.AF_INET, ip4.dst)
                proto, payload = ip4.p, ip4.data
            elif version == 6:
                ip6 = dpkt.ip6.IP6(ip_bytes)
                src, dst = socket.inet_ntop(socket.AF_INET6, ip6.src), socket.inet_ntop(
                    socket.AF_INET6, ip6.dst)
                proto, payload = ip6.p, ip6.data
            else:
                return []
        except (dpkt.dpkt.Error, struct.error, ValueError, IndexError):
            return []
        if proto == dpkt.ip.IP_PROTO_TCP and isinstance(payload, dpkt.tcp.TCP):
            return self._tcp(frame, ts, src, dst, payload)
        if proto == dpkt.ip.IP_PROTO_SCTP and isinstance(payload, dpkt.sctp.SCTP):
            return self._sctp(frame, ts, src, dst, payload)
        return []

    def _ipv4_tcp(self, frame: int, ts: float, ip: bytes) -> list[CapturedMessage]:
        """IPv4 + TCP read by hand: the common case, several times faster than objects."""
        ihl = (ip[0] & 0x0F) * 4
        if int.from_bytes(ip[6:8], "big") & 0x3FFF:  # MF flag or a fragment offset
            self.counters.ip_fragments += 1
            return []
        total = min(int.from_bytes(ip[2:4], "big") or len(ip), len(ip))
        t = ip[ihl:total]
        if len(t) < 20:
            return []
        sport, dport = int.from_bytes(t[0:2], "big"), int.from_bytes(t[2:4], "big")
        if not self._wanted(sport, dport):
            return []
        seq = int.from_bytes(t[4:8], "big")
        off = (t[12] >> 4) * 4
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
        return self._segment(frame, ts, src, sport, dst, dport, seq, t[13], t[off:])

    def _tcp(self, frame: int, ts: float, src: str, dst: str, tcp: dpkt.tcp.TCP
             ) -> list[CapturedMessage]:
        if not self._wanted(tcp.sport, tcp.dport):
            return []
        return self._segment(frame, ts, src, tcp.sport, dst, tcp.dport, tcp.seq, tcp.flags,
                             bytes(tcp.data))

    def _segment(self, frame: int, ts: float, src: str, sport: int, dst: str, dport: int,
                 seq: int, flags: int, data: bytes) -> list[CapturedMessage]:
        key = (src, sport, dst, dport)
        stream = self.tcp.get(key)
        syn = bool(flags & 0x02)
        if stream is None or syn and stream.next_seq != (seq + 1) & 0xFFFFFFFF:
            stream = self.tcp[key] = _TcpStream()
        if not stream.feed(seq, data, syn, self.counters):
            return []
        out = [CapturedMessage(frame, ts, src, sport, dst, dport, "tcp", m)
               for m in messages_from_stream_bytes(stream.buf, self.counters)]
        if out:
            self.counters.diameter_frames += 1
        if flags & 0x05:  # FIN or RST
            self.tcp.pop(key, None)
        return out

    def _sctp(self, frame: int, ts: float, src: str, dst: str, sctp: dpkt.sctp.SCTP
              ) -> list[CapturedMessage]:
        if not self._wanted(sctp.sport, sctp.dport):
            return []
        key = (src, sctp.sport, dst, sctp.dport)
        seen = self.sctp_tsns.setdefault(key, set())
        out: list[CapturedMessage] = []
        for chunk in sctp.chunks:
            if chunk.type != dpkt.sctp.DATA or len(chunk.data) < 12:
                continue
            tsn, sid, _ssn, ppid = struct.unpack(">IHHI", chunk.data[:12])
            if tsn in seen:
                self.counters.sctp_duplicates += 1
                continue
            seen.add(tsn)
            if len(seen) > 100000:
                seen.clear()
            if ppid not in (0, PPID_DIAMETER):
                continue
            fkey = (*key, sid)
            if chunk.flags & 0x02:  # B: first fragment
                self.sctp_frag[fkey] = bytearray()
            part = self.sctp_frag.get(fkey)
            if part is None:
                continue
            part += chunk.data[12:]
            if chunk.flags & 0x01:  # E: last fragment
                del self.sctp_frag[fkey]
                out += [CapturedMessage(frame, ts, src, sctp.sport, dst, sctp.dport, "sctp", m)
                        for m in messages_from_stream_bytes(part, self.counters)]
        if out:
            self.counters.diameter_frames += 1
        return out


def read_capture(f: BinaryIO, ports: Iterable[int] | None = DEFAULT_PORTS,
                 counters: CaptureCounters | None = None) -> Iterator[CapturedMessage]:
    """The Diameter messages of a pcap / pcapng file, in capture order.

    ``ports``: TCP/SCTP ports carrying Diameter (either end); ``None`` takes
    every stream and keeps what looks like Diameter.
    """
    if dpkt is None:
        raise CaptureError("reading captures needs dpkt: pip install 'diameter[cli]'")
    counters = counters if counters is not None else CaptureCounters()
    reader = _open_reader(f)
    assert reader is not None
    linktype = reader.datalink()  # type: ignore[attr-defined]
    work = _Reassembler(ports, counters)
    frame = 0
    try:
        for ts, buf in reader:
            frame += 1
            counters.frames += 1
            ip_bytes = _ip_payload(linktype, bytes(buf))
            if ip_bytes is None:
                counters.unsupported_link += 1
                continue
            yield from work.packet(frame, float(ts), ip_bytes)
    except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, struct.error, ValueError) as e:
        counters.notes.append(f"capture truncated after frame {frame}: {e}")
