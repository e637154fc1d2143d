"""The gRPC gateway: a grpcio aio server in front of a :class:`GatewayHandler`.

Services:

* ``shoal.Gateway/Call`` — a bidirectional stream of ``RequestProto``. Requests of one
  stream are processed concurrently (at most ``prefetch`` at a time; the server stops
  reading the stream until one finishes, which is backpressure through HTTP/2 flow
  control) and answered as they finish. Every per-request failure comes back in-band
  as an error response carrying the request id (an empty id for bytes that could not be
  decoded), so one bad request never ends the stream - except a message larger than
  the server's receive limit, which grpc itself refuses by ending the call with
  RESOURCE_EXHAUSTED.
* ``shoal.Gateway/Post`` — one request, one response. Executor failures come back as
  an error response; failures of the gateway itself (undecodable bytes, unknown
  endpoint, timeout, too large) end the call with INVALID_ARGUMENT, NOT_FOUND,
  DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED, and the ``shoal-error`` trailing metadata
  names the shoal exception class.
* ``grpc.health.v1.Health`` — the standard health service (:mod:`.health`).

Messages are received as raw bytes and decoded by :mod:`shoal.document.codec`, so
decoding errors are reported precisely and nothing is ever unpickled.
"""
from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any, AsyncIterator

from shoal.document.codec import request_from_bytes, request_to_bytes
from shoal.errors import FlowError, MalformedDataError
from shoal.serve.gateway.handler import encoded, error_status, is_gateway_error
from shoal.serve.gateway.health import HealthService
from shoal.utils.aio import map_as_completed

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.serve.gateway.config import GatewayConfig
    from shoal.serve.gateway.handler import GatewayHandler

__all__ = ["GrpcGateway", "SERVICE", "ERROR_METADATA_KEY"]

SERVICE = "shoal.Gateway"
#: Trailing metadata key that names the shoal exception of a failed unary call.
ERROR_METADATA_KEY = "shoal-error"


class GrpcGateway:
    """``start()`` binds and serves on the running event loop; ``stop()`` stops."""

    protocol = "grpc"

    def __init__(self, handler: GatewayHandler, config: GatewayConfig) -> None:
        self.handler = handler
        self.config = config
        self.port = config.port
        self.health = HealthService((SERVICE,))
        self._server: Any = None

    def _options(self) -> list[tuple[str, Any]]:
        opts = {"grpc.max_receive_message_length": self.config.max_request_bytes,
                "grpc.max_send_message_length": -1,
                "grpc.so_reuseport": 0}
        opts.update(dict(self.config.grpc_options))
        return list(opts.items())

    async def start(self) -> None:
        import grpc  # noqa: PLC0415

        server = grpc.aio.server(options=self._options())
        server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(SERVICE, {
                "Call": grpc.stream_stream_rpc_method_handler(self._call),
                "Post": grpc.unary_unary_rpc_method_handler(self._post),
            }),
            self.health.handler(),
        ))
        address = f"{self.config.host}:{self.config.port}"
        try:
            if self.config.tls:
                from shoal.serve.gateway.tls import grpc_server_credentials  # noqa: PLC0415

                port = server.add_secure_port(address, grpc_server_credentials(self.config))
            else:
                port = server.add_insecure_port(address)
        except RuntimeError as exc:
            port = 0
            reason: Exception | None = exc
        else:
            reason = None
        if not port:
            raise FlowError(f"the gRPC gateway cannot listen on {address}: the port is in use "
                            "or the host is not local; choose another port") from reason
        self.port = port
        self._server = server
        await server.start()

    async def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            self.health.set_serving(False)
            await self._server.stop(grace)
            self._server = None

    # -- handlers -------------------------------------------------------------------

    async def _post(self, raw: bytes, context: Any) -> bytes:
        try:
            req = request_from_bytes(raw)
        except MalformedDataError as exc:
            await self._abort(context, self.handler.malformed(exc))
        remaining = context.time_remaining()
        if remaining is not None:
            ms = max(1, int(remaining * 1000))
            req.header.timeout_ms = min(req.header.timeout_ms or ms, ms)
        raw, resp = encoded(await self.handler.handle(req), request_to_bytes)
        if is_gateway_error(resp.header.error):
            await self._abort(context, resp)
        return raw

    @staticmethod
    async def _abort(context: Any, resp: DataRequest) -> None:
        import grpc  # noqa: PLC0415

        info = resp.header.error
        _, code = error_status(info)
        await context.abort(getattr(grpc.StatusCode, code), info.message,
                            trailing_metadata=((ERROR_METADATA_KEY, info.name),))

    async def _answer(self, raw: bytes) -> bytes:
        try:
            req = request_from_bytes(raw)
        except MalformedDataError as exc:
            return request_to_bytes(self.handler.malformed(exc))
        return encoded(await self.handler.handle(req), request_to_bytes)[0]

    async def _call(self, requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        # a failure to encode a response, or the client going away mid-stream, ends the call
        answers = map_as_completed(requests, self._answer, self.config.prefetch)
        async with aclosing(answers):
            async for raw in answers:
                yield raw
