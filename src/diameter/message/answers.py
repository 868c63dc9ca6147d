"""Answers that fill themselves: :meth:`Message.answer`.

python-diameter's ``to_answer()`` gives an empty answer of the right class and
keeps doing so. ``answer()`` also copies what RFC 6733 §6.2 and the
applications say an answer repeats from its request, and sets the result:

- Session-Id, the application id AVPs (Auth-/Acct-/Vendor-Specific-Application-Id),
  Proxy-Info (all, in order: RFC 6733 §6.7.3);
- CC-Request-Type and CC-Request-Number (credit control, RFC 4006 §3.2),
  Accounting-Record-Type and -Number (accounting, RFC 6733 §9.7.2);
- Result-Code (or Experimental-Result for a vendor's code), Origin-Host and
  Origin-Realm when given (``diameter.node.aio.DiameterNode.answer`` gives its own).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._binding import binding_of

if TYPE_CHECKING:
    from ._base import Message

__all__ = ["COPIED_AVPS", "fill_answer"]

# (code, vendor) of the AVPs an answer repeats from its request
COPIED_AVPS: tuple[tuple[int, int], ...] = (
    (263, 0),     # Session-Id
    (258, 0),     # Auth-Application-Id
    (259, 0),     # Acct-Application-Id
    (260, 0),     # Vendor-Specific-Application-Id
    (416, 0),     # CC-Request-Type
    (415, 0),     # CC-Request-Number
    (480, 0),     # Accounting-Record-Type
    (485, 0),     # Accounting-Record-Number
    (284, 0),     # Proxy-Info
)
_RESULT_CODE = (268, 0)
_ORIGIN_HOST = (264, 0)
_ORIGIN_REALM = (296, 0)


def _typed_name(cls: type, key: tuple[int, int]) -> str | None:
    if not getattr(cls, "avp_def", None):
        return None
    spec = binding_of(cls).by_key.get(key[0] | (key[1] << 32))
    return spec.name if spec is not None else None


def _has(msg: Any, key: tuple[int, int]) -> bool:
    name = _typed_name(type(msg), key)
    if name is not None:
        value = getattr(msg, name, None)
        return value is not None and value != []
    return bool(msg.find_avps(key))


def _put(ans: Any, key: tuple[int, int], value: Any) -> None:
    """Set an AVP on the answer: its attribute when typed, else an AVP of the dictionary's type."""
    name = _typed_name(type(ans), key)
    if name is not None:
        setattr(ans, name, value)
        return
    from .avp import Avp
    ans.append_avp(Avp.new(key[0], key[1], value=value))


def _copy(req: Any, ans: Any, key: tuple[int, int]) -> None:
    if _has(ans, key):
        return
    req_name = _typed_name(type(req), key)
    ans_name = _typed_name(type(ans), key)
    if req_name is not None and ans_name is not None:
        value = getattr(req, req_name, None)
        if value is not None and value != []:
            setattr(ans, ans_name, value)
        return
    for avp in req.find_avps(key):        # untyped on either side: copy the AVPs as they are
        ans.append_avp(avp)


def fill_answer(request: Message, answer: Message, result_code: int | None = None, *,
                origin_host: str | bytes | None = None, origin_realm: str | bytes | None = None,
                vendor_id: int = 0, error_message: str | None = None) -> Message:
    """Complete ``answer`` from ``request``; values already set on the answer are kept.

    ``result_code`` with ``vendor_id`` sets Experimental-Result instead of
    Result-Code. A 3xxx (protocol error) result sets the answer's E bit.
    """
    for key in COPIED_AVPS:
        _copy(request, answer, key)
    for key, value in ((_ORIGIN_HOST, origin_host), (_ORIGIN_REALM, origin_realm)):
        if value is not None and not _has(answer, key):
            _put(answer, key, value.encode("ascii") if isinstance(value, str) else value)
    if result_code is not None:
        if vendor_id:
            name = _typed_name(type(answer), (297, 0))
            if name is not None:
                from .avp.grouped import ExperimentalResult
                setattr(answer, name, ExperimentalResult(
                    vendor_id=vendor_id, experimental_result_code=result_code))
            else:
                from .avp import Avp
                answer.append_avp(Avp.new(297, 0, value=[
                    Avp.new(266, 0, value=vendor_id), Avp.new(298, 0, value=result_code)]))
        else:
            _put(answer, _RESULT_CODE, result_code)
        if 3000 <= result_code < 4000:
            answer.header.is_error = True
    if error_message is not None:
        _put(answer, (281, 0), error_message)
    return answer
