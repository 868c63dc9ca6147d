"""Diameter node: sans-IO protocol core, asyncio node and python-diameter's threaded API."""
from ._helpers import DiameterUri, SequenceGenerator, SessionGenerator, parse_diameter_uri, validate_message_avps
from .node import Node, NodeError, NodeStats, NotRoutable, select_least_used_peer

__all__ = ["DiameterUri", "SequenceGenerator", "SessionGenerator", "parse_diameter_uri",
           "validate_message_avps", "Node", "NodeError", "NodeStats", "NotRoutable",
           "select_least_used_peer"]
