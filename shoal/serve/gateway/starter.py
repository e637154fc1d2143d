"""How a Flow starts a gateway: the starter registered in :mod:`shoal.flow.gateways`.

The Flow calls ``await start_gateway(flow, args)`` on its event loop once per protocol
(``Flow(protocol=['grpc', 'http'], port=[p1, p2])`` calls it twice) and awaits
``stop()`` on the returned gateway when it closes. The Flow owns ``/metrics``
(``port_monitoring``); with ``monitoring=True`` the gateways add their metrics to the
Flow's registry, so one page shows gateway and executor metrics.
"""
from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from shoal.serve.gateway.config import DEFAULT_PREFETCH, ExposedEndpoint, GatewayConfig
from shoal.serve.gateway.handler import GatewayHandler
from shoal.serve.gateway.server import make_gateway

if TYPE_CHECKING:
    from shoal.flow.gateways import GatewayArgs

__all__ = ["start_gateway", "config_from_args", "FLOW_ONLY_OPTIONS", "GATEWAY_KEYWORDS"]

log = logging.getLogger(__name__)

#: Flow keywords the gateway reads, by GatewayConfig field.
_FIELDS = ("cors", "no_debug_endpoints", "no_crud_endpoints", "uvicorn_kwargs",
           "ssl_certfile", "ssl_keyfile", "prefetch", "max_request_bytes", "title",
           "description")
#: Flow keywords that are the Flow's business, not the gateway's.
FLOW_ONLY_OPTIONS = frozenset({"monitoring", "port_monitoring", "name", "env", "log_config",
                               "quiet", "workspace", "uses", "graph_description",
                               "graph_conditions", "deployments_addresses",
                               "deployments_metadata", "retries", "timeout_ready",
                               "tracing", "traces_exporter_host", "traces_exporter_port",
                               "metrics_exporter_host", "metrics_exporter_port", "compression",
                               "reload"})
#: every Flow keyword a gateway (or the Flow) reads
GATEWAY_KEYWORDS = frozenset({"protocol", "port", "host", "timeout_send", "grpc_server_options",
                              "expose_endpoints", *_FIELDS}) | FLOW_ONLY_OPTIONS
_METRICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def config_from_args(args: GatewayArgs) -> GatewayConfig:
    """A validated GatewayConfig from the Flow's keywords for one protocol.

    ``timeout_send`` (milliseconds, Jina's name) becomes the per-request timeout;
    ``grpc_server_options`` (a dict) become grpc server options; unknown keywords are
    logged and ignored, as Jina ignores arguments a gateway does not use.
    """
    opts = dict(args.options)
    kwargs: dict[str, Any] = {k: opts.pop(k) for k in _FIELDS if opts.get(k) is not None}
    if kwargs.get("prefetch") is None:
        kwargs["prefetch"] = DEFAULT_PREFETCH
    timeout_ms = opts.pop("timeout_send", None)
    if timeout_ms:
        kwargs["timeout"] = float(timeout_ms) / 1000.0
    grpc_opts = opts.pop("grpc_server_options", None)
    if grpc_opts:
        kwargs["grpc_options"] = tuple(dict(grpc_opts).items())
    exposed = opts.pop("expose_endpoints", None) or {}
    kwargs["expose_endpoints"] = tuple(
        ExposedEndpoint.from_kwargs(ep, **dict(kw or {})) for ep, kw in dict(exposed).items())
    unknown = sorted(k for k in opts if k not in FLOW_ONLY_OPTIONS)
    if unknown:
        log.info("gateway %s ignores Flow arguments %s", args.protocol, unknown)
    return GatewayConfig(protocol=args.protocol, port=args.port, host=args.host, **kwargs)


def _metrics_for(flow: Any) -> Any:
    """The GatewayMetrics living in the Flow's registry (one per registry), or None."""
    flow_metrics = getattr(flow, "metrics", None)
    if not flow.gateway_args.get("monitoring") or flow_metrics is None:
        return None
    registry = flow_metrics.registry
    found = _METRICS.get(registry)
    if found is None:
        from shoal.serve.gateway.monitoring import GatewayMetrics  # noqa: PLC0415

        found = _METRICS[registry] = GatewayMetrics(registry)
    return found


async def start_gateway(flow: Any, args: GatewayArgs) -> Any:
    """Start the ``args.protocol`` gateway of ``flow`` on its loop; returns it (``stop()``)."""
    config = config_from_args(args)
    gateway = make_gateway(GatewayHandler(flow.router, config, _metrics_for(flow)), config)
    await gateway.start()
    return gateway
