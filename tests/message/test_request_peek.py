"""Several scalar reads of a decoded message each decode their AVP alone (``typed.read_one``).

A server's handler reads a few scalars of a request (Session-Id, CC-Request-Type,
CC-Request-Number) and no group: on the compiled build each such read decodes that AVP
alone, found by a scan without tuples (``typed.last_at``), until a read needs the whole
message (a list, a group, more than ``PARTIAL_READS`` attributes). Whatever the order of
reads, sets and deletes, every value must be what a full decode gives, errors the same,
and the message must encode as a fully decoded one does.
"""
from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import typed
from diameter.codec.errors import AvpDecodeError, DecodeError
from diameter.codec.frame import frame_at
from diameter.message import Message
from diameter.message.commands.credit_control import (CreditControlRequest, RequestedServiceUnit,
                                                      UsedServiceUnit)

SCALARS = ("session_id", "cc_request_type", "cc_request_number", "origin_host", "destination_realm",
           "auth_application_id", "service_context_id", "origin_realm", "termination_cause", "user_name")


def _ccr(n: int = 7) -> bytes:
    r = CreditControlRequest()
    r.session_id = f"client;1;{n}"
    r.origin_host = b"client"
    r.origin_realm = b"realm"
    r.destination_realm = b"realm"
    r.auth_application_id = 4
    r.service_context_id = "32251@3gpp.org"
    r.cc_request_type = 2
    r.cc_request_number = n
    r.add_subscription_id(subscription_id_type=0, subscription_id_data="41780000001")
    r.add_multiple_services_credit_control(
        requested_service_unit=RequestedServiceUnit(cc_total_octets=1_000_000),
        used_service_unit=[UsedServiceUnit(cc_total_octets=500_000)], rating_group=100)
    return r.as_bytes()


def _with_avp(data: bytes, avp: bytes) -> bytes:
    out = data + avp
    return out[:1] + len(out).to_bytes(3, "big") + out[4:]


def _u32_avp(code: int, value_bytes: bytes) -> bytes:
    return code.to_bytes(4, "big") + bytes([0x40]) + (8 + len(value_bytes)).to_bytes(3, "big") + value_bytes


def _decoded(data: bytes) -> Any:
    """The message of ``data``, its class set to read alone again (an earlier read of a group
    after partial reads makes the next first reads of the class decode whole for a while)."""
    m = Message.from_bytes(data)
    b = typed.BINDINGS.get(type(m))
    if b is not None:
        b.partial_score = 0
    return m


def _full(data: bytes) -> Any:
    """The message of ``data`` decoded whole (a group read first)."""
    m = Message.from_bytes(data)
    assert m.multiple_services_credit_control
    return m


def _snapshot(m: Any) -> list[Any]:
    return [getattr(m, name) for name in SCALARS] + [
        m.subscription_id[0].subscription_id_data,
        m.multiple_services_credit_control[0].used_service_unit[0].cc_total_octets]


@pytest.mark.parametrize("order", list(itertools.permutations(SCALARS[:4], 3)))
def test_reads_in_any_order_match_a_full_decode(order: tuple[str, ...]) -> None:
    data = _ccr()
    full = _full(data)
    expected = _snapshot(full)
    m = _decoded(data)
    for name in order:
        assert getattr(m, name) == getattr(full, name), name
        assert getattr(m, name) == getattr(full, name), name      # read again: the same
    assert _snapshot(m) == expected          # then a group and the rest: the whole message
    assert m.as_bytes() == data


def test_scalar_reads_leave_the_rest_undecoded_and_encode_unchanged() -> None:
    data = _ccr()
    m = _decoded(data)
    assert (m.session_id, m.cc_request_type, m.cc_request_number) == ("client;1;7", 2, 7)
    assert m.user_name is None     # absent
    st_ = m.__dict__.get("_st")
    if typed.EAGER[0]:     # compiled: three AVPs decoded alone, no group
        assert st_ is not None and st_.partial and set(st_.snap) == {"session_id", "cc_request_type",
                                                                    "cc_request_number"}
        assert "multiple_services_credit_control" not in m.__dict__
    assert m.as_bytes() == data
    assert Message.from_bytes(data).as_bytes() == data


def test_more_reads_than_the_bound_decode_the_whole_message() -> None:
    data = _ccr()
    full = _full(data)
    m = _decoded(data)
    for name in SCALARS:
        assert getattr(m, name) == getattr(full, name), name
    assert len(SCALARS) > typed.PARTIAL_READS
    if typed.EAGER[0]:
        assert not m.__dict__["_st"].partial
    assert _snapshot(m) == _snapshot(full)
    assert m.as_bytes() == data


