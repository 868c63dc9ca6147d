"""An independent reference encoder for typed messages: the tests compare the fast encoder with it."""
from __future__ import annotations

from typing import Any

from diameter.codec.frame import encode_avp
from diameter.message._binding import binding_of
from diameter.message.avp import Avp


def ref_body(obj: Any) -> bytes:
    """The AVPs of ``obj``: each attribute in binding order, a group's payload recursively."""
    b = binding_of(type(obj))
    d = obj.__dict__
    out = []
    for spec in b.ordered:
        v = d.get(spec.name)
        for x in (v if type(v) is list else [v]):
            if x is None:
                continue
            if spec.type_class is not None and not isinstance(x, Avp):
                payload = ref_body(x) + b"".join(a.as_bytes() for a in x.__dict__.get("additional_avps") or [])
                out.append(encode_avp(spec.code, spec.flagbits >> 24, spec.vendor, payload))
            else:
                out.append(spec.encode_one(x))
    return b"".join(out)


def ref(msg: Any) -> bytes:
    """A message's body (everything after the header) as the reference encodes it."""
    return ref_body(msg) + b"".join(a.as_bytes() for a in msg.__dict__.get("_additional_avps") or [])
