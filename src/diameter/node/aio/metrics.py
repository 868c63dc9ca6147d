"""Prometheus exporter for node statistics (needs ``prometheus-client``)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .node import DiameterNode

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import REGISTRY, Collector
except ImportError:  # pragma: no cover - optional dependency
    CounterMetricFamily = GaugeMetricFamily = REGISTRY = None  # type: ignore[assignment,misc]
    Collector = object  # type: ignore[assignment,misc]


class NodeCollector(Collector):  # type: ignore[misc,valid-type]
    """Reads a :class:`DiameterNode`'s live statistics at scrape time."""

    def __init__(self, node: DiameterNode, prefix: str = "diameter") -> None:
        if CounterMetricFamily is None:
            raise ImportError("prometheus-client is not installed: pip install prometheus-client")
        self.node = node
        self.prefix = prefix

    def collect(self) -> Iterator[Any]:
        p = self.prefix
        up = GaugeMetricFamily(f"{p}_peer_up", "1 when the peer connection is open", labels=["peer"])
        pending = GaugeMetricFamily(f"{p}_peer_pending_requests", "requests waiting for an answer",
                                    labels=["peer"])
        queued = GaugeMetricFamily(f"{p}_peer_send_queue_bytes", "bytes queued for sending", labels=["peer"])
        counters = {k: CounterMetricFamily(f"{p}_{k}", f"{k.replace('_', ' ')}", labels=["peer", "command"])
                    for k in ("requests_sent", "requests_received", "answers_sent", "answers_received",
                              "request_timeouts")}
        results = CounterMetricFamily(f"{p}_answers_by_result_class", "answers received or sent by result class",
                                      labels=["peer", "command", "direction", "result_class"])
        latency = GaugeMetricFamily(f"{p}_request_latency_seconds", "recent request latency percentiles",
                                    labels=["peer", "command", "quantile"])
        connects = CounterMetricFamily(f"{p}_peer_connects", "connections opened", labels=["peer"])
        for key, peer in list(self.node.peers.items()):
            up.add_metric([key], 1.0 if peer.is_open else 0.0)
            pending.add_metric([key], float(self.node.pending.count(key)))
            t = peer.protocol.transport if peer.protocol is not None else None
            queued.add_metric([key], float(t.get_write_buffer_size()) if t is not None else 0.0)
            connects.add_metric([key], float(peer.stats.connects))
            for code, cs in list(peer.stats.commands.items()):
                lbl = [key, str(code)]
                counters["requests_sent"].add_metric(lbl, cs.requests_sent)
                counters["requests_received"].add_metric(lbl, cs.requests_received)
                counters["answers_sent"].add_metric(lbl, cs.answers_sent)
                counters["answers_received"].add_metric(lbl, cs.answers_received)
                counters["request_timeouts"].add_metric(lbl, cs.timeouts)
                for cls, n in list(cs.result_classes.items()):
                    results.add_metric([*lbl, "received", cls], n)
                for cls, n in list(cs.sent_result_classes.items()):
                    results.add_metric([*lbl, "sent", cls], n)
                if cs.latencies:
                    for q, v in zip((0.5, 0.9, 0.99), cs.latency_percentiles(50, 90, 99)):
                        latency.add_metric([*lbl, str(q)], v)
        tls_failed = CounterMetricFamily(f"{p}_tls_handshake_failures", "failed TLS handshakes on listeners")
        tls_failed.add_metric([], float(self.node.tls_handshake_failures))
        yield from (up, pending, queued, connects, *counters.values(), results, latency, tls_failed)


def register(node: DiameterNode, registry: Any = None, prefix: str = "diameter") -> NodeCollector:
    """Register a collector for ``node`` (default: the global registry)."""
    c = NodeCollector(node, prefix)
    (registry or REGISTRY).register(c)
    return c
