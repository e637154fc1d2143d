"""What the router and a worker process agree on, besides ``shoal.proto``.

* The worker is started as ``python -m shoal.serve.runtime.worker`` with its config as
  JSON in the ``SHOAL_WORKER_CONFIG`` environment variable and the write end of a pipe
  in ``SHOAL_WORKER_FD``; it writes one JSON line there: ``{"port": p, "endpoints":
  [...], "pid": n}`` once it serves, or ``{"error": "..."}`` if the executor cannot load.
* Requests are ``RequestProto`` bytes on ``/shoal.Worker/Process``. A join (several
  incoming requests) travels as one request whose docs are the parts concatenated and
  whose ``parameters[MATRIX_KEY]`` is ``{"sizes": [...], "routes": [...]}``; the worker
  splits it back into ``docs_matrix``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = ["CONFIG_ENV", "FD_ENV", "LOADING_ENV", "MATRIX_KEY", "METHOD", "pack", "unpack"]

CONFIG_ENV = "SHOAL_WORKER_CONFIG"
FD_ENV = "SHOAL_WORKER_FD"
#: Set while a worker imports the executor's module (a script without a main guard).
LOADING_ENV = "SHOAL_WORKER_LOADING"
MATRIX_KEY = "__shoal_matrix__"
METHOD = "/shoal.Worker/Process"


def pack(requests: Sequence[DataRequest]) -> DataRequest:
    """One request carrying several (a join); a single request is returned as is."""
    if len(requests) == 1:
        return requests[0]
    from shoal.document.array import DocumentArray  # noqa: PLC0415
    from shoal.document.request import DataRequest as _DR  # noqa: PLC0415
    from shoal.executors.merge import merge_results  # noqa: PLC0415

    first = requests[0]
    out = _DR(endpoint=first.header.exec_endpoint, target_executor=first.header.target_executor,
              request_id=first.header.request_id)
    out.header.timeout_ms = first.header.timeout_ms
    out.parameters = dict(first.parameters)
    merge_results(out.parameters, [r.parameters for r in requests[1:]])
    out.parameters[MATRIX_KEY] = {"sizes": [len(r.docs) for r in requests],
                                  "routes": [r.routes[-1] if r.routes else "" for r in requests]}
    docs: list = []
    for r in requests:
        docs.extend(r.docs)
    out.docs = DocumentArray(docs)
    out.routes = list(first.routes)
    return out


def unpack(req: DataRequest) -> list[DataRequest]:
    """The inverse of :func:`pack`."""
    spec = req.parameters.pop(MATRIX_KEY, None)
    if not spec:
        return [req]
    from shoal.document.array import DocumentArray  # noqa: PLC0415
    from shoal.document.request import DataRequest as _DR  # noqa: PLC0415

    parts, start = [], 0
    docs = list(req.docs)
    for size, route in zip(spec["sizes"], spec["routes"], strict=True):
        part = _DR(endpoint=req.header.exec_endpoint, target_executor=req.header.target_executor,
                   request_id=req.header.request_id)
        part.parameters = req.parameters
        part.docs = DocumentArray(docs[start:start + size])
        part.routes = [route] if route else []
        start += size
        parts.append(part)
    return parts
