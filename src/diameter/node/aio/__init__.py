"""asyncio Diameter node (native API)."""
from .node import DiameterNode, NodeError, NotRoutable, PeerFailed, RequestTimeout  # noqa: F401
from .peer import PeerInfo  # noqa: F401
