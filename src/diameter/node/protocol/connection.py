"""One peer connection as a sans-IO state machine (RFC 6733 §5.6).

Feed it bytes with :meth:`PeerConnection.receive_data` and time with
:meth:`PeerConnection.handle_timer`; collect bytes to write with
:meth:`PeerConnection.take_outgoing`. It answers CER/DWR/DPR itself, runs the
RFC 3539 watchdog and reports everything else as events.
"""
from __future__ import annotations

import enum
import random
from collections.abc import Callable
from typing import Final

from . import avps as A
from .capabilities import Capabilities, Negotiated, negotiate, parse_capabilities
from .constants import (AVP_DISCONNECT_CAUSE, AVP_ERROR_MESSAGE, AVP_ORIGIN_HOST, AVP_ORIGIN_REALM,
                        AVP_ORIGIN_STATE_ID, AVP_RESULT_CODE, BASE_COMMANDS,
                        CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG, CMD_DISCONNECT_PEER,
                        DEFAULT_MAX_CER_SIZE, DEFAULT_MAX_MESSAGE_SIZE, DIAMETER_SUCCESS,
                        DIAMETER_UNABLE_TO_COMPLY, DIAMETER_UNABLE_TO_DELIVER,
                        DISCONNECT_REBOOTING, FLAG_ERROR, FLAG_REQUEST)
from .events import (AnswerReceived, Closed, CloseCause, Event, Opened, RequestReceived, StartTls,  # noqa: F401
                     WatchdogChange, _Received)   # (re-exported: the connection's events)
from .framing import FrameDecoder, FramingError, Header, parse_header
from .watchdog import Watchdog, WatchdogAction


# the same values as .constants, as literals: compiled, they are C constants (the
# imported names are module look-ups on every use)
_CER: Final = 257
_DWR: Final = 280
_DPR: Final = 282
_FLAG_REQUEST: Final = 0x80

#: a DWR this soon after the connection opened means the peer is in REOPEN
#: (a peer in OKAY waits Tw, at least 4 s, before its first DWR)
PEER_REOPEN_HINT = 1.0


class PeerState(enum.Enum):
    CLOSED = "Closed"
    WAIT_CER = "Wait-CER"          # responder, transport up, no CER yet
    WAIT_I_CEA = "Wait-I-CEA"      # initiator, CER sent
    WAIT_TLS = "Wait-TLS"          # in-band TLS handshake after CER/CEA
    OPEN = "Open"
    CLOSING = "Closing"            # DPR sent, waiting for DPA


def elect(local_host: str, remote_host: str) -> bool:
    """RFC 6733 §5.6.4: True when the local identity wins (is higher)."""
    return local_host.lower() > remote_host.lower()


class Collision(enum.Enum):
    """What to do with a CER from a peer that has another live connection."""

    REPLACE = "replace"        # the peer restarted (new Origin-State-Id): drop the stale connection
    WIN = "win"                # election won: drop our own connection, take the peer's
    REJECT = "reject"          # election lost or already open: answer 4003


def cer_collision(*, local_host: str, remote_host: str, other_state: PeerState, known_state_id: int | None,
                  new_state_id: int | None) -> Collision:
    """RFC 6733 §5.6.4 for a CER that arrives while ``other_state`` is the state
    of the peer's other, live connection."""
    if (other_state is PeerState.OPEN and new_state_id is not None
            and known_state_id not in (None, new_state_id)):
        return Collision.REPLACE
    if other_state is PeerState.WAIT_I_CEA and elect(local_host, remote_host):
        return Collision.WIN
    return Collision.REJECT


class SequenceCounter:
    """Wrapping 32-bit counter used for hop-by-hop / end-to-end identifiers."""

    __slots__ = ("value",)

    def __init__(self, start: int | None = None) -> None:
        self.value = random.getrandbits(32) if start is None else start & 0xFFFFFFFF

    def next(self) -> int:
        v = self.value = (self.value + 1) & 0xFFFFFFFF
        return v


