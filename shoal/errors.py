"""Every error a user of shoal can cause, in one tree.

::

    ShoalError                         (Exception; carries .http_status, .grpc_status)
    ├── BadInputError                  400 INVALID_ARGUMENT   (also a ValueError)
    │   ├── DimensionMismatchError     ragged / wrong-dimension vectors
    │   ├── UnknownMetricError         metric name not known
    │   ├── EmptyArrayError            an empty array where one is needed
    │   ├── MalformedDataError         a file, bytes or JSON that cannot be decoded
    │   ├── InvalidFilterError         a filter query that cannot be parsed
    │   ├── InvalidConfigError         an unknown storage / index / config key or value
    │   └── StoreClosedError           a disk array used after close()
    ├── NotFoundError                  404 NOT_FOUND
    │   ├── DocumentNotFoundError      an id or position that is not in the array (also KeyError)
    │   ├── EndpointNotFoundError      no executor serves the endpoint asked for
    │   └── UnknownBackendError        no storage / index backend of that name
    ├── DuplicateIdError               409 ALREADY_EXISTS
    ├── MissingExtraError              501 UNIMPLEMENTED      an optional dependency is not installed
    ├── StoreError                     500 INTERNAL
    │   ├── StoreVersionError          the store was written by an unknown format version
    │   ├── CorruptStoreError          a store file cannot be read back
    │   ├── StoreLockedError           503 UNAVAILABLE: another writer held the lock too long
    │   └── StoreNotWritableError      the path cannot be written
    ├── IndexNotTrainedError           412 FAILED_PRECONDITION
    ├── FlowError                      500 INTERNAL
    │   ├── TopologyError              unknown needs, cycles, duplicate names (400)
    │   ├── ExecutorLoadError          `uses=` that cannot be found or built (400)
    │   ├── ExecutorError              an exception raised inside an executor
    │   └── DeploymentNotReadyError    504: a deployment did not become ready in time
    ├── RequestTooLargeError           413 RESOURCE_EXHAUSTED
    ├── RequestTimeoutError            504 DEADLINE_EXCEEDED
    └── ConnectionFailedError          503 UNAVAILABLE: the client cannot reach the gateway

Third-party errors are re-raised as one of these with ``raise ... from exc``. A
client re-raises the type the server raised: see :func:`error_class`.
"""
from __future__ import annotations

__all__ = [
    "ShoalError", "BadInputError", "DimensionMismatchError", "UnknownMetricError",
    "EmptyArrayError", "MalformedDataError", "InvalidFilterError", "InvalidConfigError",
    "StoreClosedError",
    "NotFoundError", "DocumentNotFoundError", "EndpointNotFoundError", "UnknownBackendError",
    "DuplicateIdError", "MissingExtraError", "StoreError", "StoreVersionError",
    "CorruptStoreError", "StoreLockedError", "StoreNotWritableError", "IndexNotTrainedError",
    "FlowError", "TopologyError", "ExecutorLoadError", "ExecutorError",
    "DeploymentNotReadyError", "RequestTooLargeError", "RequestTimeoutError",
    "ConnectionFailedError", "error_class",
]


class ShoalError(Exception):
    """Root of every shoal error. ``http_status`` / ``grpc_status`` map it at the boundaries."""

    http_status: int = 500
    grpc_status: str = "INTERNAL"


class BadInputError(ShoalError, ValueError):
    """The caller passed something shoal cannot use."""

    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class DimensionMismatchError(BadInputError):
    """Vectors are ragged or do not have the dimension the array / index / store expects."""


class UnknownMetricError(BadInputError):
    """A metric name that shoal does not know."""


class EmptyArrayError(BadInputError):
    """An empty array (or one without embeddings) where data is needed."""


class MalformedDataError(BadInputError):
    """Bytes, JSON, protobuf or a file that cannot be decoded."""


class InvalidFilterError(BadInputError):
    """A filter query that does not follow the query language."""


class InvalidConfigError(BadInputError):
    """An unknown or invalid configuration key or value."""


class StoreClosedError(BadInputError):
    """A disk-backed array used after ``close()`` (like a closed file: also a ValueError)."""


class NotFoundError(ShoalError, LookupError):
    """Something asked for by name, id or position does not exist."""

    http_status = 404
    grpc_status = "NOT_FOUND"


class DocumentNotFoundError(NotFoundError, KeyError, IndexError):
    """A Document id or position that is not in the array (a KeyError and an IndexError)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class EndpointNotFoundError(NotFoundError):
    """No executor serves the endpoint that was requested."""


class UnknownBackendError(NotFoundError, InvalidConfigError):
    """No storage or index backend is registered under that name."""


class DuplicateIdError(ShoalError, ValueError):
    """A Document id that already exists where a new one was required."""

    http_status = 409
    grpc_status = "ALREADY_EXISTS"


class MissingExtraError(ShoalError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    http_status = 501
    grpc_status = "UNIMPLEMENTED"


class StoreError(ShoalError):
    """A document store cannot do what was asked."""


class StoreVersionError(StoreError):
    """The store was written by a format version this code does not know."""


class CorruptStoreError(StoreError):
    """A store or index file cannot be read back."""


class StoreLockedError(StoreError):
    """Another writer held the store longer than the configured timeout."""

    http_status = 503
    grpc_status = "UNAVAILABLE"


class StoreNotWritableError(StoreError):
    """The store path cannot be created or written."""


class IndexNotTrainedError(ShoalError):
    """A trainable index (e.g. IVF) was searched or filled before training."""

    http_status = 412
    grpc_status = "FAILED_PRECONDITION"


class FlowError(ShoalError):
    """A Flow or Deployment cannot be built or run."""


class TopologyError(FlowError, ValueError):
    """Unknown ``needs``, a cycle, duplicate names, or another bad Flow graph."""

    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class ExecutorLoadError(FlowError):
    """``uses=`` names an executor that cannot be found or constructed."""

    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class ExecutorError(FlowError):
    """An exception raised inside an executor; names the executor, type, message, traceback."""

    def __init__(self, message: str, *, executor: str = "", exc_type: str = "",
                 exc_message: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.executor = executor
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback


class DeploymentNotReadyError(FlowError):
    """A deployment did not become ready within its ``timeout_ready``."""

    http_status = 504
    grpc_status = "DEADLINE_EXCEEDED"


class RequestTooLargeError(ShoalError):
    """A request is bigger than the gateway accepts."""

    http_status = 413
    grpc_status = "RESOURCE_EXHAUSTED"


class RequestTimeoutError(ShoalError, TimeoutError):
    """A request did not finish within its timeout."""

    http_status = 504
    grpc_status = "DEADLINE_EXCEEDED"


class ConnectionFailedError(ShoalError, ConnectionError):
    """The client cannot reach the gateway."""

    http_status = 503
    grpc_status = "UNAVAILABLE"


def error_class(name: str) -> type[ShoalError]:
    """The shoal error class called ``name``, or ``ShoalError`` if there is none.

    Used by clients to re-raise the type the server raised (no eval, a plain lookup).
    """
    cls = globals().get(name)
    if isinstance(cls, type) and issubclass(cls, ShoalError):
        return cls
    return ShoalError
