"""Sans-IO peer state machine: every state, timer and error path, no sleeping."""
import random

from diameter.node.protocol import avps as A
from diameter.node.protocol.connection import (AnswerReceived, Closed, Opened, PeerConnection, PeerState,
                                               RequestReceived, StartTls, WatchdogChange, elect)
from diameter.node.protocol.constants import (
    APP_RELAY, AVP_ORIGIN_REALM, CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG,
    DIAMETER_INVALID_MESSAGE_LENGTH, DIAMETER_MISSING_AVP, DIAMETER_NO_COMMON_APPLICATION,
    DIAMETER_NO_COMMON_SECURITY, DIAMETER_SUCCESS, DIAMETER_UNABLE_TO_COMPLY,
    DIAMETER_UNABLE_TO_DELIVER, DIAMETER_UNKNOWN_PEER, DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU,
    DISCONNECT_REBOOTING, FLAG_REQUEST, INBAND_NO_SECURITY, INBAND_TLS)
from diameter.node.protocol.framing import parse_header
from diameter.node.protocol.watchdog import WatchdogAction, WatchdogState

from .helpers import app_request, caps, pair, pump, result_of


def opened(a=None, b=None, **kw):
    a, b = pair(a, b, **kw)
    a.start(0.0)
    b.start(0.0)
    ea, eb = pump(a, b, 0.0)
    return a, b, ea, eb


def test_cer_cea_opens_both_sides():
    a, b, ea, eb = opened()
    assert a.state is PeerState.OPEN and b.state is PeerState.OPEN
    assert isinstance(ea[0], Opened) and ea[0].capabilities.origin_host == "b.test.realm"
    assert isinstance(eb[0], Opened) and eb[0].capabilities.origin_host == "a.test.realm"
    assert eb[0].capabilities.host_ip_addresses == ["127.0.0.1"]
    assert eb[0].capabilities.supported_vendor_ids == {10415}
    assert eb[0].capabilities.origin_state_id == 1
    assert ea[0].negotiated.auth_application_ids == {4}


def test_no_common_application_5010():
    a, b, ea, eb = opened(caps("a.x", auth=(4,)), caps("b.x", auth=(16777238,)))
    assert [type(e) for e in eb] == [Closed] and eb[0].result_code == DIAMETER_NO_COMMON_APPLICATION
    assert isinstance(ea[0], Closed) and ea[0].result_code == DIAMETER_NO_COMMON_APPLICATION


def test_relay_peer_takes_every_application():
    a, b, ea, eb = opened(caps("a.x", auth=(APP_RELAY,)), caps("b.x", auth=(16777238, 4)))
    assert isinstance(eb[0], Opened) and eb[0].negotiated.peer_is_relay
    assert ea[0].negotiated.auth_application_ids == {4, 16777238}


def test_vendor_specific_application_intersection():
    a, b, ea, eb = opened(caps("a.x", auth=(), vendor_specific_application_ids=[(10415, 16777238, None)]),
                          caps("b.x", auth=(), vendor_specific_application_ids=[(10415, 16777238, None)]))
    assert isinstance(ea[0], Opened) and ea[0].negotiated.auth_application_ids == {16777238}


def test_no_common_security_5017():
    a, b, ea, eb = opened(caps("a.x", inband_security_ids={INBAND_TLS}),
                          caps("b.x", inband_security_ids={INBAND_NO_SECURITY}))
    assert eb[0].result_code == DIAMETER_NO_COMMON_SECURITY


def test_inband_tls_negotiated_asks_transport_for_tls():
    a, b, ea, eb = opened(caps("a.x", inband_security_ids={INBAND_TLS}),
                          caps("b.x", inband_security_ids={INBAND_NO_SECURITY, INBAND_TLS}))
    assert ea == [StartTls(server_side=False)] and eb == [StartTls(server_side=True)]
    assert a.state is PeerState.WAIT_TLS
    assert isinstance(a.tls_established(1.0)[0], Opened) and a.is_open
    # a handshake that never finishes times out
    assert isinstance(b.handle_timer(100.0)[0], Closed)


