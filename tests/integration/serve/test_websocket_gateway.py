"""The WebSocket gateway with a plain websockets client: JSON frames, bad frames, limits."""
from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from shoal.client import Client
from shoal.document import Document
from shoal.errors import RequestTooLargeError

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("gateway", ["websocket"], indirect=True)
def test_json_frames_and_bad_frames(gateway):
    async def run() -> list[dict]:
        async with connect(f"ws://127.0.0.1:{gateway.port}/") as ws:
            await ws.send(json.dumps({"data": [{"text": "a"}], "exec_endpoint": "/x",
                                      "request_id": "r1"}))
            await ws.send("{broken")
            await ws.send(json.dumps({"data": ["b"], "request_id": "r2"}))
            return [json.loads(await ws.recv()) for _ in range(3)]

    frames = asyncio.run(run())
    by_id = {f["header"]["request_id"]: f for f in frames}
    assert by_id["r1"]["data"][0]["text"] == "a!"
    assert by_id["r1"]["header"]["exec_endpoint"] == "/x"
    assert by_id["r2"]["data"][0]["text"] == "b!"
    bad = [f for f in frames if f["header"]["status"]["code"] == "ERROR"]
    assert bad[0]["header"]["status"]["exception"]["name"] == "MalformedDataError"


@pytest.mark.parametrize("gateway", [{"protocol": "websocket", "max_request_bytes": 5000}],
                         indirect=True)
def test_oversized_frame(gateway):
    with Client(host="127.0.0.1", port=gateway.port, protocol="websocket") as c:
        with pytest.raises(RequestTooLargeError):
            c.post("/", Document(text="x" * 20_000))
        assert c.post("/", Document(text="s")).texts == ["s!"]  # reconnects
