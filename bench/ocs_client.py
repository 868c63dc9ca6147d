"""The load client of bench/ocs.py (run in its own process by `ocs.py --load-client`).

It opens one TCP connection to the server and keeps `--concurrency` Gy sessions open and
`--inflight` CCRs on the wire, then prints the run's figures as one JSON line.

- ``--client lean`` (default): an asyncio Protocol that speaks just what a load generator
  needs (as seagull or freeDiameter's test_app do): CER/CEA (Result-Code 2001 required),
  DWA to a DWR and DPA to a DPR from the server, DPR/DPA at the end. Every CCR is encoded
  once before the run with its own hop-by-hop and end-to-end identifiers (the request's
  index + 1), so a request costs one slice of a joined write; answers are framed by their
  length, matched by hop-by-hop identifier and only their Result-Code is read. No
  retransmission, failover, routing or validation: a request unanswered after
  ``--timeout`` seconds, a lost connection or an unexpected message fails the run.
- ``--client node``: this package's ``DiameterNode.request_bytes`` (futures, the pending
  table, timers), the node's whole request path; ``bench/node.py`` measures that one.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import struct
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
REALM = "bench.example.net"
HOST = "load.bench.example.net"
MIB = 1 << 20
_HDR = struct.Struct("!II4xI")  # version/length, flags/command, hop-by-hop


class RunFailed(RuntimeError):
    """The run cannot be trusted: unanswered requests, a lost connection, a bad message."""


def msisdn(i: int) -> str:
    return f"4917{i:08d}"


def build_requests(args: argparse.Namespace) -> list[bytes]:
    """Every CCR of the run, encoded once: session s's request n is at index
    s * (updates + 2) + n and carries that index + 1 as hop-by-hop and end-to-end id."""
    from diameter.cc import Units
    from diameter.cc.wire import Usage, build_ccr
    out = []
    last = args.updates + 1
    for s in range(args.sessions):
        sid = f"{HOST};{os.getpid()};{s}"
        for n in range(last + 1):
            kind = 1 if n == 0 else (3 if n == last else 2)
            usage = Usage(1, requested=Units(total_octets=0) if kind != 3 else None,
                          used=Units(total_octets=MIB) if n else None)
            ccr = build_ccr(session_id=sid, request_type=kind, request_number=n,
                            origin_host=HOST, origin_realm=REALM, destination_realm=REALM,
                            destination_host=None, service_context_id="32251@3gpp.org",
                            subscription_ids=[(0, msisdn(s % args.accounts))], usages=[usage])
            ccr.header.hop_by_hop_identifier = ccr.header.end_to_end_identifier = len(out) + 1
            out.append(ccr.as_bytes())
    return out


class Schedule:
    """`concurrency` sessions open at once; each request sent is the next of an open
    session that has none outstanding (round robin), so a session's requests are spaced
    out as a real client's are and never overlap. Requests are indexes into the run's list."""

    def __init__(self, sessions: int, per_session: int, concurrency: int) -> None:
        self.per = per_session
        self.queue = list(range(sessions))
        self.ready: collections.deque[int] = collections.deque()
        while self.queue and len(self.ready) < concurrency:
            self.ready.append(self.queue.pop() * per_session)

    def answered(self, i: int) -> int | None:
        """Request ``i`` was answered: its session's next request is due; the next to send."""
        if (i + 1) % self.per:
            self.ready.append(i + 1)
        elif self.queue:
            self.ready.append(self.queue.pop() * self.per)
        return self.ready.popleft() if self.ready else None


