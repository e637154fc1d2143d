"""The Ray actor of ``runtime='ray'``: one executor replica, built inside the actor.

The driver wraps :class:`ExecutorActor` with ``ray.remote`` (this module does not import
Ray, so it is picklable by reference and importable without it). The actor receives the
same JSON config a worker process gets (:func:`~shoal.serve.runtime.process.worker_config`
plus ``env``) and builds the executor from it; requests come and go as ``RequestProto``
bytes, as on a worker's gRPC channel. Nothing received is unpickled by shoal.

The executor is built in ``__init__`` so that a restart by Ray (``max_restarts``) builds
it again; a load failure is kept and reported by :meth:`ready` instead of raising, which
Ray would treat as a dead actor.
"""
from __future__ import annotations

import os
import socket
import traceback
from typing import Any

from shoal.serve.runtime.worker import extend_sys_path, handle, load_guarded

__all__ = ["ExecutorActor"]


class ExecutorActor:
    """Hosts one executor; every method is async, so Ray runs them on one event loop."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._name = str(config.get("name") or "")
        self._executor: Any = None
        self._error = self._traceback = ""
        self._closed = False
        os.environ.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
        extend_sys_path(config)
        try:
            self._executor = load_guarded(config)
        except Exception as exc:  # noqa: BLE001 - reported by ready() / process()
            traceback.print_exc()  # in the actor's log (Ray forwards it to the driver)
            self._error = f"{type(exc).__name__}: {exc}"
            self._traceback = traceback.format_exc()
        else:
            self._name = self._name or self._executor.metas.name

    async def ready(self) -> dict[str, Any]:
        """``{"endpoints", "pid", "node"}`` once built, or ``{"error": ...}``."""
        if self._executor is None:
            return {"error": self._error}
        return {"endpoints": list(self._executor.requests), "pid": os.getpid(),
                "node": socket.gethostname()}

    async def process(self, raw: bytes) -> bytes:
        """One request in, its response out (executor errors in the response header)."""
        if self._executor is None:
            return _load_error(raw, self._name, self._error, self._traceback)
        return await handle(self._executor, self._name, raw)

    async def close(self) -> None:
        """Close the executor (once)."""
        if self._executor is not None and not self._closed:
            self._closed = True
            self._executor._shoal_close()  # noqa: SLF001


def _load_error(raw: bytes, name: str, error: str, tb: str) -> bytes:
    from shoal.document.codec import request_from_bytes, request_to_bytes  # noqa: PLC0415
    from shoal.document.request import ErrorInfo  # noqa: PLC0415

    req = request_from_bytes(raw)
    req.set_error(ErrorInfo(name="ExecutorLoadError", executor=name, traceback=tb,
                            message=f"the executor could not be rebuilt after a restart: {error}"))
    return request_to_bytes(req)
