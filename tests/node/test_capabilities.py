from diameter.node.protocol import avps as A
from diameter.node.protocol.capabilities import negotiate, parse_capabilities
from diameter.node.protocol.constants import DIAMETER_SUCCESS, FLAG_REQUEST

from .helpers import caps


def test_round_trip_all_fields():
    c = caps("h.realm", auth=(4, 1), acct=(3,), vendor_specific_application_ids=[(10415, 16777238, None)],
             inband_security_ids={0, 1}, firmware_revision=7)
    c.host_ip_addresses = ["127.0.0.1", "::1"]
    data = A.message(FLAG_REQUEST, 257, 0, 1, 1, c.avps())
    back, result = parse_capabilities(data)
    assert result is None
    assert back.origin_host == "h.realm" and back.host_ip_addresses == ["127.0.0.1", "::1"]
    assert back.auth_application_ids == {1, 4} and back.acct_application_ids == {3}
    assert back.vendor_specific_application_ids == [(10415, 16777238, None)]
    assert back.inband_security_ids == {0, 1} and back.firmware_revision == 7
    assert back.vendor_id == 10415 and back.product_name == "test"


def test_negotiate_acct_only_and_tls_choice():
    n = negotiate(caps("a", auth=(), acct=(3,)), caps("b", auth=(), acct=(3,)))
    assert n.result_code == DIAMETER_SUCCESS and n.acct_application_ids == {3} and not n.tls
    n = negotiate(caps("a", inband_security_ids={0, 1}), caps("b", inband_security_ids={0, 1}))
    assert n.tls
    n = negotiate(caps("a", inband_security_ids={0, 1}), caps("b"))
    assert not n.tls and n.result_code == DIAMETER_SUCCESS