class PeerConnection:
    """Sans-IO state of one transport connection to a peer."""

    def __init__(self, local: Capabilities, initiator: bool, now: float, *,
                 tw: float = 30.0, ce_timeout: float = 10.0, dpa_timeout: float = 5.0,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, reopen: bool = False,
                 max_cer_size: int = DEFAULT_MAX_CER_SIZE,
                 accept_cer: Callable[[Capabilities], int] | None = None,
                 tls_active: bool = False, rng: random.Random | None = None,
                 end_to_end: SequenceCounter | None = None) -> None:
        self.local = local
        self.initiator = initiator
        self.tw = tw
        self.ce_timeout = ce_timeout
        self.dpa_timeout = dpa_timeout
        self.reopen = reopen
        self.accept_cer = accept_cer
        self.tls_active = tls_active
        self.rng = rng or random.Random()
        #: until the connection is open only a CER/CEA-sized message is read
        self.max_message_size = max_message_size
        self.decoder = FrameDecoder(min(max_cer_size, max_message_size))
        self.hop_by_hop = SequenceCounter(self.rng.getrandbits(32))
        self.end_to_end = end_to_end or SequenceCounter(self.rng.getrandbits(32))
        self.state = PeerState.CLOSED
        self.remote: Capabilities | None = None
        self.negotiated: Negotiated | None = None
        self.watchdog: Watchdog | None = None
        self.deadline: float | None = None
        self._out: list[bytes] = []
        self._base_hbh: dict[int, int] = {}  # hbh -> command of our CER/DWR/DPR
        self._started = now
        self.disconnect_cause: int | None = None
        #: the peer is (by its early DWR) in RFC 3539 REOPEN, discarding other messages
        self.peer_reopen = False
        self._peer_dwrs = 0
        self._opened_at = now
        #: called as ``(command, is_request, sent)`` for each CER/CEA/DWR/DWA/DPR/DPA
        self.base_hook: Callable[[int, bool, bool], None] | None = None

    # ---- outgoing -------------------------------------------------------------
    def take_outgoing(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    @property
    def has_outgoing(self) -> bool:
        """Bytes wait for :meth:`take_outgoing`."""
        return len(self._out) > 0

    def send(self, data: bytes) -> None:
        """Queue an already-encoded message (application traffic)."""
        self._out.append(data)

    @property
    def is_open(self) -> bool:
        return self.state is PeerState.OPEN

    def next_timer(self) -> float | None:
        if self.state is PeerState.OPEN and self.watchdog is not None:
            return self.watchdog.deadline
        return self.deadline

    def _base_request(self, command: int, extra: list[bytes]) -> None:
        hbh = self.hop_by_hop.next()
        self._base_hbh[hbh] = command
        avps = [A.text(AVP_ORIGIN_HOST, self.local.origin_host),
                A.text(AVP_ORIGIN_REALM, self.local.origin_realm)] + extra
        if command == CMD_CAPABILITIES_EXCHANGE:
            avps = self.local.avps()
        elif self.local.origin_state_id is not None and command == CMD_DEVICE_WATCHDOG:
            avps.append(A.u32(AVP_ORIGIN_STATE_ID, self.local.origin_state_id))
        self._out.append(A.message(FLAG_REQUEST, command, 0, hbh, self.end_to_end.next(), avps))
        if self.base_hook:
            self.base_hook(command, True, True)

    def _answer(self, hdr: Header, result: int, extra: list[bytes] | None = None,
                caps: bool = False, error_message: str | None = None) -> None:
        if caps:
            avps = self.local.avps()
            avps.insert(2, A.u32(AVP_RESULT_CODE, result))
        else:
            avps = [A.u32(AVP_RESULT_CODE, result), A.text(AVP_ORIGIN_HOST, self.local.origin_host),
                    A.text(AVP_ORIGIN_REALM, self.local.origin_realm)]
            if self.local.origin_state_id is not None and hdr.command_code == CMD_DEVICE_WATCHDOG:
                avps.append(A.u32(AVP_ORIGIN_STATE_ID, self.local.origin_state_id))
        if error_message:
            avps.append(A.avp(AVP_ERROR_MESSAGE, error_message.encode(), mandatory=False))
        if extra:
            avps += extra
        flags = FLAG_ERROR if 3000 <= result < 4000 else 0
        self._out.append(A.message(flags, hdr.command_code, hdr.application_id, hdr.hop_by_hop_identifier, hdr.end_to_end_identifier, avps))
        if self.base_hook and hdr.command_code in BASE_COMMANDS:
            self.base_hook(hdr.command_code, False, True)

    # ---- lifecycle ------------------------------------------------------------
    def start(self, now: float) -> list[Event]:
        """The transport is connected: send CER (initiator) or wait for one."""
        if self.initiator:
            self.state = PeerState.WAIT_I_CEA
            self._base_request(CMD_CAPABILITIES_EXCHANGE, [])
        else:
            self.state = PeerState.WAIT_CER
        self.deadline = now + self.ce_timeout
        return []

    def disconnect(self, now: float, cause: int = DISCONNECT_REBOOTING) -> list[Event]:
        """Start an orderly shutdown with DPR (or close at once if not open)."""
        self.disconnect_cause = cause
        if self.state is PeerState.OPEN:
            self._base_request(CMD_DISCONNECT_PEER, [A.u32(AVP_DISCONNECT_CAUSE, cause)])
            self.state = PeerState.CLOSING
            self.deadline = now + self.dpa_timeout
            return []
        if self.state is PeerState.CLOSING:
            return []
        return self._close("local close", CloseCause.LOCAL, cause)

    def connection_lost(self, now: float, reason: str = "transport closed", failure: bool = True,
                        cause: CloseCause = CloseCause.TRANSPORT) -> list[Event]:
        """The transport is gone: closed or reset by the peer (a failure), or
        dropped on purpose by the node (``failure=False``; give the ``cause``)."""
        if self.state is PeerState.CLOSED:
            return []
        failed = failure and self.state is not PeerState.CLOSING
        return self._close(reason, cause, self.disconnect_cause, failure=failed)

    def tls_established(self, now: float) -> list[Event]:
        """The in-band TLS handshake finished: the connection is open."""
        if self.state is not PeerState.WAIT_TLS:
            return []
        self.tls_active = True
        return self._open(now)

    def _close(self, reason: str, why: CloseCause, cause: int | None = None,
               result: int | None = None, failure: bool = False) -> list[Event]:
        self.state = PeerState.CLOSED
        self.deadline = None
        self.decoder.clear()
        self.accept_cer = None  # hooks may refer back to the transport: let it go
        self.base_hook = None
        return [Closed(reason, cause, result, failure, why)]

    def _open(self, now: float) -> list[Event]:
        self.state = PeerState.OPEN
        self.deadline = None
        self.decoder.max_size = self.max_message_size
        self._opened_at = now
        self.watchdog = Watchdog(now, self.tw, reopen=self.reopen, rng=self.rng)
        if self.reopen:
            self.watchdog.dwr_sent()
            self._base_request(CMD_DEVICE_WATCHDOG, [])
        remote, neg = self.remote, self.negotiated
        assert remote is not None and neg is not None   # set by the CER/CEA that opened it
        return [Opened(remote, neg)]

    # ---- timers ---------------------------------------------------------------
    def handle_timer(self, now: float) -> list[Event]:
        st = self.state
        if st is PeerState.OPEN:
            wd = self.watchdog
            assert wd is not None   # OPEN has a watchdog
            if now < wd.deadline:
                return []
            events: list[Event] = []
            for action in wd.on_timer(now):
                if action is WatchdogAction.SEND_DWR:
                    self._base_request(CMD_DEVICE_WATCHDOG, [])
                elif action is WatchdogAction.CLOSE:
                    events += self._close("watchdog: no answer to DWR", CloseCause.WATCHDOG, failure=True)
                else:
                    events.append(WatchdogChange(action))
            return events
        if self.deadline is not None and now >= self.deadline:
            if st in (PeerState.WAIT_CER, PeerState.WAIT_I_CEA, PeerState.WAIT_TLS):
                return self._close(f"capabilities exchange timed out in {st.value}",
                                   CloseCause.CAPABILITIES_TIMEOUT, failure=True)
            if st is PeerState.CLOSING:
                return self._close("DPA timed out", CloseCause.DPA_TIMEOUT, self.disconnect_cause)
        return []

    # ---- incoming -------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        if self.state is PeerState.CLOSED:
            return []
        try:
            frames = self.decoder.feed(data)
        except FramingError as exc:
            events: list[Event] = []
            for f in exc.frames:
                events += self._receive_message(f, now)
            if self.state is PeerState.CLOSED:
                return events
            if exc.header:
                hdr = parse_header(exc.header)
                if hdr.flags & FLAG_REQUEST and self.state is PeerState.OPEN:
                    self._answer(hdr, exc.result_code, error_message=str(exc))
            return events + self._close(f"framing error: {exc}", CloseCause.FRAMING, result=exc.result_code)
        events = []
        for f in frames:
            code = (f[5] << 16) | (f[6] << 8) | f[7]   # the command code, natively (frames are >= 20 bytes)
            if self.state is PeerState.OPEN and code != _DWR and code != _DPR and code != _CER:
                # application traffic on an open connection (the hot path of _receive_message):
                # the event reads the header's fields, the Header tuple is made if asked for
                wd = self.watchdog
                assert wd is not None   # OPEN has a watchdog
                if wd.on_traffic(now):
                    events.append(RequestReceived(None, f, now) if f[4] & _FLAG_REQUEST else AnswerReceived(None, f, now))
                    continue
            events += self._receive_message(f, now)
            if self.state is PeerState.CLOSED:
                break
        return events

    def _receive_message(self, data: bytes, now: float, hdr: Header | None = None) -> list[Event]:
        if hdr is None:
            hdr = parse_header(data)
        st = self.state
        if self.base_hook and hdr.command_code in BASE_COMMANDS:
            self.base_hook(hdr.command_code, bool(hdr.flags & FLAG_REQUEST), False)
        if st is PeerState.OPEN:
            wd = self.watchdog
            assert wd is not None   # OPEN has a watchdog
            code = hdr.command_code
            if code not in BASE_COMMANDS:
                if wd.on_traffic(now):
                    if hdr.flags & FLAG_REQUEST:
                        return [RequestReceived(hdr, data, now)]
                    return [AnswerReceived(hdr, data, now)]
                events = self._wd(wd.on_receive(now, False))
                ev = RequestReceived(hdr, data, now) if hdr.flags & FLAG_REQUEST else AnswerReceived(hdr, data, now)
                return events + [ev]
            return self._base_open(hdr, data, now)
        if st is PeerState.WAIT_CER:
            if hdr.command_code != CMD_CAPABILITIES_EXCHANGE or not hdr.flags & FLAG_REQUEST:
                return self._close(f"expected CER, got command {hdr.command_code}", CloseCause.UNEXPECTED_COMMAND)
            return self._receive_cer(hdr, data, now)
        if st is PeerState.WAIT_I_CEA:
            if hdr.command_code != CMD_CAPABILITIES_EXCHANGE or hdr.flags & FLAG_REQUEST:
                return self._close(f"expected CEA, got command {hdr.command_code}", CloseCause.UNEXPECTED_COMMAND)
            return self._receive_cea(hdr, data, now)
        if st is PeerState.CLOSING:
            if hdr.command_code == CMD_DISCONNECT_PEER and not hdr.flags & FLAG_REQUEST:
                return self._close("DPA received", CloseCause.DPA_RECEIVED, self.disconnect_cause)
            if hdr.command_code == CMD_DISCONNECT_PEER:
                self._answer(hdr, DIAMETER_SUCCESS)
                return self._close("DPR received while closing", CloseCause.DPR_WHILE_CLOSING,
                                   self.disconnect_cause)
            if hdr.command_code == CMD_DEVICE_WATCHDOG and hdr.flags & FLAG_REQUEST:
                self._answer(hdr, DIAMETER_SUCCESS)
                return []
            if hdr.command_code in BASE_COMMANDS:
                return []
            # answers still in flight are delivered while waiting for DPA
            if not hdr.flags & FLAG_REQUEST:
                return [AnswerReceived(hdr, data, now)]
            self._answer(hdr, DIAMETER_UNABLE_TO_DELIVER, error_message="peer is disconnecting")
            return []
        return []

    def _wd(self, actions: list[WatchdogAction]) -> list[Event]:
        return [WatchdogChange(a) for a in actions if a in (WatchdogAction.FAILBACK, WatchdogAction.FAILOVER)]

    def _base_open(self, hdr: Header, data: bytes, now: float) -> list[Event]:
        code, is_req = hdr.command_code, hdr.flags & FLAG_REQUEST
        wd = self.watchdog
        assert wd is not None   # OPEN has a watchdog
        events = self._wd(wd.on_receive(now, code == CMD_DEVICE_WATCHDOG and not is_req))
        if code == CMD_DEVICE_WATCHDOG:
            if is_req:
                self._answer(hdr, DIAMETER_SUCCESS)
                events += self._peer_dwr(now)
            else:
                self._base_hbh.pop(hdr.hop_by_hop_identifier, None)
            return events
        if code == CMD_DISCONNECT_PEER:
            if is_req:
                cause = A.as_u32(A.find(data, AVP_DISCONNECT_CAUSE))
                self._answer(hdr, DIAMETER_SUCCESS)
                return events + self._close("DPR received", CloseCause.DPR_RECEIVED, cause)
            return events
        # CER on an open connection: RFC 6733 says to reject it
        if is_req:
            self._answer(hdr, DIAMETER_UNABLE_TO_COMPLY, caps=True, error_message="already open")
        return events

    def _peer_dwr(self, now: float) -> list[Event]:
        """Follow the peer's REOPEN: a DWR at once after opening starts it, and
        three answered DWRs end it (RFC 3539 §3.4.1)."""
        n = self._peer_dwrs = self._peer_dwrs + 1
        if n == 1 and now - self._opened_at <= PEER_REOPEN_HINT:
            self.peer_reopen = True
            return [WatchdogChange(WatchdogAction.PEER_REOPEN)]
        if self.peer_reopen and n >= 3:
            self.peer_reopen = False
            return [WatchdogChange(WatchdogAction.PEER_OKAY)]
        return []

    @property
    def ready(self) -> bool:
        """Open, out of REOPEN on both sides: application traffic will be taken."""
        return (self.state is PeerState.OPEN and self.watchdog is not None and self.watchdog.is_okay
                and not self.peer_reopen)

    def _receive_cer(self, hdr: Header, data: bytes, now: float) -> list[Event]:
        try:
            remote, _ = parse_capabilities(data)
        except A.AvpError as exc:
            self._answer(hdr, exc.result_code, caps=True, error_message=str(exc))
            return self._close(f"invalid CER: {exc}", CloseCause.CAPABILITIES_FAILED,
                               result=exc.result_code)
        self.remote = remote
        result = self.accept_cer(remote) if self.accept_cer else DIAMETER_SUCCESS
        if result != DIAMETER_SUCCESS:
            self._answer(hdr, result, caps=True)
            return self._close(f"CER from {remote.origin_host} rejected", CloseCause.CAPABILITIES_FAILED,
                               result=result)
        neg = negotiate(self.local, remote)
        self.negotiated = neg
        self._answer(hdr, neg.result_code, caps=True)
        if neg.result_code != DIAMETER_SUCCESS:
            return self._close(f"CER from {remote.origin_host}: result {neg.result_code}",
                               CloseCause.CAPABILITIES_FAILED,
                               result=neg.result_code)
        if neg.tls and not self.tls_active:
            self.state = PeerState.WAIT_TLS
            self.deadline = now + self.ce_timeout
            return [StartTls(server_side=True)]
        return self._open(now)

    def _receive_cea(self, hdr: Header, data: bytes, now: float) -> list[Event]:
        try:
            remote, result = parse_capabilities(data)
        except A.AvpError as exc:
            return self._close(f"invalid CEA: {exc}", CloseCause.CAPABILITIES_FAILED,
                               result=exc.result_code)
        self.remote = remote
        if result != DIAMETER_SUCCESS:
            return self._close(f"CEA from {remote.origin_host} with result {result}",
                               CloseCause.CAPABILITIES_FAILED, result=result)
        neg = negotiate(self.local, remote)
        self.negotiated = neg
        if neg.result_code != DIAMETER_SUCCESS:
            return self._close(f"CEA from {remote.origin_host}: local result {neg.result_code}",
                               CloseCause.CAPABILITIES_FAILED,
                               result=neg.result_code)
        if neg.tls and not self.tls_active:
            self.state = PeerState.WAIT_TLS
            self.deadline = now + self.ce_timeout
            return [StartTls(server_side=False)]
        return self._open(now)
