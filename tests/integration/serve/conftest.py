"""Fixtures for gateway tests: a fake router, gateways on free loopback ports, a TLS cert."""
from __future__ import annotations

import shutil
import subprocess
from typing import Iterator

import pytest
from serve_helpers import HOST, FakeRouter, serve

import shoal.serve  # noqa: F401 - registers the gateways with the Flow
from shoal.serve.gateway import BackgroundGateways, GatewayConfig


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


@pytest.fixture
def gateway(router: FakeRouter, request: pytest.FixtureRequest) -> Iterator[BackgroundGateways]:
    """Parametrize indirectly with a protocol name or a dict of GatewayConfig fields."""
    param = getattr(request, "param", "grpc")
    fields = {"protocol": param} if isinstance(param, str) else dict(param)
    running = serve(router, GatewayConfig(host=HOST, **fields))
    yield running
    running.stop(grace=0.5)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for localhost / 127.0.0.1: (certfile, keyfile)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return str(cert), str(key)
