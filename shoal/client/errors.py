"""From what came over the wire to the exception the server raised.

An error response names the exception (``header.error.name``): a shoal error name is
re-raised as that class; any other name (``ValueError`` raised inside an executor) as
:class:`~shoal.errors.ExecutorError` carrying ``exc_type``, ``exc_message``,
``executor`` and ``traceback``. Transport failures map by status: gRPC codes, HTTP
statuses and connection errors become the shoal class with the same status.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.errors import (
    BadInputError, ConnectionFailedError, EndpointNotFoundError, ExecutorError,
    MissingExtraError, RequestTimeoutError, RequestTooLargeError, ShoalError, error_class,
)

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = ["response_error", "error_from_status", "GRPC_CODES", "HTTP_STATUSES"]

#: gRPC status code name -> the shoal error it means when the server named none.
GRPC_CODES: dict[str, type[ShoalError]] = {
    "INVALID_ARGUMENT": BadInputError, "NOT_FOUND": EndpointNotFoundError,
    "RESOURCE_EXHAUSTED": RequestTooLargeError, "DEADLINE_EXCEEDED": RequestTimeoutError,
    "UNAVAILABLE": ConnectionFailedError, "UNIMPLEMENTED": ConnectionFailedError,
}
HTTP_STATUSES: dict[int, type[ShoalError]] = {
    400: BadInputError, 404: EndpointNotFoundError, 405: EndpointNotFoundError,
    413: RequestTooLargeError, 422: BadInputError, 502: ConnectionFailedError,
    503: ConnectionFailedError, 504: RequestTimeoutError,
}


def response_error(resp: DataRequest) -> ShoalError:
    """The exception a failed response stands for (with the server's type)."""
    info = resp.header.error
    if info is None:
        return ExecutorError(f"request {resp.header.request_id} failed without details")
    cls = error_class(info.name)
    where = f"executor {info.executor!r}" if info.executor and info.executor != "gateway" \
        else "the gateway"
    if cls is ShoalError and info.name != "ShoalError":
        return ExecutorError(f"{where} raised {info.name}: {info.message}",
                             executor=info.executor, exc_type=info.name,
                             exc_message=info.message, traceback=info.traceback)
    try:
        exc = cls(info.message)
    except TypeError:  # a subclass with a different constructor
        exc = ShoalError(info.message)
    exc.executor = info.executor  # type: ignore[attr-defined]
    exc.traceback = info.traceback  # type: ignore[attr-defined]
    return exc


def error_from_status(message: str, *, grpc_code: str | None = None,
                      http_status: int | None = None, name: str | None = None) -> ShoalError:
    """A shoal error for a failed call: the server's ``name`` if given, else by status."""
    cls: type[ShoalError] = error_class(name) if name else ShoalError
    if cls is ShoalError:
        if grpc_code is not None:
            cls = GRPC_CODES.get(grpc_code, ShoalError)
        elif http_status is not None:
            cls = HTTP_STATUSES.get(http_status, ShoalError)
    if cls is ConnectionFailedError and grpc_code == "UNIMPLEMENTED":
        message += " (is this a shoal gateway of the same protocol?)"
    try:
        return cls(message)
    except TypeError:
        return ShoalError(message)


def missing(package: str, protocol: str) -> MissingExtraError:
    return MissingExtraError(f"the {protocol} client needs {package}: pip install 'shoal[serve]'")