def test_unknown_peer_rejected_3010():
    a, b = pair()
    b.accept_cer = lambda c: DIAMETER_UNKNOWN_PEER
    a.start(0.0)
    b.start(0.0)
    ea, eb = pump(a, b, 0.0)
    assert eb[0].result_code == DIAMETER_UNKNOWN_PEER and b.state is PeerState.CLOSED
    assert ea[0].result_code == DIAMETER_UNKNOWN_PEER


def test_election_is_case_insensitive_and_higher_wins():
    assert elect("B.realm", "a.realm")
    assert not elect("a.realm", "B.realm")


def test_capabilities_exchange_timeouts():
    a, b = pair(ce_timeout=5)
    a.start(0.0)
    b.start(0.0)
    assert a.handle_timer(4.9) == [] and b.handle_timer(4.9) == []
    assert isinstance(a.handle_timer(5.0)[0], Closed)
    assert isinstance(b.handle_timer(5.0)[0], Closed)


def test_non_cer_first_message_closes():
    a, b = pair()
    b.start(0.0)
    ev = b.receive_data(app_request(), 0.0)
    assert isinstance(ev[0], Closed) and b.state is PeerState.CLOSED


def test_cer_missing_origin_host_5005():
    _, b = pair()
    b.start(0.0)
    cer = A.message(FLAG_REQUEST, CMD_CAPABILITIES_EXCHANGE, 0, 1, 1, [A.text(AVP_ORIGIN_REALM, "x")])
    ev = b.receive_data(cer, 0.0)
    out = b.take_outgoing()
    assert result_of(out[0]) == DIAMETER_MISSING_AVP and isinstance(ev[0], Closed)


def test_application_messages_become_events():
    a, b, _, _ = opened()
    req = app_request(hbh=55)
    ev = b.receive_data(req, 1.0)
    assert isinstance(ev[0], RequestReceived) and ev[0].header.hop_by_hop_identifier == 55
    ans = bytearray(req)
    ans[4] &= ~FLAG_REQUEST
    ev = a.receive_data(bytes(ans), 1.0)
    assert isinstance(ev[0], AnswerReceived)


def test_watchdog_sends_dwr_after_tw_and_dwa_keeps_okay():
    a, b, _, _ = opened(tw=10)
    t = a.watchdog.deadline
    assert 8 <= t <= 12  # Tw with +-2 s jitter
    assert a.handle_timer(t - 0.01) == []
    a.handle_timer(t)
    out = a.take_outgoing()
    assert parse_header(out[0]).command_code == CMD_DEVICE_WATCHDOG and a.watchdog.pending
    for d in out:
        b.receive_data(d, t)
    for d in b.take_outgoing():
        assert result_of(d) == DIAMETER_SUCCESS
        a.receive_data(d, t)
    assert not a.watchdog.pending and a.watchdog.state is WatchdogState.OKAY


def test_traffic_postpones_watchdog():
    a, b, _, _ = opened(tw=10)
    a.receive_data(app_request(), 9.0)
    assert a.watchdog.deadline >= 19.0


def test_watchdog_suspect_then_down_then_failback():
    a, b, _, _ = opened(tw=10)
    t = a.watchdog.deadline
    a.handle_timer(t)                      # DWR sent, no answer
    t = a.watchdog.deadline
    ev = a.handle_timer(t)                 # -> SUSPECT, failover
    assert ev == [WatchdogChange(WatchdogAction.FAILOVER)] and a.watchdog.state is WatchdogState.SUSPECT
    # any message from the peer brings it back (failback)
    ev = a.receive_data(app_request(), t + 1)
    assert WatchdogChange(WatchdogAction.FAILBACK) in ev and a.watchdog.state is WatchdogState.OKAY
    t = a.watchdog.deadline
    a.handle_timer(t)
    t = a.watchdog.deadline
    a.handle_timer(t)
    t = a.watchdog.deadline
    ev = a.handle_timer(t)                 # SUSPECT timer expires -> DOWN, close
    assert isinstance(ev[0], Closed) and "watchdog" in ev[0].reason


def test_reopen_needs_three_dwas():
    a, b = pair(tw=10, reopen=True)
    b.reopen = False
    a.start(0.0)
    b.start(0.0)
    pump(a, b, 0.0)
    assert a.watchdog.state is WatchdogState.REOPEN and a.watchdog.num_dwa == 1  # DWR sent at open
    now = 0.0
    for _ in range(1):
        now = a.watchdog.deadline
        a.handle_timer(now)
        pump(a, b, now)
        assert a.watchdog.state is WatchdogState.REOPEN
    now = a.watchdog.deadline
    a.handle_timer(now)
    ea, _ = pump(a, b, now)
    assert WatchdogChange(WatchdogAction.FAILBACK) in ea and a.watchdog.state is WatchdogState.OKAY


