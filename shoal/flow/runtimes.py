"""Worker runtimes: the ``Worker`` contract and a registry of runtimes by name.

A runtime turns one replica of one shard of a deployment into a :class:`Worker`. The
in-process runtime (``'thread'``) lives in :mod:`shoal.flow.inprocess`; the worker-process
(``'process'``) and Ray actor (``'ray'``) runtimes live in ``shoal.serve.runtime`` and
register themselves here when imported (``import shoal`` does it), so ``flow`` never
imports ``serve``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from shoal.errors import InvalidConfigError

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.executors.monitor import Metrics
    from shoal.flow.config import DeploymentConfig

__all__ = ["Worker", "WorkerSpec", "register_runtime", "get_runtime", "RuntimeFactory"]


@dataclass
class WorkerSpec:
    """What a runtime needs to build one replica of one shard."""

    config: DeploymentConfig
    shard_id: int = 0
    replica_id: int = 0
    metrics: Metrics | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name`` or ``name/shard-0/rep-1`` — how logs and errors name this worker."""
        cfg = self.config
        parts = [cfg.name]
        if cfg.shards > 1:
            parts.append(f"shard-{self.shard_id}")
        if cfg.replicas > 1:
            parts.append(f"rep-{self.replica_id}")
        return "/".join(parts)

    def runtime_args(self) -> dict[str, Any]:
        cfg = self.config
        return {"name": cfg.name, "replica_id": self.replica_id, "shard_id": self.shard_id,
                "replicas": cfg.replicas, "shards": cfg.shards, "workspace": cfg.workspace,
                "runtime": cfg.runtime, "polling": cfg.polling, "in_flow": True}


class Worker(Protocol):
    """One replica of one shard. Errors inside the executor never raise from ``process``:
    they come back as a response whose header carries :class:`ErrorInfo`.

    * ``endpoints`` — endpoints the executor binds (``'__default__'`` for a catch-all);
      known once started.
    * ``inline`` — True if ``process_sync`` may be called from any thread for an
      endpoint whose handler is sync (``can_inline``), skipping the event loop.
    """

    label: str
    endpoints: Sequence[str]
    inline: bool

    async def start(self) -> None: ...
    async def process(self, requests: Sequence[DataRequest]) -> DataRequest: ...
    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest: ...
    def can_inline(self, endpoint: str) -> bool: ...
    async def close(self) -> None: ...


RuntimeFactory = Callable[[WorkerSpec], Worker]
_RUNTIMES: dict[str, RuntimeFactory] = {}


def register_runtime(name: str, factory: RuntimeFactory) -> None:
    """Register a worker factory under ``name`` (``runtime=name`` in ``Flow.add``)."""
    _RUNTIMES[name] = factory


def get_runtime(name: str) -> RuntimeFactory:
    """The factory registered as ``name``."""
    try:
        return _RUNTIMES[name]
    except KeyError:
        hint = (f" — import shoal (or shoal.serve.runtime) to register runtime={name!r}"
                if name in ("process", "ray") else "")
        raise InvalidConfigError(
            f"runtime={name!r} is not registered (known: {sorted(_RUNTIMES)}){hint}") from None
