"""GatewayConfig validation, Flow keyword mapping and the handler's error mapping."""
from __future__ import annotations

import asyncio

import pytest
from serve_helpers import FakeRouter

from shoal.document.request import DataRequest, ErrorInfo
from shoal.errors import InvalidConfigError
from shoal.flow.gateways import GatewayArgs
from shoal.serve.gateway import GatewayConfig, GatewayHandler, error_status, gateway_configs
from shoal.serve.gateway.starter import config_from_args


def test_gateway_configs_for_several_protocols():
    cfgs = gateway_configs(["grpc", "HTTP", "ws"], [1, 2, 3], cors=True)
    assert [(c.protocol, c.port, c.cors) for c in cfgs] == [
        ("grpc", 1, True), ("http", 2, True), ("websocket", 3, True)]
    assert [c.port for c in gateway_configs(["grpc", "http"])] == [0, 0]
    for bad in ({"protocol": ["grpc", "grpc"]}, {"protocol": ["grpc", "http"], "port": 1},
                {"protocol": "smtp"}, {"protocol": ["grpc", "http"], "port": [5, 5]}):
        with pytest.raises(InvalidConfigError):
            gateway_configs(**bad)
    for bad in ({"port": -1}, {"prefetch": -1}, {"ssl_certfile": "c"}, {"timeout": 0},
                {"max_request_bytes": 0}, {"uvicorn_kwargs": 3}):
        with pytest.raises(InvalidConfigError):
            GatewayConfig(**bad)


def test_flow_keywords_become_a_config():
    args = GatewayArgs("http", 1234, "127.0.0.1", {
        "cors": True, "no_crud_endpoints": True, "prefetch": 5, "timeout_send": 1500,
        "expose_endpoints": {"/foo": {"summary": "s"}}, "monitoring": True,
        "port_monitoring": 9, "unknown_jina_flag": 1})
    cfg = config_from_args(args)
    assert (cfg.protocol, cfg.port, cfg.host, cfg.cors, cfg.no_crud_endpoints) == (
        "http", 1234, "127.0.0.1", True, True)
    assert cfg.prefetch == 5 and cfg.timeout == 1.5
    assert cfg.expose_endpoints[0].path == "/foo" and cfg.expose_endpoints[0].summary == "s"


def test_error_status_mapping():
    assert error_status(None) == (200, "OK")
    assert error_status(ErrorInfo("ValueError", "m", "ex")) == (500, "INTERNAL")
    assert error_status(ErrorInfo("RequestTooLargeError", "m")) == (413, "RESOURCE_EXHAUSTED")
    assert error_status(ErrorInfo("EndpointNotFoundError", "m")) == (404, "NOT_FOUND")
    assert error_status(ErrorInfo("MalformedDataError", "m")) == (400, "INVALID_ARGUMENT")


def test_handler_never_raises():
    class Broken:
        async def process(self, req):
            raise RuntimeError("router bug")

    handler = GatewayHandler(Broken(), GatewayConfig())
    resp = asyncio.run(handler.handle(DataRequest()))
    assert resp.is_error and resp.header.error.name == "RuntimeError"
    assert resp.header.error.executor == "gateway" and "router bug" in resp.header.error.traceback
    handler = GatewayHandler(FakeRouter(), GatewayConfig(timeout=5))
    req = DataRequest(endpoint="/slow", parameters={"sleep": 2})
    req.header.timeout_ms = 50  # the client's tighter timeout wins
    assert asyncio.run(handler.handle(req)).header.error.name == "RequestTimeoutError"