class LeanClient(asyncio.Protocol):
    """One connection; ``done`` resolves when every request is answered (or the run fails)."""

    def __init__(self, requests: list[bytes], schedule: Schedule, timeout: float) -> None:
        from diameter.codec.frame import find_u32
        self.find_u32 = find_u32
        self.requests, self.schedule, self.timeout = requests, schedule, timeout
        self.sent: dict[int, float] = {}  # hop-by-hop id -> send time, oldest first
        self.latencies: list[float] = []
        self.codes: dict[int, int] = {}
        self.buf = b""
        loop = asyncio.get_running_loop()
        self.cea, self.dpa, self.done = loop.create_future(), loop.create_future(), loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, inflight: int) -> None:
        out, now = [], time.perf_counter()
        for _ in range(inflight):
            if not self.schedule.ready:
                break
            i = self.schedule.ready.popleft()
            self.sent[i + 1] = now
            out.append(self.requests[i])
        self.transport.write(b"".join(out))
        self._check()

    def _check(self) -> None:
        """Once a second: fail when the oldest outstanding request waited ``timeout``."""
        if self.done.done():
            return
        oldest = next(iter(self.sent.values()), None)
        if oldest is not None and time.perf_counter() - oldest > self.timeout:
            self.fail(f"{len(self.sent)} requests unanswered, the oldest for {self.timeout} s")
        else:
            asyncio.get_running_loop().call_later(1.0, self._check)

    def fail(self, why: str) -> None:
        for fut in (self.cea, self.dpa, self.done):
            if not fut.done():
                fut.set_exception(RunFailed(f"lean load client: {why}"))
                fut.exception()  # whichever is awaited raises it; the others are not logged
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
        now, pos, end, out = time.perf_counter(), 0, len(data), []
        sent, requests, codes, schedule = self.sent, self.requests, self.codes, self.schedule
        while end - pos >= 20:
            vl, fc, hbh = _HDR.unpack_from(data, pos)
            length = vl & 0xFFFFFF
            if length < 20 or vl >> 24 != 1:
                return self.fail(f"bad message header {data[pos:pos + 20].hex()}")
            if end - pos < length:
                break
            t0 = sent.pop(hbh, None) if not fc & 0x80000000 else None
            if t0 is None:
                self.control(data[pos:pos + length], fc)
            else:
                self.latencies.append(now - t0)
                code = self.find_u32(data, 268, pos + 20, pos + length)
                codes[code] = codes.get(code, 0) + 1
                i = schedule.answered(hbh - 1)
                if i is not None:
                    sent[i + 1] = now
                    out.append(requests[i])
            pos += length
        self.buf = data[pos:]
        if out:
            self.transport.write(b"".join(out))
        elif not sent and self.latencies and not self.done.done():
            self.done.set_result(None)

    def control(self, msg: bytes, flags_command: int) -> None:
        """CEA, DPA, or a DWR/DPR from the server; anything else fails the run."""
        command, request = flags_command & 0xFFFFFF, flags_command & 0x80000000
        if request and command in (280, 282):  # DWR, DPR: answer 2001 (message API: rare)
            from diameter.message import Message
            self.transport.write(Message.from_bytes(msg).answer(
                2001, origin_host=HOST, origin_realm=REALM).as_bytes())
            if command == 282 and not self.done.done():
                self.fail(f"the server sent DPR with {len(self.sent)} requests outstanding")
        elif not request and command == 257 and not self.cea.done():
            self.cea.set_result(msg)
        elif not request and command == 282 and not self.dpa.done():
            self.dpa.set_result(msg)
        else:
            self.fail(f"unexpected {'request' if request else 'answer'} {command}: {msg[:20].hex()}")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done() or not self.dpa.done():
            self.fail(f"connection lost ({exc}) with {len(self.sent)} requests outstanding")


async def run_lean(args: argparse.Namespace, requests: list[bytes], schedule: Schedule,
                   measure) -> None:  # type: ignore[no-untyped-def]
    from diameter.codec.frame import find_u32
    from diameter.message.commands import CapabilitiesExchangeRequest, DisconnectPeerRequest
    cer = CapabilitiesExchangeRequest()
    cer.origin_host, cer.origin_realm = HOST.encode(), REALM.encode()
    cer.host_ip_address, cer.vendor_id, cer.product_name = ["127.0.0.1"], 0, "bench/ocs.py lean client"
    cer.supported_vendor_id, cer.auth_application_id = [10415], [4]
    dpr = DisconnectPeerRequest()
    dpr.origin_host, dpr.origin_realm, dpr.disconnect_cause = HOST.encode(), REALM.encode(), 0  # REBOOTING
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: LeanClient(requests, schedule, args.timeout), "127.0.0.1", args.port)
    client.transport.write(cer.as_bytes())
    cea = await asyncio.wait_for(client.cea, 10)
    if find_u32(cea, 268, 20, len(cea)) != 2001:
        raise RunFailed(f"lean load client: CEA without Result-Code 2001: {cea.hex()}")
    await measure(lambda: client.start(min(args.inflight, args.concurrency)) or client.done,
                  client.latencies, client.codes)
    client.transport.write(dpr.as_bytes())
    try:
        await asyncio.wait_for(client.dpa, 5)
    finally:
        client.transport.close()


