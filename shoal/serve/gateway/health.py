"""The standard gRPC health service, ``grpc.health.v1.Health``, without extra packages.

The two messages are tiny, so they are encoded by hand instead of depending on
``grpcio-health-checking``::

    message HealthCheckRequest  { string service = 1; }
    message HealthCheckResponse { ServingStatus status = 1; }   // UNKNOWN=0 SERVING=1
                                                                 // NOT_SERVING=2 SERVICE_UNKNOWN=3

Any client (``grpc_health_probe``, Kubernetes gRPC probes, grpcio-health-checking's
stub) can call ``Check`` and ``Watch`` on a shoal gateway.
"""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

__all__ = ["HealthService", "encode_request", "decode_request", "encode_response",
           "decode_response", "SERVICE", "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]

SERVICE = "grpc.health.v1.Health"
UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 128:
            return n, pos
        shift += 7


def _fields(data: bytes) -> dict[int, Any]:
    """field number -> last value, for varint and length-delimited fields."""
    out: dict[int, Any] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            out[number], pos = _read_varint(data, pos)
        elif wire == 2:
            n, pos = _read_varint(data, pos)
            if pos + n > len(data):
                raise ValueError("truncated field")
            out[number], pos = data[pos:pos + n], pos + n
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def encode_request(service: str = "") -> bytes:
    raw = service.encode()
    return (b"\x0a" + _varint(len(raw)) + raw) if raw else b""


def decode_request(data: bytes) -> str:
    return bytes(_fields(data).get(1, b"")).decode("utf-8", "replace")


def encode_response(status: int) -> bytes:
    return b"\x08" + _varint(status) if status else b""


def decode_response(data: bytes) -> int:
    return int(_fields(data).get(1, UNKNOWN))


class HealthService:
    """``Check`` / ``Watch`` for ``''`` (the server) and the names in ``services``."""

    def __init__(self, services: tuple[str, ...] = ()) -> None:
        self.services = {"", *services}
        self.serving = True
        self._changed = asyncio.Event()

    def status(self, service: str) -> int:
        if service not in self.services:
            return SERVICE_UNKNOWN
        return SERVING if self.serving else NOT_SERVING

    def set_serving(self, serving: bool) -> None:
        self.serving = serving
        self._changed.set()

    async def check(self, request: bytes, context: Any) -> bytes:
        import grpc  # noqa: PLC0415

        try:
            service = decode_request(request)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad HealthCheckRequest: {exc}")
        status = self.status(service)
        if status == SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {service!r}")
        return encode_response(status)

    async def watch(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        try:
            service = decode_request(request)
        except ValueError:
            service = "\0"
        last = None
        while True:
            status = self.status(service)
            if status != last:
                last = status
                yield encode_response(status)
            self._changed.clear()
            await self._changed.wait()

    def handler(self) -> Any:
        """The grpc generic handler serving ``grpc.health.v1.Health``."""
        import grpc  # noqa: PLC0415

        return grpc.method_handlers_generic_handler(SERVICE, {
            "Check": grpc.unary_unary_rpc_method_handler(self.check),
            "Watch": grpc.unary_stream_rpc_method_handler(self.watch),
        })
