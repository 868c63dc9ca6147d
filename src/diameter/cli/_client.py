"""A small Diameter client connection for ``send``, ``replay`` and ``bench``.

One asyncio connection over TCP, TLS or SCTP: CER/CEA on open, requests
matched to answers by Hop-by-Hop id, DWR from the peer answered, DPR/DPA on
close. Messages are bytes (the CLI builds them from documents), so what is
sent is exactly what the user wrote.
"""
from __future__ import annotations

import asyncio
import itertools
import logging

import random
import socket
import ssl
import struct

import time
from dataclasses import dataclass, field
from typing import Any

from ..jsonview import dict_to_bytes, to_dict
from ._avpindex import complete_document

__all__ = ["Identity", "Connection", "ClientError", "parse_target", "A"]

log = logging.getLogger("diameter.cli.client")

RESULT_CODE = 268
_pack_ids = struct.Struct(">II").pack_into  # Hop-by-Hop and End-to-End ids at offset 12
DIAMETER_SUCCESS = 2001


class ClientError(Exception):
    """Connection, capabilities exchange or protocol failure."""


def A(name: str, value: Any = None, *members: dict[str, Any]) -> dict[str, Any]:
    """A named AVP for a message document."""
    d: dict[str, Any] = {"name": name}
    if members:
        d["avps"] = list(members)
    else:
        d["value"] = value
    return d


@dataclass
class Identity:
    origin_host: str
    origin_realm: str
    product: str = "diameter-cli"
    vendor_id: int = 0
    state_id: int = field(default_factory=lambda: int(time.time()) & 0xFFFFFFFF)
    _session_seq: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def default(cls, origin_host: str | None, origin_realm: str | None) -> Identity:
        host = origin_host or socket.getfqdn()
        if "." not in host:
            host = f"{host}.localdomain"
        realm = origin_realm or host.partition(".")[2] or "localdomain"
        return cls(host, realm)

    def session_id(self) -> str:
        """RFC 6733 §8.8: ``<DiameterIdentity>;<high 32 bits>;<low 32 bits>``."""
        return f"{self.origin_host};{self.state_id};{next(self._session_seq)}"


