"""python-diameter's ``diameter.node._helpers``: its names, kept importable from here.

They live in :mod:`.uri`, :mod:`.identifiers` and :mod:`.mandatory`."""
from __future__ import annotations

from .identifiers import SequenceGenerator, SessionGenerator
from .mandatory import validate_message_avps
from .uri import DiameterUri, parse_diameter_uri

__all__ = ["DiameterUri", "SequenceGenerator", "SessionGenerator", "parse_diameter_uri",
           "validate_message_avps"]
