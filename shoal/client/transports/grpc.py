"""gRPC client transport: ``shoal.Gateway/Call`` (stream) and ``/Post`` (unary)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from shoal.client.errors import error_from_status, missing
from shoal.document.codec import request_from_bytes, request_to_bytes

if TYPE_CHECKING:
    from shoal.client.config import ClientConfig
    from shoal.document.request import DataRequest

__all__ = ["GrpcTransport"]

_CHANNEL_OPTIONS = (("grpc.max_receive_message_length", -1),
                    ("grpc.max_send_message_length", -1))


def _grpc() -> Any:
    try:
        import grpc  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - grpcio is a core dependency
        raise missing("grpcio", "gRPC") from exc
    return grpc


def _error(err: Any) -> Exception:
    """A shoal error for a failed gRPC call (the server's class from trailing metadata)."""
    name = None
    for key, value in (err.trailing_metadata() or ()):
        if key == "shoal-error":
            name = value
    return error_from_status(f"gRPC {err.code().name}: {err.details()}",
                             grpc_code=err.code().name, name=name)


class GrpcTransport:
    """One grpc.aio channel; calls are multiplexed over it."""

    def __init__(self, config: ClientConfig, **options: Any) -> None:
        self.config = config
        self.options = tuple(options.get("grpc_options", ())) + _CHANNEL_OPTIONS
        self._channel: Any = None

    def _open(self) -> Any:
        if self._channel is None:
            grpc = _grpc()
            if self.config.tls:
                from shoal.client.transports.tls import root_pem  # noqa: PLC0415

                creds = grpc.ssl_channel_credentials(root_certificates=root_pem(self.config))
                ch = grpc.aio.secure_channel(self.config.address, creds, options=self.options)
            else:
                ch = grpc.aio.insecure_channel(self.config.address, options=self.options)
            self._channel = ch
            self._post = ch.unary_unary("/shoal.Gateway/Post", request_serializer=request_to_bytes,
                                        response_deserializer=request_from_bytes)
            self._call = ch.stream_stream("/shoal.Gateway/Call",
                                          request_serializer=request_to_bytes,
                                          response_deserializer=request_from_bytes)
            self._check = ch.unary_unary("/grpc.health.v1.Health/Check")
        return self._channel

    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest:
        self._open()
        grpc = _grpc()
        try:
            return await self._post(req, timeout=timeout, wait_for_ready=False)
        except grpc.aio.AioRpcError as err:
            raise _error(err) from None

    async def stream(self, requests: AsyncIterator[DataRequest]) -> AsyncIterator[DataRequest]:
        self._open()
        grpc = _grpc()
        call = self._call(requests)
        try:
            async for resp in call:
                yield resp
        except grpc.aio.AioRpcError as err:
            raise _error(err) from None
        finally:
            call.cancel()

    async def is_ready(self, timeout: float) -> bool:
        self._open()
        grpc = _grpc()
        try:
            raw = await self._check(b"", timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return raw == b"\x08\x01"  # HealthCheckResponse(status=SERVING)

    async def close(self) -> None:
        if self._channel is not None:
            ch, self._channel = self._channel, None
            await ch.close()