async def run_node(args: argparse.Namespace, requests: list[bytes], schedule: Schedule,
                   measure) -> None:  # type: ignore[no-untyped-def]
    from diameter.node.aio.node import DiameterNode
    from diameter.node.protocol import avps as A
    node = DiameterNode(HOST, REALM, ip_addresses=["127.0.0.1"], vendor_ids=[10415],
                        request_timeout=args.timeout)
    node.add_application(4)
    node.add_peer(args.server_identity, addresses=["127.0.0.1"], port=args.port, persistent=True)
    await node.start()
    await node.wait_open(args.server_identity, 10)
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def worker() -> None:
        i = schedule.ready.popleft() if schedule.ready else None
        while i is not None:
            t0 = time.perf_counter()
            ans = await node.request_bytes(requests[i], timeout=args.timeout)
            latencies.append(time.perf_counter() - t0)
            code = A.as_u32(A.find(ans, 268), -1)
            codes[code] = codes.get(code, 0) + 1
            i = schedule.answered(i)

    await measure(lambda: asyncio.gather(*(worker() for _ in range(min(args.inflight, args.concurrency)))),
                  latencies, codes)
    await node.stop(1)


async def client_main(args: argparse.Namespace) -> None:
    """Build the run's requests, run the chosen client, print the figures as JSON."""
    sys.path.insert(0, str(SRC))
    requests = build_requests(args)
    schedule = Schedule(args.sessions, args.updates + 2, args.concurrency)

    async def measure(run, latencies: list[float], codes: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
        t0, cpu0 = time.perf_counter(), time.process_time()
        machine0, loop0 = machine_ticks(), loop_seconds(args.server_pid)
        calls0, own0 = syscalls(args.server_pid), syscalls(os.getpid())
        await run()
        elapsed = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        n = len(latencies)
        machine = [b - a for a, b in zip(machine0, machine_ticks())]
        loop_busy = (loop_seconds(args.server_pid) - loop0) / elapsed
        calls = [(b - a) / n for a, b in zip(calls0, syscalls(args.server_pid))]
        own = [(b - a) / n for a, b in zip(own0, syscalls(os.getpid()))]
        fifths = [sorted(latencies[k * n // 5:(k + 1) * n // 5]) for k in range(5)]
        latencies.sort()
        shown: dict[int, int] = {}  # -1 (no Result-Code) shown as 0
        for c, k in codes.items():
            shown[max(c, 0)] = shown.get(max(c, 0), 0) + k
        print(json.dumps({
            "client": args.client, "requests": n, "seconds": elapsed, "rate": n / elapsed,
            "client_cpu_us": client_cpu / n * 1e6, "p50_ms": latencies[n // 2] * 1e3,
            "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3,
            "p99_fifths_ms": [f[min(len(f) - 1, int(len(f) * 0.99))] * 1e3 for f in fifths if f],
            "max_ms": latencies[-1] * 1e3,
            "codes": shown, "loop_busy": loop_busy,
            "loop_calls": calls, "client_calls": own,
            "machine": {k: 100 * v / (sum(machine) or 1) for k, v in zip(MACHINE_FIELDS, machine)}}),
            flush=True)

    try:
        await (run_lean if args.client == "lean" else run_node)(args, requests, schedule, measure)
    except (RunFailed, asyncio.TimeoutError) as exc:
        raise SystemExit(f"load client failed: {exc!r}") from exc


# ------------------------------------------------------------ /proc counters ---
#: the fields of /proc/stat's first line that `machine_ticks` returns, in order
MACHINE_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_ticks() -> list[int]:
    """The whole machine's CPU ticks so far by kind (Linux /proc/stat, all cores)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:1 + len(MACHINE_FIELDS)]]


def syscalls(pid: int) -> tuple[int, int, int, int]:
    """Read- and write-type system calls and voluntary and involuntary context switches so far
    of a process's main thread (the server's event loop; Linux /proc/PID/task/PID/io and
    status), zeros without a pid or where they cannot be read."""
    try:
        with open(f"/proc/{pid}/task/{pid}/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        with open(f"/proc/{pid}/task/{pid}/status") as f:
            st = dict(line.split(":", 1) for line in f.read().splitlines())
        return (int(io["syscr"]), int(io["syscw"]), int(st["voluntary_ctxt_switches"]),
                int(st["nonvoluntary_ctxt_switches"]))
    except (OSError, KeyError, ValueError):
        return 0, 0, 0, 0


def cpu_seconds(pid: int, thread: bool = False) -> float:
    """User + system CPU time so far of a process (Linux /proc), or of its main thread (the
    event loop's: what the GIL-bound part of the server costs)."""
    stat = f"/proc/{pid}/task/{pid}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_seconds(pid: int) -> float:
    """CPU seconds so far of the server's event-loop thread (its main thread), 0.0 without a pid."""
    return cpu_seconds(pid, thread=True) if pid else 0.0
