"""Client arguments in Jina's spellings; no network."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shoal.client import Client, parse_client_args
from shoal.client.client import AsyncClient
from shoal.errors import InvalidConfigError


@pytest.mark.parametrize("kwargs, expected", [
    ({"port": 12345}, ("0.0.0.0", 12345, "grpc", False)),
    ({"host": "grpc://my.flow:1234"}, ("my.flow", 1234, "grpc", False)),
    ({"host": "http://my.awesome.flow:1234"}, ("my.awesome.flow", 1234, "http", False)),
    ({"host": "ws://my.awesome.flow:1234"}, ("my.awesome.flow", 1234, "websocket", False)),
    ({"host": "wss://h:9"}, ("h", 9, "websocket", True)),
    ({"host": "https://h"}, ("h", 443, "http", True)),
    ({"host": "grpcs://h:5"}, ("h", 5, "grpc", True)),
    ({"host": "http://h:5/", "port": 5}, ("h", 5, "http", False)),
    ({"host": "localhost:8080", "protocol": "http"}, ("localhost", 8080, "http", False)),
    ({"host": "h", "port": "77", "protocol": "WEBSOCKET", "tls": True}, ("h", 77, "websocket", True)),
])
def test_parse(kwargs, expected):
    cfg = parse_client_args(**kwargs)
    assert (cfg.host, cfg.port, cfg.protocol, cfg.tls) == expected


def test_connect_address():
    assert parse_client_args(port=5).address == "127.0.0.1:5"
    assert parse_client_args(host="::1", port=5).address == "[::1]:5"
    assert parse_client_args(host="http://h:5").url("http", "/post") == "http://h:5/post"
    assert parse_client_args(host="https://h:5").url("ws", "/") == "wss://h:5/"


@pytest.mark.parametrize("kwargs", [{}, {"port": 0}, {"port": 70000}, {"port": "x"},
                                    {"host": "ftp://h:1"}, {"port": 1, "protocol": "smtp"},
                                    # were silently port 1 / the path dropped:
                                    {"host": "http://h:1", "port": 2},
                                    {"host": "http://h:1/prefix"}])
def test_bad_arguments(kwargs):
    with pytest.raises(InvalidConfigError):
        parse_client_args(**kwargs)


def test_asyncio_flag_gives_an_async_client_and_nothing_connects():
    c = Client(port=1234, asyncio=True)
    assert isinstance(c, AsyncClient) and isinstance(c, Client)
    assert type(Client(port=1234)) is Client
    assert repr(Client(host="https://h:1")) == "<Client http+tls://h:1>"


def test_import_is_light():
    code = ("import sys, shoal.client, shoal.serve; c = shoal.client.Client(port=1); "
            "bad = [m for m in ('grpc', 'fastapi', 'uvicorn', 'httpx', 'websockets', "
            "'starlette') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]"
