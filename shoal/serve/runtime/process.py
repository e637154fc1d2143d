"""``runtime='process'``: each replica/shard in its own worker process, spoken to by gRPC.

The worker is spawned with ``python -m shoal.serve.runtime.worker`` in a new session
(Ctrl-C reaches only the parent, which then stops its workers in order) and asks Linux
to SIGTERM it if the parent dies. A worker that exits unexpectedly is reported (its
exit code is logged and returned in the error of any request it was serving) and
restarted; requests wait for the new process. ``close`` sends SIGTERM, then SIGKILL
after a grace period: no orphans, no hang.
"""
from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import weakref
from typing import TYPE_CHECKING, Any, Sequence

from shoal.document.request import ErrorInfo
from shoal.errors import (DeploymentNotReadyError, ExecutorLoadError, FlowError,
                          InvalidConfigError)
from shoal.serve.runtime.protocol import CONFIG_ENV, FD_ENV, LOADING_ENV, METHOD, pack

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.flow.runtimes import WorkerSpec

__all__ = ["ProcessWorker", "worker_config"]

_log = logging.getLogger("shoal.runtime")
#: Seconds a worker gets to start when ``timeout_ready`` is not given (and the longest a
#: request waits for a restarting worker when it is -1).
DEFAULT_TIMEOUT_READY = 60.0
#: Seconds between SIGTERM and SIGKILL on close.
GRACE_PERIOD = 5.0
_LIVE: weakref.WeakSet[ProcessWorker] = weakref.WeakSet()


def _kill_all_at_exit() -> None:
    for worker in list(_LIVE):
        worker.kill_now()


atexit.register(_kill_all_at_exit)


def worker_config(spec: WorkerSpec) -> dict[str, Any]:
    """The JSON config that tells a worker process what to build."""
    cfg = spec.config
    out: dict[str, Any] = {
        "name": cfg.name, "uses_with": cfg.uses_with, "uses_metas": cfg.uses_metas,
        "uses_requests": cfg.uses_requests, "workspace": cfg.workspace,
        "py_modules": list(cfg.py_modules), "base_dir": cfg.base_dir or os.getcwd(),
        "runtime_args": spec.runtime_args(), "parent_pid": os.getpid(),
        "context": dict(cfg.context),
        "sys_path": [p or os.getcwd() for p in sys.path],
    }
    port = cfg.extra.get("port_monitoring")
    out["monitoring"] = spec.metrics is not None
    if out["monitoring"] and port:  # one port per replica: port + shard * replicas + replica
        out["port_monitoring"] = int(port) + spec.shard_id * cfg.replicas + spec.replica_id
    uses = cfg.uses
    if isinstance(uses, type):
        try:
            path = inspect.getfile(uses)
        except TypeError:
            path = ""
        out["class"] = {"name": uses.__name__, "module": uses.__module__,
                        "file": os.path.abspath(path) if path else ""}
    else:
        out["uses"] = uses
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise InvalidConfigError(
            f"{cfg.name}: runtime={cfg.runtime!r} needs JSON-serializable uses / uses_with / "
            f"uses_metas ({exc})") from exc
    return out


