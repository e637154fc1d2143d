"""The in-process runtime: the executor lives in the caller's process.

Docs pass by reference and nothing is serialized. On the Flow's event loop, async
handlers are awaited and sync ones run in a thread pool; ``process_sync`` runs a sync
handler directly in the calling thread (``Flow.post`` uses it, since it blocks anyway).
An exception in the executor becomes an error response, never a raise.
"""
from __future__ import annotations

import asyncio
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Sequence

from shoal.document.request import ErrorInfo
from shoal.executors.decorators import DEFAULT_ENDPOINT
from shoal.executors.handler import find_handler, run_async, run_sync
from shoal.executors.loader import load_executor
from shoal.flow.runtimes import WorkerSpec, register_runtime

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.executors.executor import Executor

__all__ = ["InProcessWorker", "error_response"]


def error_response(req: DataRequest, exc: BaseException, executor: str) -> DataRequest:
    """Mark ``req`` as failed in ``executor`` with ``exc``'s type, message and traceback."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    req.set_error(ErrorInfo(name=type(exc).__name__, message=str(exc), executor=executor,
                            traceback=tb))
    return req


class InProcessWorker:
    """One executor instance in this process (``runtime='thread'``)."""

    inline = True

    def __init__(self, spec: WorkerSpec, pool: ThreadPoolExecutor | None = None) -> None:
        self.spec = spec
        self.label = spec.label
        self.executor: Executor | None = None
        self.pool = pool or spec.extra.get("pool")
        self.endpoints: list[str] = []
        self._inline_cache: dict[str, bool] = {}

    def start_sync(self) -> None:
        """Construct the executor (raises ExecutorLoadError)."""
        cfg = self.spec.config
        args = self.spec.runtime_args()
        if self.spec.metrics is not None:
            args["metrics"] = self.spec.metrics
        self.executor = load_executor(
            cfg.uses, uses_with=cfg.uses_with, uses_metas=cfg.uses_metas,
            uses_requests=cfg.uses_requests, runtime_args=args, workspace=cfg.workspace,
            py_modules=list(cfg.py_modules), base_dir=cfg.base_dir, name=cfg.name,
            context=cfg.context)
        self.endpoints = list(self.executor.requests)

    async def start(self) -> None:
        """Construct the executor in a thread, so a ``timeout_ready`` can expire."""
        await asyncio.get_running_loop().run_in_executor(None, self.start_sync)

    def can_inline(self, endpoint: str) -> bool:
        found = self._inline_cache.get(endpoint)
        if found is None:
            fn = find_handler(self.executor, endpoint) if self.executor else None
            found = fn is None or not prepare_is_async(self.executor, endpoint)
            self._inline_cache[endpoint] = found
        return found

    def binds(self, endpoint: str) -> bool:
        return endpoint in self.endpoints or DEFAULT_ENDPOINT in self.endpoints

    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest:
        try:
            return run_sync(self.executor, requests)
        except Exception as exc:  # noqa: BLE001 - reported in the response
            return error_response(requests[0], exc, self.spec.config.name)

    async def process(self, requests: Sequence[DataRequest]) -> DataRequest:
        try:
            return await run_async(self.executor, requests, self.pool)
        except Exception as exc:  # noqa: BLE001 - reported in the response
            return error_response(requests[0], exc, self.spec.config.name)

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        if self.executor is not None:
            self.executor._shoal_close()  # noqa: SLF001


def prepare_is_async(executor: Executor, endpoint: str) -> bool:
    from shoal.executors.handler import _signature  # noqa: PLC0415

    fn = find_handler(executor, endpoint)
    return fn is not None and _signature(fn).is_async


register_runtime("thread", InProcessWorker)
