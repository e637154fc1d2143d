"""Gateway and Client under bad answers (found by a robustness probe): a response that
cannot be serialized, a request the gateway cannot read, a silent WebSocket server, a
client-sent error status, a huge timeout, complex arrays in JSON, cancelled calls."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from shoal import Client, Document, DocumentArray, Executor, Flow, requests
from shoal.errors import ExecutorError, MalformedDataError, RequestTimeoutError

pytestmark = pytest.mark.timeout(60)
PROTOCOLS = ["grpc", "http", "websocket"]


class Unserializable(Executor):
    @requests(on="/object")
    def put_object(self, docs, **kwargs):
        for d in docs:
            d.tags["o"] = object()

    @requests(on="/ok")
    def ok(self, docs, **kwargs):
        for d in docs:
            d.text = "ok"


def _nested(depth: int) -> Document:
    root = cur = Document()
    for _ in range(depth):
        child = Document()
        cur.chunks.append(child)
        cur = child
    return root


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_answer_that_cannot_be_serialized_is_an_error_and_the_connection_lives(protocol):
    """Was: WebSocket hung forever, HTTP a plain-text 500, gRPC 'Unexpected BadInputError'."""
    with Flow(protocol=protocol).add(uses=Unserializable, name="u") as f:
        client = Client(port=f.port, protocol=protocol)
        with pytest.raises(ExecutorError, match="cannot be serialized"):
            client.post("/object", Document(), timeout=10)
        assert client.post("/ok", Document()).texts == ["ok"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_request_the_gateway_cannot_read_raises_its_error_in_a_stream(protocol):
    """A Document nested past protobuf's depth limit: the gateway's MalformedDataError
    reaches the client (was: 'stream closed with 1 unanswered', or a hang)."""
    with Flow(protocol=protocol).add(uses=Unserializable) as f:
        client = Client(port=f.port, protocol=protocol)
        with pytest.raises(MalformedDataError):
            client.post("/ok", DocumentArray([Document(), _nested(120), Document()]),
                        request_size=1, timeout=10)


def test_websocket_unary_honours_timeout_against_a_silent_server():
    """A server that accepts the WebSocket and never answers (was: blocked forever)."""
    from websockets.asyncio.server import serve

    ready, port = threading.Event(), []
    stop = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()

        async def silent(ws) -> None:
            async for _ in ws:
                pass

        async with serve(silent, "127.0.0.1", 0) as server:
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeoutError):
            Client(port=port[0], protocol="websocket").post("/", Document(), timeout=1)
        assert time.perf_counter() - t0 < 8
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def _post_json(port: int, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/post", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_http_json_edge_cases():
    with Flow(protocol="http").add(uses=Unserializable) as f:
        # a client cannot inject an error status (was: answered 413 with its own text)
        code, body = _post_json(f.port, {"header": {"status": {"code": "ERROR", "exception": {
            "name": "RequestTooLargeError", "message": "fake"}}}, "data": [{"text": "x"}],
            "execEndpoint": "/ok"})
        assert code == 200 and body["data"][0]["text"] == "ok"
        # a timeout past uint64 is a 400 (was: a 500 from the worker)
        code, body = _post_json(f.port, {"data": [{}], "timeout_ms": 1e300})
        assert code == 400 and body["header"]["status"]["exception"]["name"] == "MalformedDataError"
        # a complex embedding is answered in the {dtype, shape, data} form (was: a 500)
        code, body = _post_json(f.port, {"data": [{"embedding": {
            "dtype": "complex64", "shape": [1], "data": "AAAAAAAAAAA="}}]})
        assert code == 200 and body["data"][0]["embedding"]["dtype"] == "complex64"


def test_cancelled_grpc_calls_leave_the_inflight_gauge():
    """Was: the in-flight gauge kept every call the client cancelled."""
    import grpc

    class Slow(Executor):
        @requests
        def slow(self, docs, **kwargs):
            time.sleep(1.0)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        mon = s.getsockname()[1]
    with Flow(protocol="grpc", monitoring=True, port_monitoring=mon).add(uses=Slow) as f:
        from shoal.document.codec import request_to_bytes
        from shoal.document.request import DataRequest

        channel = grpc.insecure_channel(f"127.0.0.1:{f.port}")
        post = channel.unary_unary("/shoal.Gateway/Post")
        future = post.future(request_to_bytes(DataRequest([Document()])))
        time.sleep(0.3)
        future.cancel()
        deadline = time.monotonic() + 5
        while True:
            page = urllib.request.urlopen(f"http://127.0.0.1:{mon}/metrics").read().decode()
            lines = [ln for ln in page.splitlines()
                     if ln.startswith("shoal_gateway_inflight_requests{") and 'grpc' in ln]
            if lines and all(float(ln.rsplit(" ", 1)[1]) == 0 for ln in lines):
                break
            assert time.monotonic() < deadline, lines
            time.sleep(0.2)
        channel.close()


def test_an_endpoint_exposed_for_two_methods_has_two_operations():
    """Was: one route for both methods, so /openapi.json repeated its operationId."""
    f = Flow(protocol="http").add(uses=Unserializable)
    f.expose_endpoint("/foo", methods=["GET", "POST"])
    with f:
        spec = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{f.port}/openapi.json").read())
    ops = [op["operationId"] for op in spec["paths"]["/foo"].values()]
    assert sorted(spec["paths"]["/foo"]) == ["get", "post"] and len(set(ops)) == 2