def test_sets_and_deletes_between_reads_are_kept() -> None:
    data = _ccr()
    results = []
    for m in (_decoded(data), _full(data)):   # the same steps on a fully decoded message
        assert m.session_id == "client;1;7"
        m.cc_request_number = 99                 # set before its first read
        assert m.cc_request_type == 2
        del m.session_id                         # deleted after a read
        after_delete = m.session_id
        assert m.origin_host == b"client"
        out = m.as_bytes()
        assert m.multiple_services_credit_control[0].rating_group == 100   # a group: the rest decoded
        assert m.cc_request_number == 99
        again = Message.from_bytes(out)
        assert again.cc_request_number == 99 and again.cc_request_type == 2
        results.append((after_delete, m.session_id, out, m.as_bytes()))
    assert results[0] == results[1]


def test_a_change_after_reads_is_encoded() -> None:
    data = _ccr()
    m = _decoded(data)
    assert m.cc_request_type == 2 and m.cc_request_number == 7
    m.cc_request_type = 3
    again = Message.from_bytes(m.as_bytes())
    assert again.cc_request_type == 3 and again.cc_request_number == 7 and again.session_id == "client;1;7"
    assert again.subscription_id[0].subscription_id_data == "41780000001"


def test_a_later_occurrence_wins_on_a_second_read() -> None:
    data = _with_avp(_ccr(), _u32_avp(416, (3).to_bytes(4, "big")))    # a second CC-Request-Type
    m = _decoded(data)
    assert m.session_id == "client;1;7"
    assert m.cc_request_type == _full(data).cc_request_type == 3


def test_a_value_that_does_not_decode_raises_as_in_a_full_decode() -> None:
    data = _with_avp(_ccr(), _u32_avp(416, bytes(8)))     # CC-Request-Type of 8 bytes: not Enumerated
    m = _decoded(data)
    assert m.session_id == "client;1;7"
    with pytest.raises(DecodeError) as second:
        print(m.cc_request_type)
    full = Message.from_bytes(data)
    assert full.multiple_services_credit_control[0].rating_group == 100
    with pytest.raises(DecodeError) as after_full:
        print(full.cc_request_type)
    assert type(second.value) is type(after_full.value) and str(second.value) == str(after_full.value)
    assert m.cc_request_number == 7


def _reference_last_at(buf: bytes, code: int, vendor: int, start: int, end: int) -> int:
    found = -1
    pos = start
    try:
        while pos < end:
            c, _f, v, _ps, _pe, nxt = frame_at(buf, pos, end)
            if c == code and v == vendor:
                found = pos
            pos = nxt
    except AvpDecodeError:
        return -2
    return found


def _avp(code: int, vendor: int, payload: bytes, pad: bytes = b"") -> bytes:
    flags = 0x80 if vendor else 0x40
    n = len(payload) + (12 if vendor else 8)
    head = code.to_bytes(4, "big") + bytes([flags]) + n.to_bytes(3, "big")
    return head + (vendor.to_bytes(4, "big") if vendor else b"") + payload + (pad or bytes(-n & 3))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 263, 268, 0xFFFFFFFF]), st.sampled_from([0, 10415, 0xFFFFFFFF]),
                          st.binary(max_size=9)), max_size=6),
       st.sampled_from([1, 263, 268, 0xFFFFFFFF]), st.sampled_from([0, 10415, 0xFFFFFFFF]),
       st.integers(0, 40), st.binary(max_size=3))
def test_last_at_agrees_with_frame_at(avps: list, code: int, vendor: int, cut: int, junk: bytes) -> None:
    buf = b"".join(_avp(c, v, p) for c, v, p in avps)
    for b in (buf, buf + junk, buf[:max(0, len(buf) - cut)], junk + buf):
        assert typed.last_at(b, code, vendor, 0, len(b)) == _reference_last_at(b, code, vendor, 0, len(b))
    bad_pad = _avp(code, vendor, b"x", pad=b"\x00\x01\x00")
    assert typed.last_at(bad_pad, code, vendor, 0, len(bad_pad)) == -2


SCENARIO = """
import json
from diameter.message import Message
from diameter.message.commands.credit_control import CreditControlRequest, RequestedServiceUnit
r = CreditControlRequest()
r.session_id = "c;1;2"; r.origin_host = b"c"; r.origin_realm = b"r"; r.destination_realm = b"r"
r.auth_application_id = 4; r.cc_request_type = 2; r.cc_request_number = 5
r.add_multiple_services_credit_control(requested_service_unit=RequestedServiceUnit(cc_total_octets=9),
                                       rating_group=100)
data = r.as_bytes()
m = Message.from_bytes(data)
reads = [m.session_id, m.cc_request_type, m.cc_request_number, m.user_name]
m.cc_request_number = 6
out = Message.from_bytes(m.as_bytes())
print(json.dumps([reads, out.cc_request_number, out.session_id,
                  out.multiple_services_credit_control[0].rating_group]))
"""


@pytest.mark.parametrize("pure", [False, True])
def test_compiled_and_source_builds_read_the_same(run_scenario: Any, pure: bool) -> None:
    assert run_scenario(SCENARIO, pure) == [["c;1;2", 2, 5, None], 6, "c;1;2", 100]
