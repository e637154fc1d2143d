"""The transport-free part of every gateway: limits, timeout, metrics, error mapping.

A transport (gRPC, HTTP, WebSocket) decodes bytes into a
:class:`~shoal.document.request.DataRequest`, calls :meth:`GatewayHandler.handle`, and
encodes what comes back. The handler never raises for a request: a router failure, a
timeout or a missing endpoint comes back as an error response whose header carries an
:class:`~shoal.document.request.ErrorInfo`; :func:`error_status` maps it to an HTTP status
and a gRPC status code name. Nothing here imports grpc, FastAPI or starlette.
"""
from __future__ import annotations

import asyncio
import os
import time
import traceback
from typing import TYPE_CHECKING, Callable, Protocol

from shoal.document.request import DataRequest, ErrorInfo
from shoal.errors import (
    ExecutorError, MalformedDataError, RequestTimeoutError, ShoalError, error_class,
)

if TYPE_CHECKING:
    from shoal.serve.gateway.config import GatewayConfig
    from shoal.serve.gateway.monitoring import GatewayMetrics

__all__ = ["Router", "GatewayHandler", "error_response", "error_status", "is_gateway_error",
           "encoded"]


class Router(Protocol):
    """What a gateway sits on (the Flow's request router).

    ``process`` takes a request and returns its response. Executor failures come back
    as a response with ``header.status == 'ERROR'`` and ``header.error`` set (naming the
    executor); raising is allowed too (e.g. ``EndpointNotFoundError``) and is turned
    into the same kind of response by the gateway.
    """

    async def process(self, req: DataRequest) -> DataRequest: ...


def error_response(req: DataRequest | None, exc: BaseException, executor: str = "",
                   with_traceback: bool = True) -> DataRequest:
    """A response for ``req`` (or a blank one) that reports ``exc``."""
    if req is None:  # nothing could be decoded: no request id to answer to
        resp = DataRequest()
        resp.header.request_id = ""
    else:
        resp = req
        resp.docs = []
    tb = ("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
          if with_traceback and exc.__traceback__ is not None else "")
    resp.set_error(ErrorInfo(name=type(exc).__name__, message=str(exc), executor=executor,
                             traceback=tb))
    return resp


def encoded(resp: DataRequest, encode: Callable[[DataRequest], bytes]) -> tuple[bytes, DataRequest]:
    """``(encode(resp), resp)``; when ``resp`` cannot be encoded (an executor set a value
    that does not serialize, e.g. an object in tags), the encoding of an ExecutorError
    answer to the same request instead - the connection stays usable."""
    try:
        return encode(resp), resp
    except Exception as exc:  # noqa: BLE001 - any encoder failure is answered, not raised
        blank = DataRequest(endpoint=resp.header.exec_endpoint,
                            request_id=resp.header.request_id or None)
        err = error_response(blank, ExecutorError(
            f"the response to {resp.header.exec_endpoint!r} cannot be serialized ({exc}); an "
            "executor set a value that is not a number, string, list, dict or array"),
            with_traceback=False)
        return encode(err), err


def is_gateway_error(info: ErrorInfo | None) -> bool:
    """True for errors of the gateway itself (bad input, limits, routing), not executors."""
    return info is not None and not info.executor and error_class(info.name) is not ShoalError


def error_status(info: ErrorInfo | None) -> tuple[int, str]:
    """``(http_status, grpc_status_name)`` of a response's error (200/'OK' if none).

    A shoal error keeps its own status (``RequestTooLargeError`` -> 413 /
    RESOURCE_EXHAUSTED); any other exception raised in an executor is a 500 / INTERNAL
    ``ExecutorError`` whose body names the executor, type, message and traceback.
    """
    if info is None:
        return 200, "OK"
    cls = error_class(info.name)
    if cls is ShoalError and info.name != "ShoalError":
        cls = ExecutorError
    return cls.http_status, cls.grpc_status


def _status_name(resp: DataRequest) -> str:
    err = resp.header.error
    return "OK" if err is None else (err.name or "ERROR")


class GatewayHandler:
    """Runs one decoded request through the router under the gateway's limits."""

    def __init__(self, router: Router, config: GatewayConfig,
                 metrics: GatewayMetrics | None = None) -> None:
        self.router = router
        self.config = config
        self.metrics = metrics
        self.protocol = config.protocol
        self._default_timeout_ms = config.timeout_ms

    def timeout_s(self, req: DataRequest) -> float | None:
        """The tighter of the gateway's and the request's timeout, in seconds."""
        own = self._default_timeout_ms
        asked = req.header.timeout_ms
        ms = min(own, asked) if own and asked else (own or asked)
        return ms / 1000.0 if ms else None

    async def handle(self, req: DataRequest) -> DataRequest:
        """The response to ``req``; never raises for a bad request or a failed executor."""
        metrics = self.metrics
        t0 = time.perf_counter()
        if metrics is not None:
            metrics.started(self.protocol)
        endpoint = req.header.exec_endpoint
        if req.header.status != "OK" or req.header.error is not None:
            req.header.status, req.header.error = "OK", None  # a client cannot send an error
        if not req.header.request_id:
            req.header.request_id = os.urandom(16).hex()
        status = "CANCELLED"
        try:
            timeout = self.timeout_s(req)
            if timeout is None:
                resp = await self.router.process(req)
            else:
                try:
                    resp = await asyncio.wait_for(self.router.process(req), timeout)
                except asyncio.TimeoutError:
                    raise RequestTimeoutError(
                        f"request {req.header.request_id} to {endpoint!r} did not finish "
                        f"within {timeout:g} s; raise the client's timeout= or the "
                        "gateway's timeout") from None
            if resp is None:  # a router that mutates in place
                resp = req
            status = _status_name(resp)
        except ShoalError as exc:
            resp = error_response(req, exc, with_traceback=False)
            status = _status_name(resp)
        except Exception as exc:  # noqa: BLE001 - a router bug must not kill the gateway
            resp = error_response(req, exc, executor="gateway")
            status = _status_name(resp)
        finally:  # also for a call the client cancelled: the in-flight gauge goes down
            if metrics is not None:
                metrics.finished(self.protocol, endpoint, status, time.perf_counter() - t0)
        return resp

    def malformed(self, exc: MalformedDataError | Exception) -> DataRequest:
        """The response to bytes that could not be decoded into a request."""
        if not isinstance(exc, MalformedDataError):
            exc = MalformedDataError(str(exc))
        if self.metrics is not None:
            self.metrics.count(self.protocol, "", type(exc).__name__)
        return error_response(None, exc, with_traceback=False)

    def rejected(self, req: DataRequest | None, exc: ShoalError) -> DataRequest:
        """The response to a request refused before routing (e.g. too large)."""
        if self.metrics is not None:
            endpoint = req.header.exec_endpoint if req is not None else ""
            self.metrics.count(self.protocol, endpoint, type(exc).__name__)
        return error_response(req, exc, with_traceback=False)
