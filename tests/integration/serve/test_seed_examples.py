"""The Gateway / Client examples of the Jina 3 docs, with ``from shoal import ...``.

Each test is the documented snippet with the import changed (and a free port instead of
a fixed one); the assertions are what the documentation says it prints.
"""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

import shoal
from shoal import Client, Document, DocumentArray, Executor, Flow, requests
from shoal.flow.flow import free_port

pytestmark = pytest.mark.timeout(60)


def test_client_is_exported_from_shoal():
    assert getattr(shoal, "Client", None) is Client, "shoal/__init__.py should re-export Client"


class FooExec(Executor):
    @requests
    async def add_text(self, docs: DocumentArray, **kwargs):
        for d in docs:
            d.text += "hello, world!"


class BarExec(Executor):
    @requests
    async def add_text(self, docs: DocumentArray, **kwargs):
        for d in docs:
            d.text += "goodbye!"


def test_server_and_client_with_replicas():
    port = free_port()
    f = Flow(port=port).add(uses=FooExec, replicas=3).add(uses=BarExec, replicas=2)
    stop = threading.Event()
    with f:
        server = threading.Thread(target=f.block, args=(stop,), daemon=True)
        server.start()
        try:
            c = Client(port=port)
            r = c.post("/", DocumentArray.empty(2))
        finally:
            stop.set()
            server.join()
    assert r.texts == ["hello, world!goodbye!", "hello, world!goodbye!"]


class FooExecutor(Executor):
    @requests
    def foo(self, docs: DocumentArray, **kwargs):
        docs.append(Document(text="foo was called"))


def test_http_gateway_example():
    port = free_port()
    f = Flow(protocol="http", port=port).add(uses=FooExecutor)
    with f:
        client = Client(port=port, protocol="http")
        docs = client.post(on="/")
    assert docs.texts == ["foo was called"]


class MyExec(Executor):
    @requests(on="/foo")
    def foo(self, docs, **kwargs):
        for d in docs:
            d.text = "foo"


def test_expose_endpoint_example():
    f = Flow(protocol="http", port=free_port()).add(uses=MyExec)
    f.expose_endpoint("/foo", summary="my endpoint")
    with f:
        r = httpx.post(f"http://127.0.0.1:{f.port}/foo", json={"data": [{"text": "x"}]})
        schema = httpx.get(f"http://127.0.0.1:{f.port}/openapi.json").json()
    assert r.status_code == 200 and r.json()["data"][0]["text"] == "foo"
    assert schema["paths"]["/foo"]["post"]["summary"] == "my endpoint"


def test_hide_cors_and_uvicorn_options_examples():
    # hide default endpoints
    f = Flow(protocol="http", no_debug_endpoints=True, no_crud_endpoints=True, port=free_port())
    with f:
        assert httpx.post(f"http://127.0.0.1:{f.port}/index", json={}).status_code == 404
        assert httpx.get(f"http://127.0.0.1:{f.port}/status").status_code == 404
    # enable cors
    f = Flow(cors=True, protocol="http", port=free_port())
    with f:
        r = httpx.post(f"http://127.0.0.1:{f.port}/post", json={},
                       headers={"Origin": "http://a.example"})
        assert "access-control-allow-origin" in r.headers
    # advanced options
    f = Flow(protocol="http", uvicorn_kwargs={"loop": "asyncio", "http": "httptools"},
             port=free_port())
    with f:
        assert Client(port=f.port, protocol="http").is_flow_ready()


def test_tls_example(tls_cert):
    certfile, keyfile = tls_cert
    port = free_port()
    f = Flow(port=port, ssl_certfile=certfile, ssl_keyfile=keyfile).add(uses=FooExecutor)
    with f:
        c = Client(host="localhost", port=port, tls=True, root_certificates=certfile)
        assert c.post("/", Document()).texts == ["", "foo was called"] or \
            c.post("/", Document()).texts[-1] == "foo was called"


@pytest.mark.parametrize("protocol", ["grpc", "http", "websocket"])
def test_client_hosts_and_inputs(protocol):
    port = free_port()
    with Flow(port=port, protocol=protocol):
        scheme = {"grpc": "grpc", "http": "http", "websocket": "ws"}[protocol]
        client = Client(host=f"{scheme}://localhost:{port}")
        d1 = Document(content="hello")
        d2 = Document(content="world")

        def doc_gen():
            for j in range(10):
                yield Document(content=f"hello {j}")

        assert client.post("/endpoint", d1).texts == ["hello"]
        assert client.post("/endpoint", [d1, d2]).texts == ["hello", "world"]
        assert len(client.post("/endpoint", doc_gen)) == 10
        assert client.post("/endpoint", DocumentArray([d1, d2])).texts == ["hello", "world"]
        assert len(client.post("/endpoint")) == 0


