"""The front's CCR reader (`ocs.mapping.read_request`, the server's ``read_request`` hook):
it reads the MSCCs straight as the engine's usages, and every CCR gives the same charge
request as the general path (`cc.ccr_walk.ccr_request`, then `charge_request` from its
MsccRequests), the tolerated bends of the grammar included; its ``mscc``, decoded on
first access, is the general path's."""
from __future__ import annotations

import struct

import pytest

from diameter.cc import ccr_walk, fastwire
from diameter.cc.types import Units
from diameter.cc.wire import Usage, build_ccr
from diameter.codec import AvpDecodeError
from diameter.message import Message
from diameter.message.avp import grouped as G
from diameter.ocs import mapping
from diameter.ocs.mapping import charge_of, charge_request, read_request
from diameter.ocs.model import RequestKind


def _avp(code: int, payload: bytes, vendor: int = 0) -> bytes:
    pad = b"\0" * (-len(payload) & 3)
    if vendor:
        return struct.pack("!III", code, (0xC0 << 24) | (12 + len(payload)), vendor) + payload + pad
    return struct.pack("!II", code, (0x40 << 24) | (8 + len(payload))) + payload + pad


def _with(raw: bytes, extra: bytes) -> bytes:
    """The CCR with AVPs appended (its length field set again)."""
    body = raw[20:] + extra
    return raw[:1] + (20 + len(body)).to_bytes(3, "big") + raw[4:20] + body


def _ccr(rtype: int = 2, **kw) -> bytes:
    args = dict(session_id="s;1", request_type=rtype, request_number=rtype - 1, origin_host="pgw.example.net",
                origin_realm="example.net", destination_realm="example.net", destination_host=None,
                service_context_id="32251@3gpp.org", subscription_ids=[(0, "491700000001")],
                usages=[Usage(1, requested=Units(total_octets=0), used=Units(total_octets=1 << 20))])
    args.update(kw)
    msg = build_ccr(**args)
    return msg.as_bytes()


def _service_information_only() -> bytes:
    msg = build_ccr(session_id="ims;1", request_type=1, request_number=0, origin_host="cscf", origin_realm="r",
                    destination_realm="r", destination_host=None, service_context_id="ext.01.001.8.32260@3gpp.org",
                    usages=[Usage(requested=Units(time=120))], top_level=True)
    msg.service_information = G.ServiceInformation(subscription_id=[G.SubscriptionId(0, "491700000002")])
    msg.auth_application_id = None
    return msg.as_bytes()


CASES = {
    "update": _ccr(),
    "initial, two MSCCs, service identifiers": _ccr(1, usages=[
        Usage(1, [7, 8], requested=Units(total_octets=5)), Usage(2, requested=Units(time=60))]),
    "final report, reporting reasons": _ccr(3, usages=[Usage(1, used=Units(input_octets=3, output_octets=4),
                                                                reporting_reason=2)]),
    "units at the top level": _ccr(2, usages=[Usage(None, [5], requested=Units(time=30), used=Units(time=31),
                                                    reporting_reason=3)], top_level=True),
    "operator-prefixed context, User-Name only": _ccr(1, service_context_id="ext.01.001.8.32260@3gpp.org",
                                                      subscription_ids=[], user_name="bob@example.net"),
    "Subscription-Id only in Service-Information": _service_information_only(),
    "event with an action, no units": _ccr(4, usages=[], requested_action=2),
    "event with an unknown action": _ccr(4, usages=[Usage(requested=Units(service_specific=1))], top_level=True,
                                         requested_action=9),
    "no Service-Context-Id, several USUs, a negative count": _with(
        _ccr(2, service_context_id=""),
        _avp(456, _avp(432, b"\0\0\0\3") + _avp(446, _avp(421, struct.pack("!Q", 10)))
             + _avp(446, _avp(420, b"\0\0\0\5")) + _avp(446, _avp(412, struct.pack("!Q", 2**63 + 5)))
             + _avp(872, b"\0\0\0\2", 10415))),
    "a second MSCC after vendor AVPs": _with(_ccr(2), _avp(456, _avp(432, b"\0\0\0\4"), 9) + _avp(
        456, _avp(432, b"\0\0\0\5") + _avp(1264, _avp(870, b"\0\0\0\1", 10415), 10415))),
}


def _usage(u):
    return (u.rating_group, u.service_identifier, u.requested, u.used, u.final)


def _charge(c):
    return (c.session_id, c.request_number, c.kind, c.subscriptions, c.service_context,
            [_usage(u) for u in c.services], c.action, c.peer)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fused_reader_gives_the_general_paths_charge_request(name):
    raw = CASES[name]
    general = ccr_walk.ccr_request(Message.from_bytes(raw), raw, "", "3gpp")
    fused = read_request(Message.from_bytes(raw), raw, "", "3gpp")
    assert general.services is None and fused.services is not None
    for kind in RequestKind:
        want = _charge(charge_request(general, kind))
        assert _charge(charge_request(fused, kind)) == want
        # the front's way: the slots read by it, then charge_of
        assert _charge(charge_of(fused, kind, fused.session_id, fused.request_number, fused._service_context_id,
                                 fused._subscription_ids, fused._requested_action, fused.services,
                                 fused.peer)) == want
    assert repr(fused.mscc) == repr(general.mscc)  # decoded from the message on first access
    assert fused.top_level_units == general.top_level_units
    assert fused.subscription_ids == general.subscription_ids


@pytest.mark.parametrize("name", sorted(CASES))
def test_both_ccr_readers_read_the_services_alike(name):
    raw = CASES[name]
    for msg in (Message.from_bytes(raw), None):
        walked = ccr_walk.walk(msg, raw, "", "3gpp", mapping.usage)
        scanned = fastwire.ccr_request(msg, raw, "", "3gpp", mapping.usage)
        assert [_usage(u) for u in walked.services] == [_usage(u) for u in scanned.services]
        assert repr(walked.mscc) == repr(scanned.mscc)


def test_without_a_message_the_msccs_are_read_too():
    raw = CASES["update"]
    req = ccr_walk.walk(None, raw, "", "3gpp", mapping.usage)
    assert req._mscc == ccr_walk.walk(None, raw, "", "3gpp").mscc  # nothing to decode them from later
    assert len(req.services) == 1 and req.services[0].rating_group == 1


@pytest.mark.parametrize("bad", [
    _avp(456, _avp(432, b"\0\1")),                                  # a 2-byte Rating-Group
    _avp(456, _avp(446, b"\0\0\1\xa4\x40\0\0\xff")),                # a CC-Total-Octets overrunning its group
])
def test_a_malformed_mscc_is_the_same_typed_error_on_every_reader(bad):
    """The server answers such a CCR with an error CCA for it alone (its reader's exception):
    the fused reader must fail as the general one does, never give a partial request."""
    raw = _with(CASES["update"], bad)
    errors = []
    for read in (lambda m: ccr_walk.ccr_request(m, raw, "", "3gpp"), lambda m: read_request(m, raw, "", "3gpp"),
                 lambda m: fastwire.ccr_request(m, raw, "", "3gpp", mapping.usage)):
        with pytest.raises((ValueError, AvpDecodeError)) as info:
            read(Message.from_bytes(raw))
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1] == errors[2]
