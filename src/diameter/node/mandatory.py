"""The mandatory AVPs a message lacks (python-diameter's ``validate_message_avps``)."""
from __future__ import annotations

import logging
from typing import Any


def validate_message_avps(msg: Any) -> list:
    """Return an ``Avp`` (code/vendor set) for each mandatory AVP the message lacks.

    Works for message classes that describe their AVPs in ``avp_def``; any other
    message yields an empty list.
    """
    defs = getattr(msg, "avp_def", None)
    if not defs:
        return []
    from ..message import Avp
    missing = []
    for d in defs:
        if d.is_required and getattr(msg, d.attr_name, None) is None:
            logging.getLogger("diameter.node").debug(
                "mandatory AVP %s (vendor %s) missing", d.avp_code, d.vendor_id)
            missing.append(Avp.new(d.avp_code, d.vendor_id))
    return missing
