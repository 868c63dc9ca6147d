"""asyncio Diameter node (native API): ``DiameterNode`` and what it raises."""
from .node import DiameterNode, NodeError, NotRoutable, PeerFailed, RequestTimeout
from .peer import PeerInfo
from .readiness import PeerNotReady
from .reply import Reply

__all__ = ["DiameterNode", "NodeError", "NotRoutable", "PeerFailed", "PeerInfo", "PeerNotReady",
           "Reply", "RequestTimeout"]