class ProcessWorker:
    """One replica of one shard in a worker process (see the module docstring)."""

    inline = False

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.label = spec.label
        self.endpoints: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.last_exit_code: int | None = None
        self._config = worker_config(spec)
        self._channel: Any = None
        self._call: Any = None
        self._ready = asyncio.Event()
        self._closing = False
        self._monitor: asyncio.Task | None = None
        self._timeout = spec.config.ready_timeout(DEFAULT_TIMEOUT_READY)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def can_inline(self, endpoint: str) -> bool:
        return False

    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest:
        raise RuntimeError("a process worker is only reached through the Flow loop")

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Spawn the process and wait until it serves (DeploymentNotReadyError on timeout)."""
        if os.environ.get(LOADING_ENV):
            raise FlowError(
                f"deployment {self.spec.config.name!r}: a runtime='process' Flow was started "
                "while a worker imported the executor's script; put the Flow code under "
                "`if __name__ == '__main__':`")
        _LIVE.add(self)
        await self._spawn()
        self._monitor = asyncio.ensure_future(self._watch())

    async def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {"PYTHONUNBUFFERED": "1", **os.environ, **self.spec.config.env,
               CONFIG_ENV: json.dumps(self._config), FD_ENV: str(write_fd)}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "shoal.serve.runtime.worker", env=env,
                pass_fds=(write_fd,), start_new_session=True, stdin=subprocess.DEVNULL)
        finally:
            os.close(write_fd)
        import grpc  # noqa: PLC0415 - imported while the worker boots

        try:
            message = await asyncio.wait_for(self._read_handshake(read_fd), self._timeout)
        except asyncio.TimeoutError:
            self.kill_now()
            raise DeploymentNotReadyError(
                f"deployment {self.spec.config.name!r} ({self.label}) was not ready within "
                f"{self._timeout:.0f} s (timeout_ready)") from None
        if "error" in message or "port" not in message:
            code = await self._reap(1.0)
            raise ExecutorLoadError(
                f"deployment {self.spec.config.name!r} ({self.label}): the worker process "
                f"failed to start (exit code {code}): {message.get('error', 'no handshake')}")
        self.endpoints = list(message.get("endpoints") or [])
        if self._channel is not None:
            await self._channel.close()
        self._channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{message['port']}",
            options=[("grpc.max_receive_message_length", -1),
                     ("grpc.max_send_message_length", -1)])
        self._call = self._channel.unary_unary(METHOD)
        self._ready.set()

    async def _read_handshake(self, fd: int) -> dict[str, Any]:
        """The worker's one JSON line (``{"error": ...}`` if it exits without one)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
        try:
            line = await reader.readline()
        finally:
            transport.close()
        if not line:
            return {"error": "the worker exited before it was ready"}
        return json.loads(line)

    async def _reap(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.kill_now()
            return await self.proc.wait()

    async def _watch(self) -> None:
        """Restart the worker whenever it exits while the Flow is running."""
        while not self._closing:
            proc = self.proc
            code = await proc.wait()
            if self._closing:
                return
            self._ready.clear()
            self.last_exit_code = code
            self.restarts += 1
            _log.warning("worker %s (pid %s) exited with code %s; restarting", self.label,
                         proc.pid, code)
            try:
                await self._spawn()
            except Exception as exc:  # noqa: BLE001
                _log.error("worker %s could not be restarted: %s", self.label, exc)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """SIGTERM, wait ``GRACE_PERIOD`` s, then SIGKILL; closes the channel."""
        self._closing = True
        if self._monitor is not None:
            self._monitor.cancel()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(proc.wait(), GRACE_PERIOD)
            except asyncio.TimeoutError:
                self.kill_now()
                await proc.wait()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
        _LIVE.discard(self)

    def kill_now(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # --- requests --------------------------------------------------------------------
    async def process(self, requests: Sequence[DataRequest]) -> DataRequest:
        from shoal.document.codec import request_from_bytes, request_to_bytes  # noqa: PLC0415

        req = pack(requests)
        name = self.spec.config.name
        try:
            await asyncio.wait_for(self._ready.wait(), self._timeout or DEFAULT_TIMEOUT_READY)
        except asyncio.TimeoutError:
            return _error(req, name, "DeploymentNotReadyError",
                          f"worker {self.label} is not ready (restarts: {self.restarts}, "
                          f"last exit code: {self.last_exit_code})")
        serving = self.proc  # the watcher may replace self.proc while this call fails
        try:
            raw = await self._call(request_to_bytes(req))
        except Exception as exc:  # noqa: BLE001 - grpc.aio.AioRpcError and friends
            code = await self._exit_code_soon(serving)
            detail = (f"worker {self.label} died (exit code {code}) while handling the "
                      "request; it is being restarted") if code is not None else \
                f"worker {self.label} failed: {exc}"
            return _error(req, name, "ExecutorError", detail)
        resp = request_from_bytes(raw)
        resp.routes = list(req.routes)
        return resp

    async def _exit_code_soon(self, proc: Any) -> int | None:
        """The exit code of ``proc`` if it has died (or dies within half a second)."""
        if proc is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(proc.wait()), 0.5)
        except asyncio.TimeoutError:
            return None


def _error(req: DataRequest, executor: str, name: str, message: str) -> DataRequest:
    req.set_error(ErrorInfo(name=name, message=message, executor=executor))
    return req
