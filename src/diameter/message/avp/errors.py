"""AVP errors (python-diameter compatible names); all derive from DiameterError."""
from ...codec.errors import AvpDecodeError, AvpEncodeError, DiameterError

__all__ = ["AvpDecodeError", "AvpEncodeError", "DiameterError"]
