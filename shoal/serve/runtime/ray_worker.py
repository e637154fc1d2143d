"""``runtime='ray'``: each replica/shard of a deployment in its own Ray actor.

``Flow().add(uses='mymodule.MyExec', replicas=3, runtime='ray')`` places three
:class:`~shoal.serve.runtime.ray_actor.ExecutorActor` actors on the Ray cluster this
process is connected to. Where that is: the user's own ``ray.init(...)`` before the Flow
starts; else ``RAY_ADDRESS`` (``ray.init(address=...)``); else a local Ray instance with
one CPU per core is started (and logged). A Ray connection is per process, so there is no
per-deployment address.

Each actor builds the executor from the JSON config a worker process gets (``uses`` an
importable class, a YAML or ``py_modules``; ``uses_with``, ``uses_metas``, ``workspace``,
``env``); requests travel as ``RequestProto`` bytes. ``ray_actor_options`` go to
``ActorClass.options`` (``num_cpus``, ``num_gpus``, ``resources``, ``runtime_env`` ...);
``max_restarts`` defaults to -1: an actor that dies is restarted by Ray and rebuilds its
executor, while the requests it was serving fail with an ``ExecutorError`` saying so.
``close`` calls the executor's ``close()`` in the actor, then kills the actor.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

from shoal.document.request import ErrorInfo
from shoal.errors import (DeploymentNotReadyError, ExecutorLoadError, FlowError,
                          InvalidConfigError, MissingExtraError)
from shoal.serve.runtime.process import worker_config
from shoal.serve.runtime.protocol import LOADING_ENV, pack

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.flow.runtimes import WorkerSpec

__all__ = ["RayWorker", "import_ray", "ensure_ray", "actor_options"]

_log = logging.getLogger("shoal.runtime")
#: Seconds an actor gets to be placed and build its executor without ``timeout_ready``.
DEFAULT_TIMEOUT_READY = 60.0
#: Seconds the executor's ``close()`` gets in the actor before the actor is killed.
CLOSE_TIMEOUT = 10.0
#: Ray's ``max_restarts`` unless ``ray_actor_options`` sets it: restart without limit,
#: as ``runtime='process'`` restarts a dead worker.
DEFAULT_MAX_RESTARTS = -1
_INIT_LOCK = threading.Lock()
_ACTOR_CLASS: list[Any] = []


def import_ray() -> ModuleType:
    """``ray``, or MissingExtraError naming the extra to install."""
    try:
        import ray  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            f"runtime='ray' needs Ray, which is not installed ({exc}); "
            "pip install 'shoal[ray]'") from exc
    return ray


#: pings of a restarting actor before it is left out of the rotation for good
_WATCH_TRIES = 30


def ensure_ray(ray: ModuleType) -> None:
    """Connect to Ray unless this process already is (see the module docstring)."""
    with _INIT_LOCK:
        if ray.is_initialized():
            return
        address = os.environ.get("RAY_ADDRESS")
        if address:
            _log.info("runtime='ray': connecting to the Ray cluster at %s (RAY_ADDRESS)", address)
            ray.init(address=address)
            return
        cpus = os.cpu_count() or 1
        _log.info("runtime='ray': Ray is not initialized; starting a local Ray instance with "
                  "num_cpus=%d (call ray.init(address=...) first to use a cluster)", cpus)
        ray.init(num_cpus=cpus, include_dashboard=False)


def actor_options(spec: WorkerSpec) -> dict[str, Any]:
    """``ray_actor_options`` of the deployment, with shoal's default ``max_restarts``."""
    opts = dict(spec.config.extra.get("ray_actor_options") or {})
    opts.setdefault("max_restarts", DEFAULT_MAX_RESTARTS)
    return opts