def test_reopen_without_answers_closes():
    a, b = pair(tw=10, reopen=True)
    b.reopen = False
    a.start(0.0)
    b.start(0.0)
    pump(a, b, 0.0)
    a.take_outgoing()  # lose the DWR
    ev = []
    for _ in range(3):
        ev += a.handle_timer(a.watchdog.deadline)
    assert any(isinstance(e, Closed) for e in ev)


def test_dpr_dpa_with_cause():
    a, b, _, _ = opened()
    assert a.disconnect(1.0, DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU) == []
    assert a.state is PeerState.CLOSING
    ea, eb = pump(a, b, 1.0)
    assert eb == [Closed("DPR received", DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU)]
    assert ea == [Closed("DPA received", DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU)]


def test_dpa_timeout_and_answers_during_closing():
    a, b, _, _ = opened(dpa_timeout=3)
    a.disconnect(1.0, DISCONNECT_REBOOTING)
    a.take_outgoing()
    ans = bytearray(app_request())
    ans[4] &= ~FLAG_REQUEST
    assert isinstance(a.receive_data(bytes(ans), 1.5)[0], AnswerReceived)
    assert a.receive_data(app_request(), 1.5) == []
    assert result_of(a.take_outgoing()[0]) == DIAMETER_UNABLE_TO_DELIVER
    assert a.handle_timer(3.9) == []
    assert isinstance(a.handle_timer(4.0)[0], Closed)


def test_garbage_gets_error_answer_and_close():
    a, b, _, _ = opened()
    bad = bytearray(app_request())
    bad[1:4] = (21).to_bytes(3, "big")  # not a multiple of 4
    ev = b.receive_data(bytes(bad), 1.0)
    assert isinstance(ev[-1], Closed) and ev[-1].result_code == DIAMETER_INVALID_MESSAGE_LENGTH
    out = b.take_outgoing()
    assert result_of(out[0]) == DIAMETER_INVALID_MESSAGE_LENGTH


def test_good_message_before_garbage_still_delivered():
    a, b, _, _ = opened()
    ev = b.receive_data(app_request() + b"\x07" * 20, 1.0)
    assert isinstance(ev[0], RequestReceived) and isinstance(ev[-1], Closed)


def test_second_cer_on_open_connection_rejected():
    a, b, _, _ = opened()
    a2 = PeerConnection(caps("a.test.realm"), True, 0.0, rng=random.Random(3))
    a2.start(0.0)
    b.receive_data(a2.take_outgoing()[0], 1.0)
    assert result_of(b.take_outgoing()[0]) == DIAMETER_UNABLE_TO_COMPLY and b.is_open


def test_transport_loss_reports_closed_once():
    a, b, _, _ = opened()
    assert isinstance(a.connection_lost(1.0)[0], Closed)
    assert a.connection_lost(1.0) == [] and a.receive_data(app_request(), 1.0) == []


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=300), st.booleans())
def test_arbitrary_bytes_never_crash_the_state_machine(blob, open_first):
    a, b = pair()
    a.start(0.0)
    b.start(0.0)
    if open_first:
        pump(a, b, 0.0)
    events = b.receive_data(blob, 1.0)
    assert isinstance(events, list)
    for d in b.take_outgoing():
        assert len(d) >= 20 and d[0] == 1
    # whatever happened, timers still work and the connection ends up usable or closed
    b.handle_timer(1000.0)
    assert b.state in (PeerState.OPEN, PeerState.CLOSED, PeerState.WAIT_CER)


def test_connection_literals_match_the_constants():
    from diameter.node.protocol import connection as C
    from diameter.node.protocol.constants import (CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG,
                                                  CMD_DISCONNECT_PEER, FLAG_REQUEST)
    assert (C._CER, C._DWR, C._DPR, C._FLAG_REQUEST) == (CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG,
                                                        CMD_DISCONNECT_PEER, FLAG_REQUEST)