def parse_target(text: str, default_port: int = 3868) -> tuple[str, int, str | None]:
    """``host[:port]``, ``[v6]:port`` or ``aaa[s]://host:port;transport=tcp|sctp``."""
    transport = None
    t = text.strip()
    if t.startswith(("aaa://", "aaas://")):
        scheme, _, rest = t.partition("://")
        parts = rest.split(";")
        t = parts[0]
        for p in parts[1:]:
            k, _, v = p.partition("=")
            if k == "transport":
                transport = v.lower()
        if scheme == "aaas":
            transport = "tls" if transport in (None, "tcp") else transport
        default_port = 5658 if scheme == "aaas" else default_port
    if t.startswith("["):
        host, _, rest = t[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif t.count(":") == 1:
        host, _, p = t.partition(":")
        port = int(p)
    else:
        host, port = t, default_port
    return host, port, transport


def _avp_val(avps: list[dict[str, Any]], code: int) -> Any:
    for a in avps:
        if a["code"] == code and a["vendor_id"] == 0:
            return a.get("value")
    return None


@dataclass
class Answer:
    data: bytes
    latency: float

    @property
    def doc(self) -> dict[str, Any]:
        return to_dict(self.data)

    @property
    def result_code(self) -> int | None:
        d = self.doc
        rc = _avp_val(d["avps"], RESULT_CODE)
        if rc is None:
            for a in d["avps"]:
                if a["code"] == 297 and "avps" in a:
                    rc = _avp_val(a["avps"], 298)
        return rc if isinstance(rc, int) else None


class Connection(asyncio.Protocol):
    """One Diameter connection; use :meth:`open` then :meth:`request`, :meth:`close`."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending: dict[int, tuple[asyncio.Future[Answer], float]] = {}  # hbh -> (future, t0)
        self.callbacks: dict[int, tuple[Any, float]] = {}  # send_cb's: hbh -> (callback, t0)
        self._wbuf: list[bytes | bytearray] = []
        self._reading = False  # in data_received: its requests are written when it returns
        self.hbh = random.getrandbits(32)
        self.e2e = ((int(time.time()) & 0xFFF) << 20) | random.getrandbits(20)
        self.peer_host: str | None = None
        self.peer_realm: str | None = None
        self.peer_apps: set[int] = set()
        self.closed: asyncio.Future[None] | None = None
        self.local_ip = "127.0.0.1"

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's transport, or uvloop's (``diameter bench``), which is not an
        # asyncio.Transport subclass but has the same methods
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("sockname")
        if sock:
            self.local_ip = sock[0]
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        off, end = 0, len(data)
        callbacks = self.callbacks
        from_bytes = int.from_bytes
        self._reading = True
        try:
            while end - off >= 20:
                length = from_bytes(data[off + 1:off + 4], "big")
                if data[off] != 1 or length < 20:
                    log.error("peer sent bytes that are not Diameter; closing")
                    self._fail(ClientError("peer sent bytes that are not Diameter"))
                    return
                if end - off < length:
                    break
                # the common case inline: an answer to a send_cb request
                entry = None if data[off + 4] & 0x80 else callbacks.pop(
                    from_bytes(data[off + 12:off + 16], "big"), None)
                if entry is not None:
                    entry[0](data[off:off + length], time.perf_counter() - entry[1])
                else:
                    self._message(data[off:off + length])
                off += length
            if off < end:
                buf += data[off:]
        finally:
            self._reading = False
            if self._wbuf:
                self._flush()  # the requests these answers released: one write

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ClientError(f"connection closed{': ' + str(exc) if exc else ''}"))
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def _fail(self, err: Exception) -> None:
        pending, self.pending = self.pending, {}
        callbacks, self.callbacks = self.callbacks, {}
        for fut, _ in pending.values():
            if not fut.done():
                fut.set_exception(err)
        for cb, _ in callbacks.values():
            cb(None, 0.0)
        if self.transport is not None:
            self.transport.close()

    def _message(self, msg: bytes) -> None:
        if msg[4] & 0x80:
            self._incoming_request(msg, int.from_bytes(msg[5:8], "big"))
            return
        hbh = int.from_bytes(msg[12:16], "big")
        entry = self.pending.pop(hbh, None)
        if entry is None:
            log.warning("answer with unknown Hop-by-Hop 0x%08x dropped", hbh)
            return
        fut, t0 = entry
        if not fut.done():
            fut.set_result(Answer(msg, time.perf_counter() - t0))

    def _incoming_request(self, msg: bytes, code: int) -> None:
        result = DIAMETER_SUCCESS if code in (280, 282) else 3001
        if code not in (280, 282):
            log.warning("peer sent request %d; answering 3001", code)
        head = bytearray(msg[:20])
        head[4] &= 0x7F  # clear R
        body = dict_to_bytes({"header": {"command_code": 0}, "avps": complete_document({
            "header": {"command_code": code}, "avps": [
                A("Result-Code", result), A("Origin-Host", self.identity.origin_host),
                A("Origin-Realm", self.identity.origin_realm)]})["avps"]})[20:]
        head[1:4] = (20 + len(body)).to_bytes(3, "big")
        assert self.transport is not None
        self.transport.write(bytes(head) + body)
        if code == 282:
            self.transport.close()

    # -- API --------------------------------------------------------------------------
    @classmethod
    async def open(cls, identity: Identity, host: str, port: int, *, transport: str = "tcp",
                   ssl_context: ssl.SSLContext | None = None, timeout: float = 10.0,
                   apps: tuple[int, ...] = (), cer: bool = True) -> Connection:
        loop = asyncio.get_running_loop()
        conn = cls(identity)
        try:
            if transport == "sctp":
                from ..node.aio.sctp import sctp_socket
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = sctp_socket(family)
                sock.setblocking(False)
                await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
                await loop.create_connection(lambda: conn, sock=sock)
            else:
                if transport == "tls" and ssl_context is None:
                    ssl_context = ssl.create_default_context()
                await asyncio.wait_for(loop.create_connection(
                    lambda: conn, host, port, ssl=ssl_context if transport == "tls" else None,
                    server_hostname=host if transport == "tls" else None), timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
            raise ClientError(f"cannot connect to {host}:{port} over {transport}: "
                              f"{e or type(e).__name__}") from None
        if cer:
            await conn.exchange_capabilities(apps, timeout)
        return conn

    def next_ids(self) -> tuple[int, int]:
        self.hbh = (self.hbh + 1) & 0xFFFFFFFF
        self.e2e = (self.e2e + 1) & 0xFFFFFFFF
        return self.hbh, self.e2e

    async def exchange_capabilities(self, apps: tuple[int, ...], timeout: float) -> None:
        ip_family = 2 if ":" in self.local_ip else 1
        avps: list[dict[str, Any]] = [
            A("Origin-Host", self.identity.origin_host), A("Origin-Realm", self.identity.origin_realm),
            {"name": "Host-IP-Address", "raw": ip_family.to_bytes(2, "big").hex() + socket.inet_pton(
                socket.AF_INET6 if ip_family == 2 else socket.AF_INET, self.local_ip).hex()},
            A("Vendor-Id", self.identity.vendor_id), A("Product-Name", self.identity.product),
            A("Origin-State-Id", self.identity.state_id)]
        vendor_apps = [a for a in apps if a >= 16777216]
        if vendor_apps:
            avps.append(A("Supported-Vendor-Id", 10415))
        for app in sorted(set(apps) or {0xFFFFFFFF}):
            if app >= 16777216:
                avps.append(A("Vendor-Specific-Application-Id", None, A("Vendor-Id", 10415),
                              A("Auth-Application-Id", app)))
            else:
                avps.append(A("Acct-Application-Id" if app == 3 else "Auth-Application-Id", app))
        hbh, e2e = self.next_ids()
        cer = dict_to_bytes(complete_document({"header": {
            "command_code": 257, "hop_by_hop_identifier": hbh, "end_to_end_identifier": e2e},
            "avps": avps}))
        try:
            answer = await self.request(cer, timeout=timeout, assign_ids=False)
        except (ClientError, asyncio.TimeoutError) as e:
            raise ClientError(f"capabilities exchange failed: {e or 'timeout'}") from None
        doc = answer.doc
        self.peer_host = _avp_val(doc["avps"], 264)
        self.peer_realm = _avp_val(doc["avps"], 296)
        for a in doc["avps"]:
            if a["code"] in (258, 259) and "value" in a:
                self.peer_apps.add(a["value"])
            if a["code"] == 260:
                self.peer_apps.update(m["value"] for m in a.get("avps", [])
                                      if m["code"] in (258, 259) and "value" in m)
        if answer.result_code != DIAMETER_SUCCESS:
            from .tree import render_message
            from .summary import summarize
            raise ClientError(f"peer refused the capabilities exchange with Result-Code "
                              f"{answer.result_code}\n{render_message(summarize(answer.data))}")
        log.info("CEA from %s (%s): applications %s", self.peer_host, self.peer_realm,
                 sorted(self.peer_apps))

    def send(self, data: bytes, *, assign_ids: bool = True) -> asyncio.Future[Answer]:
        """Write a request; the future resolves with its answer."""
        if self.transport is None or self.transport.is_closing():
            raise ClientError("connection closed")
        if assign_ids:
            hbh, e2e = self.next_ids()
            buf = bytearray(data)
            buf[12:16] = hbh.to_bytes(4, "big")
            if not int.from_bytes(buf[16:20], "big"):
                buf[16:20] = e2e.to_bytes(4, "big")
            data = bytes(buf)
        hbh = int.from_bytes(data[12:16], "big")
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[hbh] = (fut, time.perf_counter())
        self.transport.write(data)
        return fut

    def send_cb(self, data: bytearray, callback: Any) -> int:
        """Write a request (ids assigned in place) and call ``callback(answer_bytes, latency)``
        when its answer comes (``(None, 0.0)`` if the connection fails). Requests made
        while answers are read go out in one system call when the read is done; others
        made in one event-loop iteration, in one system call at its end."""
        self.hbh = hbh = (self.hbh + 1) & 0xFFFFFFFF
        self.e2e = e2e = (self.e2e + 1) & 0xFFFFFFFF
        _pack_ids(data, 12, hbh, e2e)
        self.callbacks[hbh] = (callback, time.perf_counter())
        if not self._wbuf and not self._reading:
            asyncio.get_running_loop().call_soon(self._flush)
        self._wbuf.append(data)
        return hbh

    def _flush(self) -> None:
        buf, self._wbuf = self._wbuf, []
        if buf and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(buf))

    def expire(self, older_than: float) -> list[int]:
        """Forget requests sent before ``older_than`` (perf_counter); their callbacks get
        ``(None, age)``. Returns their Hop-by-Hop ids."""
        old = [h for h, (_cb, t0) in self.callbacks.items() if t0 < older_than]
        now = time.perf_counter()
        for h in old:
            cb, t0 = self.callbacks.pop(h)
            cb(None, now - t0)
        return old

    async def request(self, data: bytes, *, timeout: float = 10.0,
                      assign_ids: bool = True) -> Answer:
        fut = self.send(data, assign_ids=assign_ids)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.pending.pop(int.from_bytes(data[12:16], "big"), None)
            raise

    async def close(self, timeout: float = 2.0) -> None:
        """DPR (cause REBOOTING), wait for the DPA or ``timeout``, close."""
        if self.transport is None or self.transport.is_closing():
            return
        hbh, e2e = self.next_ids()
        dpr = dict_to_bytes(complete_document({"header": {
            "command_code": 282, "hop_by_hop_identifier": hbh, "end_to_end_identifier": e2e},
            "avps": [A("Origin-Host", self.identity.origin_host),
                     A("Origin-Realm", self.identity.origin_realm),
                     A("Disconnect-Cause", 0)]}))
        try:
            await self.request(dpr, timeout=timeout, assign_ids=False)
        except (ClientError, asyncio.TimeoutError):
            log.info("no DPA within %.1fs", timeout)
        if self.transport is not None:
            self.transport.close()


def ssl_context(ca: str | None, cert: str | None, key: str | None,
                insecure: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


