"""Run one request against one Executor instance: dispatch, call, return semantics.

Shared by the in-process runtime and the worker process. The steps are split so a
caller can run the method its own way (inline, in a thread pool, or awaited)::

    call = prepare(executor, requests)         # call.fn None: nothing bound, pass through
    result = call.fn(**call.kwargs)            # or await, or run_in_executor
    response = finish(executor, call, result)  # Jina 3 return semantics

Return semantics (Jina 3): a DocumentArray replaces the docs; ``None`` keeps the
(possibly mutated) docs; a dict goes to ``parameters['__results__'][<name>]`` (and, in a
sharded deployment, to ``['<name>/shard-<s>/rep-<r>']`` too: see :func:`result_keys`).
"""
from __future__ import annotations

import asyncio
import inspect
import time
from concurrent.futures import Executor as Executor_
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from shoal.executors.decorators import DEFAULT_ENDPOINT
from shoal.executors.merge import merge_results, reduce_docs

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.executors.executor import Executor

__all__ = ["Call", "executor_parameters", "merge_requests", "prepare", "finish", "find_handler",
           "run_sync", "run_async", "invoke_sync", "invoke_async", "result_keys", "ARG_NAMES"]

#: Arguments a handler may ask for by name (``tracing_context`` is always None: shoal
#: has no OpenTelemetry tracing; Jina passes it).
ARG_NAMES = ("docs", "parameters", "docs_matrix", "docs_map", "tracing_context")


@dataclass(frozen=True)
class _Signature:
    names: tuple[str, ...]
    var_kw: bool
    is_async: bool


_SIGS: dict[Any, _Signature] = {}


def _signature(fn: Callable[..., Any]) -> _Signature:
    key = getattr(fn, "__func__", fn)
    sig = _SIGS.get(key)
    if sig is None:
        params = inspect.signature(fn).parameters.values()
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
        names = tuple(n for n in ARG_NAMES if var_kw or any(p.name == n for p in params))
        target = inspect.unwrap(key)
        sig = _Signature(names, var_kw, inspect.iscoroutinefunction(key)
                         or inspect.iscoroutinefunction(target))
        _SIGS[key] = sig
    return sig


@dataclass
class Call:
    """A prepared handler call: ``fn(**kwargs)``, and where its result goes."""

    fn: Callable[..., Any] | None  # None: the executor binds nothing; pass through
    kwargs: dict[str, Any]
    request: DataRequest
    is_async: bool
    endpoint: str


def _is_specific(key: str) -> bool:
    return "__" in key and not key.startswith("__") and not key.endswith("__")