def _actor_class(ray: ModuleType) -> Any:
    if not _ACTOR_CLASS:
        from shoal.serve.runtime.ray_actor import ExecutorActor  # noqa: PLC0415

        _ACTOR_CLASS.append(ray.remote(ExecutorActor))
    return _ACTOR_CLASS[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class RayWorker:
    """One replica of one shard in a Ray actor (see the module docstring)."""

    inline = False

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.label = spec.label
        self.endpoints: list[str] = []
        self.actor: Any = None
        self.pid: int | None = None  # the actor's process (on ``node``)
        self.node = ""
        self.deaths = 0  # requests that found the actor dead
        #: False while the actor is dead or restarting: the ReplicaSet sends requests to
        #: the other replicas (see :meth:`_watch_restart`)
        self.available = True
        self._watch: asyncio.Task | None = None
        self._ray = ray = import_ray()
        self._config = {**worker_config(spec), "env": dict(spec.config.env)}
        self._options = actor_options(spec)
        try:
            self._actor_cls = _actor_class(ray).options(**self._options)
        except (TypeError, ValueError) as exc:
            raise InvalidConfigError(
                f"{spec.config.name}: ray_actor_options={self._options!r} refused by Ray: "
                f"{exc}") from exc
        self._timeout = spec.config.ready_timeout(DEFAULT_TIMEOUT_READY)
        ensure_ray(ray)

    def can_inline(self, endpoint: str) -> bool:
        return False

    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest:
        raise RuntimeError("a Ray actor is only reached through the Flow loop")

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Create the actor and wait until its executor is built."""
        name = self.spec.config.name
        if os.environ.get(LOADING_ENV):
            raise FlowError(
                f"deployment {name!r}: a runtime='ray' Flow was started while a worker "
                "imported the executor's script; put the Flow code under "
                "`if __name__ == '__main__':`")
        exceptions = self._ray.exceptions
        try:
            self.actor = self._actor_cls.remote(self._config)
        except Exception as exc:  # noqa: BLE001 - e.g. a runtime_env Ray cannot set up
            raise ExecutorLoadError(f"deployment {name!r} ({self.label}): Ray could not create "
                                    f"the actor: {_first_line(exc)}") from exc
        try:
            info = await asyncio.wait_for(_awaited(self.actor.ready.remote()), self._timeout)
        except asyncio.CancelledError:  # the Flow's own timeout_ready: no close() to wait on
            self._kill()
            raise
        except asyncio.TimeoutError:
            self._kill()
            raise DeploymentNotReadyError(
                f"deployment {name!r} ({self.label}): its Ray actor was not ready within "
                f"{self._timeout:.0f} s (timeout_ready); can the cluster place "
                f"ray_actor_options={self._options!r}? (available: "
                f"{self._ray.available_resources()})") from None
        except exceptions.RayError as exc:
            self._kill()
            raise ExecutorLoadError(
                f"deployment {name!r} ({self.label}): the Ray actor failed to start: "
                f"{_first_line(exc)}") from exc
        if "error" in info:
            self._kill()
            raise ExecutorLoadError(
                f"deployment {name!r} ({self.label}): the executor failed to load in its Ray "
                f"actor: {info['error']}")
        self.endpoints = list(info["endpoints"])
        self.pid, self.node = info.get("pid"), info.get("node", "")

    async def close(self) -> None:
        """The executor's ``close()`` in the actor (``CLOSE_TIMEOUT`` s), then kill it."""
        if self._watch is not None:
            self._watch.cancel()
        if self.actor is None:
            return
        if not self._ray.is_initialized():  # shut down under the Flow: the actor is gone
            self.actor = None               # (a call would start a new cluster)
            return
        try:
            await asyncio.wait_for(_awaited(self.actor.close.remote()), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, self._ray.exceptions.RayError) as exc:
            _log.warning("ray actor %s: close() did not complete: %s", self.label,
                         _first_line(exc) if str(exc) else "timed out")
        finally:
            self._kill()

    def _kill(self) -> None:
        actor, self.actor = self.actor, None
        if actor is None:
            return
        try:
            self._ray.kill(actor, no_restart=True)
        except Exception as exc:  # noqa: BLE001 - e.g. Ray already shut down
            _log.debug("ray actor %s: kill failed: %s", self.label, exc)

    # --- requests --------------------------------------------------------------------
    async def process(self, requests: Sequence[DataRequest]) -> DataRequest:
        from shoal.document.codec import request_from_bytes, request_to_bytes  # noqa: PLC0415

        req = pack(requests)
        exceptions = self._ray.exceptions
        if self.actor is None:
            return self._error(req, "DeploymentNotReadyError", f"ray actor {self.label} is closed")
        if not self._ray.is_initialized():  # else Ray would start a new, empty cluster here
            return self._error(req, "DeploymentNotReadyError",
                               f"Ray was shut down under this Flow (ray.shutdown()), taking ray "
                               f"actor {self.label} with it; close the Flow and start it again")
        try:
            raw = await self.actor.process.remote(request_to_bytes(req))
        except exceptions.RayActorError as exc:
            self.deaths += 1
            _log.warning("ray actor %s died while handling request %s: %s", self.label,
                         req.header.request_id, _first_line(exc))
            self._lost()
            return self._error(req, "ExecutorError",
                               f"ray actor {self.label} died while handling the request; "
                               f"{self._after_death(exc)} (Ray: {_first_line(exc)})")
        except exceptions.RayError as exc:
            return self._error(req, "ExecutorError", f"ray actor {self.label} failed: {exc}")
        resp = request_from_bytes(raw)
        resp.routes = list(req.routes)
        return resp

    def _lost(self) -> None:
        """The actor died: out of the rotation until it answers again (never, without
        restarts)."""
        self.available = False
        if self._options["max_restarts"] != 0 and (self._watch is None or self._watch.done()):
            self._watch = asyncio.ensure_future(self._watch_restart())

    async def _watch_restart(self) -> None:
        """Ping the restarting actor until it answers (back in the rotation) or its
        restarts are used up (it stays out)."""
        delay = 0.1
        for _ in range(_WATCH_TRIES):
            actor = self.actor
            if actor is None:
                return
            try:
                info = await asyncio.wait_for(_awaited(actor.ready.remote()),
                                              self._timeout or DEFAULT_TIMEOUT_READY)
            except (asyncio.TimeoutError, self._ray.exceptions.RayError):
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
                continue
            self.available = "error" not in info
            return

    def _after_death(self, exc: BaseException) -> str:
        restarting = getattr(self._ray.exceptions, "ActorUnavailableError", ())
        restarts = self._options["max_restarts"]
        if isinstance(exc, restarting):
            return "Ray is restarting it"
        if restarts == 0:
            return "it is not restarted (ray_actor_options max_restarts=0)"
        return f"Ray restarts it unless its max_restarts={restarts} are used up"

    def _error(self, req: DataRequest, name: str, message: str) -> DataRequest:
        req.set_error(ErrorInfo(name=name, message=message, executor=self.spec.config.name))
        return req


async def _awaited(ref: Any) -> Any:
    """Await a Ray ObjectRef (a coroutine, so ``asyncio.wait_for`` takes it)."""
    return await ref
