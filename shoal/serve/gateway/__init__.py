"""Gateways: thin gRPC / HTTP / WebSocket adapters in front of one request router.

:class:`GatewayHandler` holds what every protocol shares (limits, timeout, metrics,
error mapping) and imports no network library; each transport module (:mod:`.grpc`,
:mod:`.http`, :mod:`.websocket`) only decodes, calls it, and encodes. grpc, FastAPI and
uvicorn are imported when a gateway of that protocol starts.
"""
from __future__ import annotations

from shoal.serve.gateway.config import (
    ExposedEndpoint, GatewayConfig, PROTOCOLS, gateway_configs, normalize_protocol,
)
from shoal.serve.gateway.handler import GatewayHandler, Router, error_status
from shoal.serve.gateway.server import (
    BackgroundGateways, GatewayGroup, make_gateway, register_transport,
)

__all__ = ["GatewayConfig", "ExposedEndpoint", "PROTOCOLS", "gateway_configs",
           "normalize_protocol", "GatewayHandler", "Router", "error_status", "GatewayGroup",
           "BackgroundGateways", "make_gateway", "register_transport"]
