"""TLS on every protocol from one certificate and key; the Client's tls=True."""
from __future__ import annotations

import ssl

import httpx
import pytest
from serve_helpers import FakeRouter, serve

from shoal.client import Client
from shoal.document import Document
from shoal.errors import ConnectionFailedError, ShoalError
from shoal.serve.gateway import GatewayConfig

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("protocol", ["grpc", "http", "websocket"])
def test_tls_round_trip(protocol, tls_cert):
    cert, key = tls_cert
    running = serve(FakeRouter(), GatewayConfig(protocol=protocol, host="127.0.0.1",
                                                ssl_certfile=cert, ssl_keyfile=key))
    try:
        with Client(host="localhost", port=running.port, protocol=protocol, tls=True,
                    root_certificates=cert) as c:
            assert c.is_flow_ready()
            assert c.post("/", Document(text="t")).texts == ["t!"]
            assert len(c.post("/", [Document() for _ in range(5)], request_size=2)) == 5
        scheme = {"grpc": "grpcs", "http": "https", "websocket": "wss"}[protocol]
        with Client(host=f"{scheme}://localhost:{running.port}", root_certificates=cert) as c:
            assert c.tls and c.post("/", Document(text="u")).texts == ["u!"]
        with Client(host="localhost", port=running.port, protocol=protocol) as plain:
            with pytest.raises(ShoalError):
                plain.post("/", Document(), timeout=3)
        if protocol == "http":
            ctx = ssl.create_default_context(cafile=cert)
            assert httpx.get(f"https://localhost:{running.port}/", verify=ctx).json() == {}
    finally:
        running.stop(grace=0)


def test_untrusted_certificate_is_refused(tls_cert):
    cert, key = tls_cert
    running = serve(FakeRouter(), GatewayConfig(protocol="http", host="127.0.0.1",
                                                ssl_certfile=cert, ssl_keyfile=key))
    try:
        with Client(host="localhost", port=running.port, protocol="http", tls=True) as c:
            with pytest.raises(ConnectionFailedError):
                c.post("/", Document())
    finally:
        running.stop(grace=0)


def test_closing_a_tls_http_flow_with_a_client_connected_logs_no_error(tls_cert, capfd):
    """Was: uvicorn waited out its grace for the idle client's TLS close_notify and
    logged 'timeout graceful shutdown exceeded' on every close."""
    from shoal import Flow

    cert, key = tls_cert
    with Flow(protocol="http", ssl_certfile=cert, ssl_keyfile=key) as f:
        client = Client(host="localhost", port=f.port, protocol="http", tls=True,
                        root_certificates=cert)
        assert client.post("/", Document(text="x")).texts == ["x"]
    assert "graceful shutdown exceeded" not in capfd.readouterr().err
