"""WebSocket client transport: binary ``RequestProto`` frames over one connection.

One reader task dispatches answers by request id to the stream that sent the request,
so several ``post`` calls of an asyncio Client can share the connection.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator

from shoal.client.errors import missing
from shoal.document.codec import (
    loads_json, request_from_bytes, request_from_json_dict, request_to_bytes,
)
from shoal.errors import (
    ConnectionFailedError, MalformedDataError, RequestTimeoutError, RequestTooLargeError,
)

if TYPE_CHECKING:
    from shoal.client.config import ClientConfig
    from shoal.document.request import DataRequest

__all__ = ["WebSocketTransport"]

_END = object()


def _websockets() -> Any:
    try:
        from websockets.asyncio.client import connect  # noqa: PLC0415
        from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: PLC0415
    except ImportError as exc:
        raise missing("websockets", "WebSocket") from exc
    return connect, ConnectionClosed, WebSocketException


class WebSocketTransport:
    """A lazily opened WebSocket to ``ws(s)://host:port/``."""

    def __init__(self, config: ClientConfig, **options: Any) -> None:
        self.config = config
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._waiting: dict[str, asyncio.Queue] = {}
        self._lock: asyncio.Lock | None = None

    async def _open(self, timeout: float | None = None) -> Any:
        if self._ws is not None:
            return self._ws
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._ws is None:
                connect, _, error = _websockets()
                ssl_ctx = None
                if self.config.tls:
                    from shoal.client.transports.tls import ssl_context  # noqa: PLC0415

                    ssl_ctx = ssl_context(self.config)
                try:
                    ws = await connect(self.config.url("ws", "/"), max_size=None,
                                       compression=None, ssl=ssl_ctx,
                                       open_timeout=min(10.0, timeout) if timeout else 10.0,
                                       ping_interval=None)
                except (OSError, error, asyncio.TimeoutError) as exc:
                    raise ConnectionFailedError(
                        f"cannot reach the WebSocket gateway at {self.config.address}: {exc}"
                    ) from exc
                self._ws = ws
                self._reader = asyncio.ensure_future(self._read(ws))
        return self._ws

    def _fail(self, exc: Exception) -> None:
        for queue in self._waiting.values():
            queue.put_nowait(exc)

    async def _read(self, ws: Any) -> None:
        _, closed, _ = _websockets()
        try:
            async for frame in ws:
                try:
                    resp = (request_from_bytes(frame) if isinstance(frame, bytes)
                            else request_from_json_dict(loads_json(frame)))
                except MalformedDataError as exc:
                    self._fail(exc)
                    continue
                queue = self._waiting.get(resp.header.request_id)
                if queue is not None:
                    queue.put_nowait(resp)
                elif resp.is_error and not resp.header.request_id:
                    # the gateway could not read one of our frames; answers to ids we no
                    # longer wait for (a post that already raised) are dropped
                    from shoal.client.errors import response_error  # noqa: PLC0415

                    self._fail(response_error(resp))
            exc: Exception = ConnectionFailedError(
                f"the WebSocket gateway at {self.config.address} closed the connection")
        except closed as err:
            code = getattr(err.rcvd, "code", None) if err.rcvd is not None else None
            if code == 1009:
                exc = RequestTooLargeError(
                    "the WebSocket gateway refused a request larger than its limit "
                    "(close code 1009); send fewer documents per request (request_size=)")
            else:
                exc = ConnectionFailedError(
                    f"the WebSocket connection to {self.config.address} closed: {err}")
        except Exception as err:  # noqa: BLE001
            exc = ConnectionFailedError(f"WebSocket to {self.config.address} failed: {err}")
        if self._ws is ws:
            self._ws = None
        self._fail(exc)

    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest:
        async def one() -> AsyncIterator[DataRequest]:
            yield req

        async def answer() -> DataRequest:
            async for resp in self.stream(one(), timeout):
                return resp
            raise ConnectionFailedError("the WebSocket gateway sent no answer")

        if not timeout:
            return await answer()
        try:
            return await asyncio.wait_for(answer(), timeout)
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"no answer from the WebSocket gateway at {self.config.address} within "
                f"{timeout:g} s") from None

    async def stream(self, requests: AsyncIterator[DataRequest],
                     open_timeout: float | None = None) -> AsyncIterator[DataRequest]:
        ws = await self._open(open_timeout)
        queue: asyncio.Queue = asyncio.Queue()
        mine: set[str] = set()
        pending = 0
        _, closed, _ = _websockets()

        async def feed() -> None:
            nonlocal pending
            try:
                async for req in requests:
                    rid = req.header.request_id
                    self._waiting[rid] = queue
                    mine.add(rid)
                    pending += 1
                    await ws.send(request_to_bytes(req))
                queue.put_nowait(_END)
            except closed as err:
                queue.put_nowait(ConnectionFailedError(f"WebSocket closed while sending: {err}"))
            except Exception as exc:  # noqa: BLE001
                queue.put_nowait(exc)

        feeder = asyncio.ensure_future(feed())
        fed_all = False
        try:
            while not fed_all or pending:
                item = await queue.get()
                if item is _END:
                    fed_all = True
                    continue
                if isinstance(item, Exception):
                    raise item
                pending -= 1
                self._waiting.pop(item.header.request_id, None)
                yield item
        finally:
            feeder.cancel()
            for rid in mine:
                self._waiting.pop(rid, None)

    async def is_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._open(), timeout)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
        return True

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
