"""JSON answers carry embeddings / tensors as plain lists (Jina 3 / DocArray 0.21 shape)."""
from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from shoal.client import Client
from shoal.document import Document, DocumentArray
from shoal.document.request import DataRequest
from shoal.serve.gateway.http import encode_response

pytestmark = pytest.mark.timeout(60)

B64 = {"dtype": "<f4", "shape": [2], "data": base64.b64encode(
    np.array([3, 4], dtype="<f4").tobytes()).decode()}


def url(gateway, path: str) -> str:
    return f"http://127.0.0.1:{gateway.port}{path}"


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_http_json_answers_plain_lists_for_list_and_base64_input(gateway):
    body = {"data": [{"id": "a", "embedding": [1.0, 2.0]},
                     {"id": "b", "embedding": B64,
                      "matches": [{"id": "m", "embedding": [0.5, 0.25]}]}]}
    r = httpx.post(url(gateway, "/search"), json=body)
    assert r.status_code == 200, r.text
    a, b = r.json()["data"]
    assert a["embedding"] == [1.0, 2.0]
    assert b["embedding"] == [3.0, 4.0]
    assert b["matches"][0]["embedding"] == [0.5, 0.25]


def test_encode_response_tensor_lists_by_default():
    req = DataRequest(DocumentArray([Document(tensor=np.array([[1, 2], [3, 4]]))]))
    doc = json.loads(encode_response(req, protobuf=False))["data"][0]
    assert doc["tensor"] == [[1, 2], [3, 4]]
    doc = json.loads(encode_response(req, False, "base64"))["data"][0]
    assert doc["tensor"]["shape"] == [2, 2]


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_http_base64_on_request_and_bad_format(gateway):
    body = {"data": [{"id": "a", "embedding": [1.0, 2.0]}]}
    r = httpx.post(url(gateway, "/post"), json=body,
                   headers={"X-Shoal-Array-Format": "base64"})
    emb = r.json()["data"][0]["embedding"]
    assert set(emb) == {"dtype", "shape", "data"} and emb["shape"] == [2]
    r = httpx.post(url(gateway, "/post"), json=body, headers={"X-Shoal-Array-Format": "npy"})
    assert r.status_code == 400
    assert "X-Shoal-Array-Format".lower() in r.json()["header"]["status"]["exception"]["message"]


@pytest.mark.parametrize("gateway", ["http", "websocket"], indirect=True)
def test_shoal_client_keeps_exact_arrays(gateway):
    emb = np.arange(4, dtype="float32") / 3
    with Client(host="127.0.0.1", port=gateway.port, protocol=gateway_protocol(gateway)) as c:
        out = c.post("/", Document(embedding=emb))
    assert out[0].embedding.dtype == np.float32
    np.testing.assert_array_equal(out[0].embedding, emb)


def gateway_protocol(gateway) -> str:
    return gateway.group.configs[0].protocol


@pytest.mark.parametrize("gateway", ["websocket"], indirect=True)
def test_websocket_json_frames_answer_lists(gateway):
    async def run(headers: dict | None = None) -> dict:
        async with connect(f"ws://127.0.0.1:{gateway.port}/",
                           additional_headers=headers) as ws:
            await ws.send(json.dumps({"data": [{"embedding": [1.5, 2.5]}]}))
            return json.loads(await ws.recv())

    assert asyncio.run(run())["data"][0]["embedding"] == [1.5, 2.5]
    b64 = asyncio.run(run({"X-Shoal-Array-Format": "base64"}))["data"][0]["embedding"]
    assert b64["shape"] == [2]
