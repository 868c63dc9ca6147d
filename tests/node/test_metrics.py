import asyncio

import pytest

from .aio_helpers import ccr, client, server
from .test_aio_node import aio

prometheus_client = pytest.importorskip("prometheus_client", reason="prometheus-client (optional extra) not installed")


@aio
async def test_prometheus_exporter_reports_peer_and_command_stats():
    from diameter.node.aio.metrics import register
    srv = await server()
    cli = await client([("server.test.realm", srv.listen_ports[0])])
    await asyncio.gather(*(cli.request(ccr("client.test.realm", i)) for i in range(10)))
    reg = prometheus_client.CollectorRegistry()
    register(cli, reg)
    text = prometheus_client.generate_latest(reg).decode()
    assert 'diameter_peer_up{peer="server.test.realm"} 1.0' in text
    assert 'diameter_requests_sent_total{command="272",peer="server.test.realm"} 10.0' in text
    assert 'diameter_answers_by_result_class_total{command="272",direction="received",peer="server.test.realm",result_class="2xxx"} 10.0' in text
    assert 'diameter_request_latency_seconds{command="272",peer="server.test.realm",quantile="0.99"}' in text
    await cli.stop()
    await srv.stop()
