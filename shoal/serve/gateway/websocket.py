"""The WebSocket route: many requests streamed over one connection at ``ws://host:port/``.

A binary frame is a ``RequestProto``; a text frame is Jina's JSON body. Each answer
uses the frame type of its request; JSON answers write arrays as plain lists unless the
handshake sent ``X-Shoal-Array-Format: base64``. Requests of one connection are processed
concurrently — at most ``prefetch`` at a time, after which the gateway stops reading
the socket (backpressure) — and answered as they finish; the client matches answers
by request id. A frame that cannot be decoded is answered with a MalformedDataError
response (empty request id) and the connection stays open. A frame larger than
``max_request_bytes`` closes the connection with code 1009 (message too big).
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shoal.errors import MalformedDataError

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.serve.gateway.config import GatewayConfig
    from shoal.serve.gateway.handler import GatewayHandler

__all__ = ["add_websocket_route", "serve_connection"]


async def serve_connection(ws: Any, handler: GatewayHandler, prefetch: int,
                           array_format: str = "list") -> None:
    """Answer the requests of one accepted starlette WebSocket until it closes."""
    from starlette.websockets import WebSocketDisconnect  # noqa: PLC0415

    from shoal.serve.gateway.handler import encoded  # noqa: PLC0415
    from shoal.serve.gateway.http import decode_request, encode_response  # noqa: PLC0415

    slots = asyncio.Semaphore(prefetch) if prefetch else None
    send_lock = asyncio.Lock()
    tasks: set[asyncio.Task] = set()

    async def send(resp: DataRequest, binary: bool) -> None:
        data, _ = encoded(resp, lambda r: encode_response(r, binary, array_format))
        async with send_lock:
            if binary:
                await ws.send_bytes(data)
            else:
                await ws.send_text(data.decode())

    async def one(req: DataRequest, binary: bool) -> None:
        try:
            await send(await handler.handle(req), binary)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client left; nothing to answer to
        finally:
            if slots is not None:
                slots.release()

    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("bytes")
            binary = raw is not None
            if not binary:
                raw = (message.get("text") or "").encode()
            try:
                req = decode_request(raw, binary)
            except MalformedDataError as exc:
                await send(handler.malformed(exc), binary)
                continue
            if slots is not None:
                await slots.acquire()
            task = asyncio.ensure_future(one(req, binary))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        if tasks:  # answer what was accepted before the client closed, then stop
            await asyncio.gather(*tasks, return_exceptions=True)


def add_websocket_route(app: Any, handler: GatewayHandler, config: GatewayConfig) -> None:
    """Serve the WebSocket protocol at ``/`` of ``app``."""
    from starlette.websockets import WebSocket  # noqa: PLC0415

    from shoal.serve.gateway.http import array_format_of  # noqa: PLC0415

    async def endpoint(websocket: WebSocket) -> None:
        try:
            array_format = array_format_of(websocket.headers)
        except MalformedDataError as exc:
            await websocket.close(code=1008, reason=str(exc)[:120])
            return
        await websocket.accept()
        await serve_connection(websocket, handler, config.prefetch, array_format)

    endpoint.__annotations__["websocket"] = WebSocket
    app.add_api_websocket_route("/", endpoint)
