"""The one request type that travels through a Flow, a gateway and a client.

A :class:`DataRequest` is a header (request id, endpoint, target executor, status),
JSON-like ``parameters`` and ``docs``. In process it is passed by reference; on the
wire it is ``shoal.proto`` protobuf (gRPC) or Jina's JSON shape (HTTP / WebSocket),
see :mod:`shoal.document.codec`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["DataRequest", "ErrorInfo", "Header", "Status"]


@dataclass
class ErrorInfo:
    """What went wrong in an executor: its name, the exception type, message, traceback."""

    name: str  # exception class name, e.g. 'ValueError' or a shoal.errors class name
    message: str
    executor: str = ""
    traceback: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message, "executor": self.executor,
                "traceback": self.traceback}


@dataclass(frozen=True)
class Status:
    """``resp.status``: ``code`` ('OK' / 'ERROR'), ``description``, ``exception``.

    ``resp.status.code == resp.status.ERROR`` reads as in Jina (``SUCCESS`` is 'OK').
    """

    code: str
    description: str
    exception: ErrorInfo | None = None

    SUCCESS = "OK"
    ERROR = "ERROR"


@dataclass
class Header:
    """Routing and status of a request."""

    request_id: str = field(default_factory=lambda: os.urandom(16).hex())
    exec_endpoint: str = "/"
    target_executor: str = ""
    #: 'OK' or 'ERROR'
    status: str = "OK"
    error: ErrorInfo | None = None
    timeout_ms: int = 0


class DataRequest:
    """A request or response: ``header``, ``parameters``, ``docs`` (and ``routes``)."""

    __slots__ = ("header", "parameters", "_docs", "routes")

    def __init__(self, docs: Any = None, *, endpoint: str = "/",
                 parameters: dict | None = None, target_executor: str = "",
                 request_id: str | None = None) -> None:
        self.header = Header(exec_endpoint=endpoint, target_executor=target_executor or "")
        if request_id:
            self.header.request_id = request_id
        self.parameters: dict[str, Any] = dict(parameters) if parameters else {}
        self._docs = None
        if docs is not None:
            self.docs = docs
        self.routes: list[str] = []

    @property
    def docs(self) -> DocumentArray:
        if self._docs is None:
            from shoal.document.array import DocumentArray  # noqa: PLC0415

            self._docs = DocumentArray()
        return self._docs

    @docs.setter
    def docs(self, value: Any) -> None:
        from shoal.document.array import DocumentArray  # noqa: PLC0415

        self._docs = value if isinstance(value, DocumentArray) else DocumentArray(value)

    @property
    def data(self) -> DataRequest:  # Jina spelling: resp.data.docs
        return self

    @property
    def request_id(self) -> str:
        return self.header.request_id

    @property
    def endpoint(self) -> str:
        return self.header.exec_endpoint

    @property
    def is_error(self) -> bool:
        return self.header.status == "ERROR"

    @property
    def status(self) -> Status:
        """The outcome: ``code`` 'OK' or 'ERROR', and the executor's error if any."""
        h = self.header
        error = h.error
        description = f"{error.name}: {error.message}" if error is not None else h.status
        return Status(code=h.status, description=description, exception=error)

    def to_dict(self) -> dict[str, Any]:
        """Jina's dict of a response: ``header``, ``parameters``, ``routes``, ``data``.

        The same shape as the HTTP gateway's JSON; embeddings / tensors are lists."""
        from shoal.document.codec import request_to_json_dict  # noqa: PLC0415

        return request_to_json_dict(self, array_format="list")

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        from shoal.document.codec import dumps_json  # noqa: PLC0415

        return dumps_json(self.to_dict(), "the response")

    def set_error(self, info: ErrorInfo) -> None:
        self.header.status = "ERROR"
        self.header.error = info

    def __repr__(self) -> str:
        return (f"<DataRequest {self.header.exec_endpoint} id={self.header.request_id} "
                f"status={self.header.status} docs={len(self.docs)}>")
