"""Diameter node: sans-IO protocol core, asyncio node and python-diameter's threaded API."""
from .identifiers import SequenceGenerator, SessionGenerator
from .mandatory import validate_message_avps
from .uri import DiameterUri, parse_diameter_uri
from .node import Node, NodeError, NodeStats, NotRoutable, select_least_used_peer

__all__ = ["DiameterUri", "SequenceGenerator", "SessionGenerator", "parse_diameter_uri",
           "validate_message_avps", "Node", "NodeError", "NodeStats", "NotRoutable",
           "select_least_used_peer"]
