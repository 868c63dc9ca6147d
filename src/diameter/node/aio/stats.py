"""Per-peer and per-command counters, result-code classes and latency percentiles.

The classes live in :mod:`diameter.node.protocol.counters` (compiled with the node core,
with the per-request counting that reads them); this is their public home."""
from __future__ import annotations

from ..protocol.counters import CommandStats, MinuteCounter, PeerStats, command_name, percentile
from ..protocol.inbound import result_class

__all__ = ["CommandStats", "MinuteCounter", "PeerStats", "command_name", "percentile", "result_class"]
