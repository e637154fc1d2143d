"""Prometheus metrics: gateway counts, latency, in-flight, and executors' @monitor."""
from __future__ import annotations

import httpx
import pytest
from serve_helpers import FakeRouter

from shoal import Executor, Flow, monitor, requests
from shoal.client import Client
from shoal.document import Document, DocumentArray
from shoal.errors import ExecutorError
from shoal.flow.flow import free_port
from shoal.serve.gateway import BackgroundGateways, GatewayConfig, GatewayGroup

pytestmark = pytest.mark.timeout(60)


def test_gateway_group_serves_metrics():
    group = GatewayGroup(FakeRouter(), [GatewayConfig(protocol="grpc", host="127.0.0.1"),
                                        GatewayConfig(protocol="http", host="127.0.0.1")],
                         monitoring=True, monitoring_host="127.0.0.1")
    with BackgroundGateways(group) as running:
        grpc_port, http_port = running.ports
        with Client(host="127.0.0.1", port=grpc_port) as c:
            c.post("/search", DocumentArray.empty(4), request_size=2)
            with pytest.raises(ExecutorError):
                c.post("/error", Document())
        with Client(host="127.0.0.1", port=http_port, protocol="http") as c:
            c.post("/index", Document())
        text = httpx.get(f"http://127.0.0.1:{group.port_monitoring}/metrics").text
    assert ('shoal_gateway_requests_total{endpoint="/search",protocol="grpc",status="OK"} 2.0'
            in text)
    assert ('shoal_gateway_requests_total{endpoint="/error",protocol="grpc",'
            'status="ValueError"} 1.0' in text)
    assert 'shoal_gateway_requests_total{endpoint="/index",protocol="http",status="OK"} 1.0' in text
    assert 'shoal_gateway_request_duration_seconds_count{endpoint="/search",protocol="grpc"} 2.0' in text
    assert 'shoal_gateway_inflight_requests{protocol="grpc"} 0.0' in text


class Timed(Executor):
    @requests(on="/search")
    def search(self, docs, **kwargs):
        self.embed(docs)

    @monitor(name="embed_seconds", documentation="time to embed")
    def embed(self, docs):
        for d in docs:
            d.text = "embedded"


def test_flow_monitoring_shows_gateway_and_executor_metrics():
    port_monitoring = free_port()
    f = Flow(protocol="http", port=free_port(), monitoring=True,
             port_monitoring=port_monitoring).add(uses=Timed, name="timed")
    with f:
        with Client(port=f.port, protocol="http") as c:
            assert c.post("/search", DocumentArray.empty(3), request_size=1).texts == [
                "embedded"] * 3
        text = httpx.get(f"http://127.0.0.1:{port_monitoring}/metrics").text
    assert 'shoal_gateway_requests_total{endpoint="/search",protocol="http",status="OK"} 3.0' in text
    assert "shoal_embed_seconds_count" in text
    assert "shoal_process_request_seconds_count" in text
