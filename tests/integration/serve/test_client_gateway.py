"""The Client against each gateway protocol over loopback (a fake router behind)."""
from __future__ import annotations

import asyncio

import pytest

from shoal.client import Client
from shoal.document import Document, DocumentArray
from shoal.errors import (
    DocumentNotFoundError, EndpointNotFoundError, ExecutorError, RequestTimeoutError,
)

from serve_helpers import HOST

pytestmark = pytest.mark.timeout(60)
PROTOCOLS = ["grpc", "http", "websocket"]


def client_for(gateway, protocol: str, **kwargs) -> Client:
    return Client(host=HOST, port=gateway.port, protocol=protocol, **kwargs)


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_post_shapes_and_order(gateway, router):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        assert c.is_flow_ready()
        assert c.post("/", Document(text="a")).texts == ["a!"]
        assert c.post("/", [Document(text="a"), Document(text="b")]).texts == ["a!", "b!"]
        docs = DocumentArray(Document(text=str(i)) for i in range(250))
        out = c.post("/", docs, request_size=7)
        assert out.texts == [f"{i}!" for i in range(250)]
        assert out[:, "id"] == docs[:, "id"]

        def gen():
            for j in range(10):
                yield Document(text=f"hello {j}")

        assert c.post("/endpoint", gen).texts == [f"hello {j}!" for j in range(10)]
        assert c.post("/endpoint", gen(), request_size=3).texts[-1] == "hello 9!"
        assert len(c.post("/endpoint")) == 0  # empty: one request, no docs
        assert len(c.post("/endpoint", [])) == 0  # empty iterable: nothing sent
        unordered = c.post("/", docs, request_size=10, results_in_order=False)
        assert sorted(unordered.texts) == sorted(f"{i}!" for i in range(250))


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_responses_parameters_and_callbacks(gateway):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        resps = c.post("/search", Document(text="Hi there"), parameters={"k": 1, "f": 0.5},
                       return_responses=True)
        assert len(resps) == 1
        r = resps[0]
        assert r.docs.texts == ["Hi there!"]
        assert r.parameters == {"k": 1, "f": 0.5, "endpoint": "/search"}
        assert r.header.status == "OK" and r.routes == ["fake"]

        done, always, errors = [], [], []
        got = c.post("/", DocumentArray.empty(5), request_size=2, on_done=done.append,
                     on_always=always.append, on_error=errors.append)
        assert got is None
        assert len(done) == 3 and len(always) == 3 and not errors

        c.post("/error", Document(), on_error=errors.append, on_always=always.append)
        assert len(errors) == 1 and errors[0].header.error.executor == "fakeexec"
        pairs = []
        c.post("/error", Document(), on_error=lambda resp, exc: pairs.append((resp, exc)))
        assert isinstance(pairs[0][1], ExecutorError)
        assert c.post("/error", Document(), continue_on_error=True).texts == []


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_errors_have_the_server_type_and_the_gateway_keeps_serving(gateway):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        with pytest.raises(ExecutorError) as info:
            c.post("/error", Document())
        err = info.value
        assert err.executor == "fakeexec" and err.exc_type == "ValueError"
        assert err.exc_message == "bad doc" and "Traceback" in err.traceback
        with pytest.raises(ExecutorError):  # many requests: raised from the stream too
            c.post("/error", DocumentArray.empty(5), request_size=1)
        with pytest.raises(DocumentNotFoundError, match="no such id"):
            c.post("/shoal-error", Document())
        with pytest.raises(EndpointNotFoundError):
            c.post("/missing", Document())
        with pytest.raises(EndpointNotFoundError):
            c.post("/missing", DocumentArray.empty(4), request_size=2)
        assert c.post("/", Document(text="x")).texts == ["x!"]


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_client_timeout(gateway):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        with pytest.raises(RequestTimeoutError):
            c.post("/slow", Document(), parameters={"sleep": 3}, timeout=0.2)
        with pytest.raises(RequestTimeoutError):
            c.post("/slow", DocumentArray.empty(3), request_size=1,
                   parameters={"sleep": 3}, timeout=0.2)
        assert c.post("/", Document(text="y"), timeout=5).texts == ["y!"]


@pytest.mark.parametrize("gateway", [{"protocol": p, "timeout": 0.2} for p in PROTOCOLS],
                         indirect=True)
def test_gateway_timeout(gateway):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        with pytest.raises(RequestTimeoutError):
            c.post("/slow", Document(), parameters={"sleep": 2})
        assert c.post("/", Document(text="z")).texts == ["z!"]


@pytest.mark.parametrize("gateway", [{"protocol": p, "prefetch": 2}
                                     for p in ("grpc", "websocket")], indirect=True)
def test_gateway_prefetch_bounds_inflight_per_connection(gateway, router):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol, prefetch=0) as c:
        out = c.post("/slow", DocumentArray.empty(8), request_size=1,
                     parameters={"sleep": 0.05})
    assert len(out) == 8
    assert router.max_inflight == 2


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_client_prefetch_bounds_inflight(gateway, router):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        c.post("/slow", DocumentArray.empty(8), request_size=1, parameters={"sleep": 0.05},
               prefetch=3)
    assert 1 <= router.max_inflight <= 3


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_asyncio_client(gateway):
    protocol = gateway.group.protocols[0]

    async def inputs():
        for i in range(5):
            yield Document(text=str(i))
            await asyncio.sleep(0.01)

    async def run() -> list:
        client = Client(host=HOST, port=gateway.port, protocol=protocol, asyncio=True)
        assert await client.is_flow_ready()
        got = [docs.texts async for docs in client.post("/", inputs, request_size=1)]
        resps = [r async for r in client.post("/", Document(), return_responses=True)]
        assert resps[0].docs.texts == ["!"]
        await client.aclose()
        return got

    assert asyncio.run(run()) == [[f"{i}!"] for i in range(5)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_not_ready_and_connection_failure(protocol):
    from shoal.errors import ConnectionFailedError
    from shoal.flow.flow import free_port

    with Client(host=HOST, port=free_port(), protocol=protocol) as c:
        assert not c.is_flow_ready(timeout=0.5)
        with pytest.raises(ConnectionFailedError):
            c.post("/", Document(), retries=1)


@pytest.mark.parametrize("gateway", PROTOCOLS, indirect=True)
def test_profiling(gateway, capsys):
    protocol = gateway.group.protocols[0]
    with client_for(gateway, protocol) as c:
        report = c.profiling()
    assert report["roundtrip"] > 0 and report["routes"] == ["fake"]
    assert "roundtrip" in capsys.readouterr().out