def executor_parameters(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    """The parameters one executor sees (Jina semantics).

    ``'<name>__key'`` is passed as ``key`` to the executor called ``name`` only and hidden
    from the others; ``parameters['<name>']`` (a dict) is merged in for that executor.
    The executor gets its own dict, as Jina's copy: popping or setting a key there does
    not change what the next executors and the response see (return a dict for results).
    """
    if not any(_is_specific(k) for k in parameters) and not isinstance(
            parameters.get(name), dict):
        return dict(parameters)
    out = {}
    for key, value in parameters.items():
        if _is_specific(key):
            owner, _, plain = key.rpartition("__")
            if owner == name:
                out[plain] = value
        elif key not in out:
            out[key] = value
    specific = parameters.get(name)
    if isinstance(specific, dict):
        out.update(specific)
    return out


def find_handler(executor: Executor, endpoint: str) -> Callable[..., Any] | None:
    """The bound method serving ``endpoint`` (or the default handler), else None."""
    table = executor.requests
    return table.get(endpoint) or table.get(DEFAULT_ENDPOINT)


def merge_requests(requests: Sequence[DataRequest], keep_matrix: bool = True
                   ) -> tuple[DataRequest, Any, Any]:
    """Join several requests into the first: docs merged by id, ``__results__`` merged.

    Returns ``(request, docs_matrix, docs_map)`` (both None for one request). With
    ``keep_matrix`` the arrays in ``docs_matrix`` keep their Documents as they came (the
    merged docs are copies where they differ); without it they may be changed.
    """
    first = requests[0]
    if len(requests) == 1:
        return first, None, None
    matrix = [r.docs for r in requests]
    docs_map = {}
    for r in requests:
        key = r.routes[-1] if r.routes else str(len(docs_map))
        docs_map[key] = r.docs
    merge_results(first.parameters, [r.parameters for r in requests[1:]])
    first.docs = reduce_docs(matrix, copy=keep_matrix)
    return first, matrix, docs_map


def prepare(executor: Executor, requests: Sequence[DataRequest]) -> Call:
    """Merge incoming requests (a join) and prepare the handler call (``fn`` None: skip)."""
    req, matrix, docs_map = merge_requests(requests)
    endpoint = req.header.exec_endpoint
    fn = find_handler(executor, endpoint)
    if fn is None:
        return Call(fn=None, kwargs={}, request=req, is_async=False, endpoint=endpoint)
    sig = _signature(fn)
    params = executor_parameters(req.parameters, executor.runtime_args.name)
    if matrix is None:  # one request: Jina's one-row matrix, the map under its last route
        matrix = [req.docs]
        docs_map = {req.routes[-1] if req.routes else "0": req.docs}
    available = {"docs": req.docs, "parameters": params, "docs_matrix": matrix,
                 "docs_map": docs_map, "tracing_context": None}
    kwargs = {n: available[n] for n in sig.names}
    return Call(fn=fn, kwargs=kwargs, request=req, is_async=sig.is_async, endpoint=endpoint)


def finish(executor: Executor, call: Call, result: Any) -> DataRequest:
    """Apply a handler's return value to the request (Jina 3 semantics)."""
    req = call.request
    if result is None:
        return req
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if isinstance(result, DocumentArray):
        req.docs = result
    elif isinstance(result, dict):
        results = req.parameters.get("__results__")
        if not isinstance(results, dict):
            results = req.parameters["__results__"] = {}
        for key in result_keys(executor):
            results[key] = result
    else:
        raise TypeError(
            f"{type(executor).__name__}.{getattr(call.fn, '__name__', '?')} returned "
            f"{type(result).__name__}; an executor method must return a DocumentArray, "
            "a dict or None")
    return req


def result_keys(executor: Executor) -> tuple[str, ...]:
    """Where a returned dict goes in ``parameters['__results__']``: the executor's name,
    and for a sharded deployment also Jina's pod name ``'<name>/shard-<s>/rep-<r>'``, so
    the dicts of ALL-polled shards all survive the merge (the bare name keeps the last)."""
    ra = executor.runtime_args
    name = ra.name or executor.metas.name
    if getattr(ra, "shards", 1) > 1:
        return name, f"{name}/shard-{ra.shard_id}/rep-{ra.replica_id}"
    return (name,)


def run_sync(executor: Executor, requests: Sequence[DataRequest]) -> DataRequest:
    """Handle ``requests`` in the calling thread (sync handlers only)."""
    call = prepare(executor, requests)
    if call.fn is None:
        return call.request
    if call.is_async:
        raise RuntimeError("run_sync cannot run an async handler; use run_async")
    return invoke_sync(executor, call)


def invoke_sync(executor: Executor, call: Call) -> DataRequest:
    """Run a prepared sync handler here (one call at a time per instance; timed)."""
    metrics = executor._metrics  # noqa: SLF001
    with executor._shoal_lock:  # noqa: SLF001 - one call at a time per instance
        if metrics is None:
            result = call.fn(**call.kwargs)
        else:
            t0 = time.perf_counter()
            try:
                result = call.fn(**call.kwargs)
            finally:
                _observe(executor, call, time.perf_counter() - t0)
    return finish(executor, call, result)


async def run_async(executor: Executor, requests: Sequence[DataRequest],
                    pool: Executor_ | None = None) -> DataRequest:
    """Handle ``requests`` on the running loop: await async handlers, sync ones in ``pool``."""
    call = prepare(executor, requests)
    if call.fn is None:
        return call.request
    if not call.is_async:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, invoke_sync, executor, call)
    return await invoke_async(executor, call)


async def invoke_async(executor: Executor, call: Call) -> DataRequest:
    """Await a prepared async handler (timed when monitoring is on)."""
    metrics = executor._metrics  # noqa: SLF001
    t0 = time.perf_counter()
    try:
        result = await call.fn(**call.kwargs)
    finally:
        if metrics is not None:
            _observe(executor, call, time.perf_counter() - t0)
    return finish(executor, call, result)


def _observe(executor: Executor, call: Call, seconds: float) -> None:
    from shoal.executors.monitor import REQUEST_METRIC  # noqa: PLC0415

    executor._metrics.observe(  # noqa: SLF001
        REQUEST_METRIC, seconds, "time spent in an executor's @requests method",
        executor=executor.runtime_args.name, endpoint=call.endpoint)
