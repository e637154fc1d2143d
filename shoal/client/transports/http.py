"""HTTP client transport: ``POST /post`` with ``RequestProto`` bodies over httpx.

Requests of one stream go out concurrently (the caller bounds how many); answers come
back as each finishes. The body is protobuf (``application/x-protobuf``), which the
gateway answers in kind; a JSON error page (e.g. FastAPI's 404) is mapped by status.
"""
from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any, AsyncIterator

from shoal.client.errors import error_from_status, missing
from shoal.document.codec import request_from_bytes, request_from_json_dict, request_to_bytes
from shoal.errors import ConnectionFailedError, MalformedDataError, RequestTimeoutError
from shoal.utils.aio import map_as_completed

if TYPE_CHECKING:
    from shoal.client.config import ClientConfig
    from shoal.document.request import DataRequest

__all__ = ["HTTPTransport"]

PROTOBUF = "application/x-protobuf"


def _httpx() -> Any:
    try:
        import httpx  # noqa: PLC0415
    except ImportError as exc:
        raise missing("httpx", "HTTP") from exc
    return httpx


class HTTPTransport:
    """An httpx.AsyncClient with a connection pool to the gateway."""

    def __init__(self, config: ClientConfig, **options: Any) -> None:
        self.config = config
        self.max_connections = int(options.get("max_connections") or 100)
        self._client: Any = None

    def _open(self) -> Any:
        if self._client is None:
            httpx = _httpx()
            verify: Any = True
            if self.config.tls:
                from shoal.client.transports.tls import ssl_context  # noqa: PLC0415

                verify = ssl_context(self.config)
            limits = httpx.Limits(max_connections=self.max_connections,
                                  max_keepalive_connections=self.max_connections)
            self._client = httpx.AsyncClient(base_url=self.config.url("http"), verify=verify,
                                             timeout=None, limits=limits)
        return self._client

    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest:
        client = self._open()
        httpx = _httpx()
        try:
            r = await client.post("/post", content=request_to_bytes(req),
                                  headers={"content-type": PROTOBUF},
                                  timeout=timeout if timeout else None)
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError(f"no answer from {self.config.address} within "
                                      f"{timeout} s") from exc
        except (httpx.TransportError, OSError) as exc:
            raise ConnectionFailedError(
                f"cannot reach the HTTP gateway at {self.config.address}: {exc}") from exc
        resp = self._decode(r)
        if not resp.header.request_id:  # the gateway could not read it: it answers this one
            resp.header.request_id = req.header.request_id
        return resp

    def _decode(self, r: Any) -> DataRequest:
        ctype = r.headers.get("content-type", "")
        try:
            if ctype.startswith(PROTOBUF):
                return request_from_bytes(r.content)
            body = r.json() if r.content else {}
            if isinstance(body, dict) and isinstance(body.get("header"), dict):
                return request_from_json_dict(body)
        except (MalformedDataError, ValueError):
            pass
        detail = r.text[:200] if r.content else r.reason_phrase
        raise error_from_status(f"HTTP {r.status_code} from {self.config.address}: {detail}",
                                http_status=r.status_code)

    async def stream(self, requests: AsyncIterator[DataRequest]) -> AsyncIterator[DataRequest]:
        async def one(req: DataRequest) -> DataRequest:
            return await self.unary(req, None)

        answers = map_as_completed(requests, one)
        async with aclosing(answers):
            async for resp in answers:
                yield resp

    async def is_ready(self, timeout: float) -> bool:
        client = self._open()
        try:
            r = await client.get("/", timeout=timeout)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False
        return r.status_code == 200

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
