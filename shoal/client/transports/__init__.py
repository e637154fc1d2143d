"""Client transports: one module per protocol, each imported only when used.

A transport is one connection to a gateway, used from one event loop:

* ``stream(requests)`` — send an async iterator of requests and yield the responses as
  they arrive (any order; the caller matches them by request id). A lost connection
  raises :class:`~shoal.errors.ConnectionFailedError` (the caller may retry).
* ``unary(req, timeout)`` — one request, one response.
* ``is_ready(timeout)`` — whether the gateway answers its health check.
* ``close()`` — release the connection.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Protocol

if TYPE_CHECKING:
    from shoal.client.config import ClientConfig
    from shoal.document.request import DataRequest

__all__ = ["Transport", "make_transport"]


class Transport(Protocol):
    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest: ...

    def stream(self, requests: AsyncIterator[DataRequest]) -> AsyncIterator[DataRequest]: ...

    async def is_ready(self, timeout: float) -> bool: ...

    async def close(self) -> None: ...


def make_transport(config: ClientConfig, **options: Any) -> Transport:
    """The transport for ``config.protocol`` (imports grpc / httpx / websockets here)."""
    if config.protocol == "grpc":
        from shoal.client.transports.grpc import GrpcTransport  # noqa: PLC0415

        return GrpcTransport(config, **options)
    if config.protocol == "http":
        from shoal.client.transports.http import HTTPTransport  # noqa: PLC0415

        return HTTPTransport(config, **options)
    from shoal.client.transports.websocket import WebSocketTransport  # noqa: PLC0415

    return WebSocketTransport(config, **options)
