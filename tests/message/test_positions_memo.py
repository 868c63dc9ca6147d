"""Encoding keeps the positions of the last instance of a class encoded whole
(``Binding.pos_memo``): an instance with the same keys (the same string objects, in the same
order) and no None value reuses them. Whatever the sequence of instances, the bytes and the
errors must be those of an encoding without the memo."""
from __future__ import annotations

import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from diameter.codec import typed
from diameter.message._binding import binding_of
from diameter.message.avp.grouped import GrantedServiceUnit, MultipleServicesCreditControl
from diameter.message.commands.credit_control import CreditControlAnswer

ATTRS = [("session_id", "s;1"), ("result_code", 2001), ("origin_host", b"h"), ("origin_realm", b"r"),
         ("cc_request_type", 2), ("cc_request_number", 5), ("auth_application_id", 4),
         ("error_message", None), ("origin_state_id", 7)]


def _build(steps: list[tuple[int, bool, bool]], unknown: bool, group: int) -> CreditControlAnswer:
    a = CreditControlAnswer()
    for idx, none, copied_name in steps:
        name, value = ATTRS[idx]
        if copied_name:   # an equal name that is another string object: no memo hit
            name = "".join(list(name))
        setattr(a, name, None if none else value)
    if group:
        gsu = GrantedServiceUnit(cc_total_octets=group) if group > 1 else None
        a.add_multiple_services_credit_control(granted_service_unit=gsu, rating_group=group)
    if unknown:
        a.__dict__["not_an_attribute"] = 1
    return a


def _outcome(a: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return a.as_bytes()
        except Exception as exc:  # noqa: BLE001 - compared between the two encodings
            return (type(exc), str(exc))


def _forget() -> None:
    for cls in (CreditControlAnswer, MultipleServicesCreditControl, GrantedServiceUnit):
        binding_of(cls).pos_memo = ([], [], None)


step = st.tuples(st.integers(0, len(ATTRS) - 1), st.booleans(), st.booleans())
message = st.tuples(st.lists(step, max_size=8), st.booleans(), st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(st.lists(message, min_size=1, max_size=4))
def test_memo_gives_the_bytes_of_an_encoding_without_it(messages: list) -> None:
    _forget()
    for steps, unknown, group in messages:
        primed = _outcome(_build(steps, unknown, group))   # the memo of the messages before
        _forget()
        plain = _outcome(_build(steps, unknown, group))
        assert primed == plain
        again = _outcome(_build(steps, unknown, group))    # the memo of this very message
        assert again == plain


def test_a_repeated_build_hits_the_memo() -> None:
    steps = [(0, False, False), (1, False, False), (2, False, False), (3, False, False)]
    _forget()
    first = _build(steps, False, 2).as_bytes()
    b = binding_of(CreditControlAnswer)
    if typed.COMPILED:
        keys, positions, _known = b.pos_memo
        assert "session_id" in keys and positions == sorted(positions)
        assert len(positions) == len([k for k in keys if k in b.enc_slots]) == 6
    assert _build(steps, False, 2).as_bytes() == first
    _forget()
    assert _build(steps, False, 2).as_bytes() == first