class MyExecutor(Executor):
    @requests
    def foo(self, parameters, **kwargs):
        print(parameters["hello"])


def test_parameters_example(capfd):
    f = Flow(port=free_port()).add(uses=MyExecutor)
    with f:
        client = Client(port=f.port)
        client.post("/", Document(), parameters={"hello": "world"})
    assert "world" in capfd.readouterr().out


def test_parameters_example_without_port(capfd):
    f = Flow().add(uses=MyExecutor)
    with f:
        client = Client(port=f.port)
        client.post("/", Document(), parameters={"hello": "world"})
    assert "world" in capfd.readouterr().out


def test_asyncio_example():
    seen = []

    async def async_inputs():
        for _ in range(10):
            yield Document()
            await asyncio.sleep(0.01)

    async def run_client(port):
        client = Client(port=port, asyncio=True)
        async for resp in client.post("/", async_inputs, request_size=1):
            seen.append(resp)

    with Flow(port=free_port()) as f:
        asyncio.run(run_client(f.port))
    assert len(seen) == 10 and all(len(r) == 1 for r in seen)


def test_batch_example():
    with Flow(port=free_port()) as f:
        client = Client(port=f.port)
        resps = client.post("/", DocumentArray(Document() for _ in range(100)), request_size=10,
                            return_responses=True)
    assert [len(r.docs) for r in resps] == [10] * 10


def test_callbacks_example(tmp_path):
    beeps = []

    def beep(*args):
        beeps.append(args)

    # the docs open the file with "w"; DocArray 0.21's save() needs a path or a binary file
    with Flow(port=free_port()).add() as f, open(tmp_path / "output.txt", "wb") as fp:
        client = Client(port=f.port)
        result = client.post("/", Document(), on_done=print, on_error=beep,
                             on_always=lambda x: x.docs.save(fp))
    assert result is None and not beeps
    assert (tmp_path / "output.txt").stat().st_size > 0


def test_return_docs_and_responses_examples():
    with Flow(port=free_port()) as f:
        client = Client(port=f.port)
        docs = client.post(on="", inputs=Document(text="Hi there!"))
        assert isinstance(docs, DocumentArray) and docs.texts == ["Hi there!"]
        resp = client.post(on="", inputs=Document(text="Hi there!"), return_responses=True)
        assert resp[0].docs.texts == ["Hi there!"]


def test_flow_port_without_protocol_serves_grpc():
    with Flow() as f:
        client = Client(port=f.port)
        assert client.post(on="", inputs=Document(text="Hi there!")).texts == ["Hi there!"]


def test_executor_error_reaches_the_client_and_the_flow_keeps_serving():
    class Boom(Executor):
        @requests(on="/boom")
        def boom(self, **kwargs):
            raise RuntimeError("kaput")

        @requests(on="/ok")
        def ok(self, docs, **kwargs):
            for d in docs:
                d.text = "ok"

    from shoal.errors import ExecutorError

    for protocol in ("grpc", "http", "websocket"):
        with Flow(protocol=protocol, port=free_port()).add(uses=Boom, name="boomer") as f:
            c = Client(port=f.port, protocol=protocol)
            with pytest.raises(ExecutorError) as info:
                c.post("/boom", Document())
            assert info.value.executor == "boomer" and info.value.exc_type == "RuntimeError"
            assert "kaput" in info.value.exc_message and "RuntimeError" in info.value.traceback
            assert c.post("/ok", Document()).texts == ["ok"]


def test_several_protocols_at_once():
    ports = [free_port(), free_port()]
    with Flow(protocol=["grpc", "http"], port=ports).add(uses=FooExecutor):
        assert Client(port=ports[0]).post("/").texts == ["foo was called"]
        assert Client(port=ports[1], protocol="http").post("/").texts == ["foo was called"]


def test_deployment_with_a_port_serves_the_same_way():
    from shoal import Deployment

    port = free_port()
    with Deployment(uses=FooExecutor, port=port, protocol="websocket"):
        assert Client(host=f"ws://127.0.0.1:{port}").post("/").texts == ["foo was called"]
