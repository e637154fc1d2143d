"""Prometheus metrics of a gateway and the ``/metrics`` endpoint that serves them.

``Flow(monitoring=True, port_monitoring=9090)`` exposes, on ``http://host:9090/metrics``:

* ``shoal_gateway_requests_total{protocol, endpoint, status}`` — a counter per endpoint
  and outcome (``OK`` or the error name);
* ``shoal_gateway_request_duration_seconds{protocol, endpoint}`` — a histogram of the
  time from decoded request to response;
* ``shoal_gateway_inflight_requests{protocol}`` — requests being processed now;
* whatever else lives in the same registry — the Flow passes its executors'
  :class:`~shoal.executors.monitor.Metrics` registry, so ``@monitor`` summaries and the
  per-method request timings appear on the same page.

The registry is private to the Flow (never prometheus' global one) and
``prometheus_client`` is imported only when monitoring is on.
"""
from __future__ import annotations

import threading
from typing import Any

from shoal.errors import MissingExtraError

__all__ = ["GatewayMetrics", "MetricsServer"]

#: Distinct endpoint labels kept before the rest are counted as ``'other'`` (clients
#: choose endpoint names; an unbounded label set would grow memory without limit).
MAX_ENDPOINT_LABELS = 256
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            5.0, 10.0, 30.0, float("inf"))


def _prometheus() -> Any:
    try:
        import prometheus_client  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            "monitoring needs prometheus_client: pip install 'shoal[serve]'") from exc
    return prometheus_client


class GatewayMetrics:
    """The gateway's counters, histogram and gauge in one registry."""

    def __init__(self, registry: Any = None, namespace: str = "shoal") -> None:
        prom = _prometheus()
        self.registry = registry if registry is not None else prom.CollectorRegistry(
            auto_describe=True)
        self.requests = prom.Counter(
            "gateway_requests", "requests answered by the gateway, by endpoint and outcome",
            ("protocol", "endpoint", "status"), namespace=namespace, registry=self.registry)
        self.latency = prom.Histogram(
            "gateway_request_duration_seconds", "time from decoded request to response",
            ("protocol", "endpoint"), namespace=namespace, registry=self.registry,
            buckets=_BUCKETS)
        self.inflight = prom.Gauge(
            "gateway_inflight_requests", "requests being processed by the gateway",
            ("protocol",), namespace=namespace, registry=self.registry)
        self._endpoints: set[str] = set()
        self._lock = threading.Lock()

    def _endpoint_label(self, endpoint: str) -> str:
        if endpoint in self._endpoints:
            return endpoint
        with self._lock:
            if len(self._endpoints) >= MAX_ENDPOINT_LABELS:
                return "other"
            self._endpoints.add(endpoint)
        return endpoint

    def started(self, protocol: str) -> None:
        """One more request in flight."""
        self.inflight.labels(protocol).inc()

    def finished(self, protocol: str, endpoint: str, status: str, seconds: float) -> None:
        """A request left the gateway with ``status`` ('OK' or an error name)."""
        ep = self._endpoint_label(endpoint)
        self.inflight.labels(protocol).dec()
        self.requests.labels(protocol, ep, status).inc()
        self.latency.labels(protocol, ep).observe(seconds)

    def count(self, protocol: str, endpoint: str, status: str) -> None:
        """A request answered without reaching the router (refused or undecodable)."""
        self.requests.labels(protocol, self._endpoint_label(endpoint), status).inc()

    def value(self, name: str, **labels: str) -> float | None:
        """A sample, e.g. ``value('gateway_requests_total', endpoint='/x', ...)``."""
        return self.registry.get_sample_value(f"shoal_{name}", labels)


class MetricsServer:
    """``/metrics`` over plain HTTP on its own port (prometheus' threaded server)."""

    def __init__(self, registry: Any, port: int = 0, host: str = "0.0.0.0") -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve in a daemon thread; ``port=0`` picks a free port."""
        prom = _prometheus()
        self._server, self._thread = prom.start_http_server(
            self.port, addr=self.host, registry=self.registry)
        self.port = self._server.server_address[1]

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
