"""DataRequest on the wire: ``RequestProto`` bytes / messages and Jina's HTTP JSON.

Nothing read by ``request_from_*`` is ever unpickled; bad input raises
:class:`~shoal.errors.MalformedDataError` saying what was wrong.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from shoal.document.codec.dicts import docs_from_dicts, docs_to_dicts
from shoal.document.codec.jsontext import _plain, dumps_json, loads_json
from shoal.document.codec.proto_decode import _decode_array_bytes, _parse
from shoal.document.codec.proto_encode import _encode_docs, _guarded, _ld, _str_field
from shoal.document.document import Document
from shoal.errors import BadInputError, MalformedDataError
from shoal.proto import shoal_pb2 as pb2

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = [
    "request_to_proto", "request_from_proto", "request_to_bytes", "request_from_bytes",
    "request_to_json_dict", "request_from_json_dict",
]

_STATUS_CODES = {"OK": pb2.StatusProto.OK, "ERROR": pb2.StatusProto.ERROR}


def _header_proto(req: DataRequest) -> Any:
    h = req.header
    hp = pb2.HeaderProto(request_id=h.request_id, exec_endpoint=h.exec_endpoint or "",
                         target_executor=h.target_executor or "",
                         timeout_ms=int(h.timeout_ms or 0))
    if h.status not in _STATUS_CODES:
        raise BadInputError(f"request status must be 'OK' or 'ERROR', got {h.status!r}")
    hp.status.code = _STATUS_CODES[h.status]
    hp.status.description = h.status
    if h.error is not None:
        e = hp.status.exception
        e.name, e.message = h.error.name or "", h.error.message or ""
        e.executor, e.traceback = h.error.executor or "", h.error.traceback or ""
    return hp


def request_to_bytes(req: DataRequest) -> bytes:
    """``RequestProto`` bytes of ``req`` (docs encoded by the fast path)."""
    parts = [_ld(b"\x0a", _header_proto(req).SerializeToString())]
    if req.parameters:
        parts.append(_ld(b"\x12", dumps_json(req.parameters, "parameters").encode()))
    if req._docs is not None and len(req._docs):
        parts.append(_ld(b"\x1a", _guarded(_encode_docs, req._docs)))
    for route in req.routes:
        parts.append(_str_field(b"\x22", route, "route"))
    return b"".join(parts)


def request_to_proto(req: DataRequest) -> Any:
    """``req`` as a ``shoal_pb2.RequestProto``."""
    return pb2.RequestProto.FromString(request_to_bytes(req))


def _build_request(pb: Any, docs_bytes: bytes | None) -> DataRequest:
    from shoal.document.request import DataRequest, ErrorInfo  # noqa: PLC0415

    h = pb.header
    params = {}
    if pb.parameters_json:
        params = loads_json(pb.parameters_json)
        if not isinstance(params, dict):
            raise MalformedDataError("request parameters are not a JSON object")
    req = DataRequest(endpoint=h.exec_endpoint, parameters=params,
                      target_executor=h.target_executor, request_id=h.request_id or None)
    req.header.timeout_ms = h.timeout_ms
    if h.status.code == pb2.StatusProto.ERROR:
        req.header.status = "ERROR"
        if not h.request_id:  # the answer to a request the gateway could not read
            req.header.request_id = ""
        if h.status.HasField("exception"):
            e = h.status.exception
            req.header.error = ErrorInfo(name=e.name, message=e.message,
                                         executor=e.executor, traceback=e.traceback)
    elif h.status.code != pb2.StatusProto.OK:
        raise MalformedDataError(f"unknown request status code {h.status.code}")
    if docs_bytes:
        req.docs = _decode_array_bytes(docs_bytes)
    req.routes = list(pb.routes)
    return req


def request_from_proto(pb: Any) -> DataRequest:
    """A DataRequest from a ``shoal_pb2.RequestProto`` (never unpickles anything)."""
    return _build_request(pb, pb.data.SerializeToString() if pb.HasField("data") else None)


def request_from_bytes(data: bytes) -> DataRequest:
    """A DataRequest from ``RequestProto`` bytes; corrupt bytes raise MalformedDataError."""
    view = _parse(pb2.RequestViewProto(), data, "a request")
    return _build_request(view, view.data)


def request_to_json_dict(req: DataRequest, **kwargs: Any) -> dict[str, Any]:
    """Jina's HTTP JSON shape: ``{"header", "parameters", "routes", "data": [docs]}``.

    ``kwargs`` go to :func:`doc_to_dict` (e.g. ``array_format='list'``).
    """
    h = req.header
    status: dict[str, Any] = {"code": h.status, "description": h.status}
    if h.error is not None:
        status["exception"] = h.error.to_dict()
    header = {"request_id": h.request_id, "exec_endpoint": h.exec_endpoint,
              "target_executor": h.target_executor, "status": status,
              "timeout_ms": h.timeout_ms}
    docs = req._docs if req._docs is not None else ()
    return {"header": header, "parameters": _plain(req.parameters),
            "routes": list(req.routes), "data": docs_to_dicts(docs, **kwargs)}


def _json_docs(data: Any) -> list[Document]:
    if data is None:
        return []
    if isinstance(data, dict) and "docs" in data:  # {"data": {"docs": [...]}}
        data = data["docs"]
    if not isinstance(data, list):
        raise MalformedDataError(f"'data' must be a list of Documents, got "
                                 f"{type(data).__name__}")
    return docs_from_dicts([{"text": x} if isinstance(x, str) else x for x in data])


def request_from_json_dict(body: Any) -> DataRequest:
    """A DataRequest from a Jina-style HTTP body or a :func:`request_to_json_dict` dict.

    Body: ``{"data": [...], "parameters": {...}, "exec_endpoint": "/x",
    "target_executor": "..."}``; a ``"header"`` object (response shape) is read too.
    Strings in ``data`` become text Documents.
    """
    from shoal.document.request import DataRequest, ErrorInfo  # noqa: PLC0415

    if not isinstance(body, dict):
        raise MalformedDataError(f"a request must be a JSON object, got {type(body).__name__}")
    header = body.get("header") or {}
    if not isinstance(header, dict):
        raise MalformedDataError("'header' must be an object")

    def pick(*names: str, default: Any = "") -> Any:
        for src in (body, header):
            for name in names:
                if src.get(name) is not None:
                    return src[name]
        return default

    endpoint = pick("exec_endpoint", "execEndpoint", "endpoint", default="/")
    target = pick("target_executor", "targetExecutor")
    request_id = pick("request_id", "requestId")
    for name, value in (("exec_endpoint", endpoint), ("target_executor", target),
                        ("request_id", request_id)):
        if not isinstance(value, str):
            raise MalformedDataError(f"{name!r} must be a string")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise MalformedDataError("'parameters' must be an object")
    req = DataRequest(endpoint=endpoint, parameters=params, target_executor=target,
                      request_id=request_id or None)
    timeout = pick("timeout_ms", "timeoutMs", default=0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or not 0 <= timeout < 2 ** 63:
        raise MalformedDataError("'timeout_ms' must be a number of milliseconds >= 0")
    req.header.timeout_ms = int(timeout)
    status = header.get("status")
    if isinstance(status, dict):
        code = status.get("code", "OK")
        if code in ("ERROR", 1, pb2.StatusProto.ERROR):
            req.header.status = "ERROR"
            if not request_id:  # the answer to a request the gateway could not read
                req.header.request_id = ""
            exc = status.get("exception")
            if isinstance(exc, dict):
                req.header.error = ErrorInfo(
                    name=str(exc.get("name", "")), message=str(exc.get("message", "")),
                    executor=str(exc.get("executor", "")),
                    traceback=str(exc.get("traceback", "")))
    docs = _json_docs(body.get("data"))
    if docs:
        req.docs = docs
    routes = body.get("routes") or []
    req.routes = [r if isinstance(r, str) else str(r.get("executor", ""))
                  for r in routes if isinstance(r, (str, dict))]
    return req
