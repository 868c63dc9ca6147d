"""Prove the freeDiameter harness with two real freeDiameterd daemons."""

from __future__ import annotations

import pytest

from .freediameter import ConnectPeer

pytestmark = pytest.mark.interop


def test_two_daemons_exchange_capabilities(freediameter):
    a = freediameter("a.fd.test", "fd.test")
    b = freediameter("b.fd.test", "fd.test", peers=[ConnectPeer("a.fd.test", a.port)])
    b.wait_peer_state("a.fd.test", "STATE_OPEN")
    a.wait_peer_state("b.fd.test", "STATE_OPEN")
    # The responder logged the initiator's CER as it decoded it.
    cer = a.wait_for_log(r"Capabilities-Exchange-Request\(257\)\[R---\].*")
    assert '{ Origin-Host(264)[-M]="b.fd.test" }' in cer.group(0)
    assert "Auth-Application-Id(258)[-M]=4294967295" in cer.group(0)


def test_daemon_shutdown_sends_dpr_to_peer(freediameter):
    a = freediameter("a.fd.test", "fd.test")
    b = freediameter("b.fd.test", "fd.test", peers=[ConnectPeer("a.fd.test", a.port)])
    a.wait_peer_state("b.fd.test", "STATE_OPEN")
    mark = a.log_size()
    assert b.stop() == 0
    a.wait_for_log(r"Peer 'b\.fd\.test' sent a DPR with cause: REBOOTING", start=mark)
    a.wait_peer_state("b.fd.test", "STATE_ZOMBIE", start=mark)
