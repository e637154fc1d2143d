"""Prometheus metrics for executors: ``@monitor``, ``self.monitor(...)`` and :class:`Metrics`.

``prometheus_client`` is imported only when monitoring is switched on. Each Flow owns
one :class:`Metrics` (a private ``CollectorRegistry``, never the global one), so two
flows in one process — or two tests — never collide on metric names.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
from typing import Any, Callable, ContextManager, TypeVar

from shoal.errors import MissingExtraError

__all__ = ["Metrics", "MetricsTimer", "monitor", "timer", "REQUEST_METRIC"]

F = TypeVar("F", bound=Callable[..., Any])

#: The summary every ``@requests`` method is timed into when monitoring is on.
REQUEST_METRIC = "process_request_seconds"


class Metrics:
    """A private Prometheus registry plus a cache of the summaries created in it."""

    def __init__(self, namespace: str = "shoal") -> None:
        try:
            from prometheus_client import CollectorRegistry  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingExtraError(
                "monitoring needs prometheus_client: pip install 'shoal[serve]'") from exc
        self.registry = CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        self._summaries: dict[str, Any] = {}
        self._lock = threading.Lock()

    def summary(self, name: str, documentation: str = "",
                labelnames: tuple[str, ...] = ("executor", "endpoint")) -> Any:
        """The Summary called ``name`` (created on first use with ``labelnames``)."""
        with self._lock:
            found = self._summaries.get(name)
            if found is None:
                from prometheus_client import Summary  # noqa: PLC0415

                found = Summary(name, documentation or name, labelnames=labelnames,
                                namespace=self.namespace, registry=self.registry)
                self._summaries[name] = found
            return found

    def observe(self, name: str, seconds: float, documentation: str = "",
                **labels: str) -> None:
        """Record one duration in the summary ``name``."""
        summ = self.summary(name, documentation, tuple(labels))
        (summ.labels(**labels) if labels else summ).observe(seconds)

    def value(self, name: str, suffix: str = "_count", **labels: str) -> float | None:
        """A sample of the registry (``_count`` / ``_sum``), for tests and debugging."""
        return self.registry.get_sample_value(f"{self.namespace}_{name}{suffix}", labels)

    def serve(self, port: int) -> Any:
        """Expose the registry over HTTP on ``port`` (``/metrics``); returns the server."""
        from prometheus_client import start_http_server  # noqa: PLC0415

        return start_http_server(port, registry=self.registry)


class MetricsTimer:
    """A context manager timing its block into the summary ``name`` of ``metrics``."""

    __slots__ = ("metrics", "name", "documentation", "labels", "_t0")

    def __init__(self, metrics: Metrics, name: str, documentation: str = "",
                 **labels: str) -> None:
        self.metrics, self.name, self.documentation = metrics, name, documentation
        self.labels = labels
        self._t0 = 0.0

    def __enter__(self) -> MetricsTimer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.metrics.observe(self.name, time.perf_counter() - self._t0, self.documentation,
                             **self.labels)


def timer(metrics: Metrics | None, name: str, documentation: str = "",
          **labels: str) -> ContextManager[Any]:
    """A :class:`MetricsTimer`, or a no-op context when ``metrics`` is None (monitoring off)."""
    if metrics is None:
        return contextlib.nullcontext()
    return MetricsTimer(metrics, name, documentation, **labels)


def monitor(name: str | None = None, documentation: str | None = None) -> Callable[[F], F]:
    """Time an Executor method into a Prometheus summary when monitoring is on.

    ``name`` defaults to ``<method>_seconds``. With monitoring off (the default) the
    wrapper costs one attribute lookup. Inside a method, ``with self.monitor(name, doc):``
    times a block the same way.
    """

    def deco(fn: F) -> F:
        metric = name or f"{fn.__name__}_seconds"
        doc = documentation or f"time spent in {fn.__name__}"

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                metrics = getattr(self, "_metrics", None)
                if metrics is None:
                    return await fn(self, *args, **kwargs)
                with MetricsTimer(metrics, metric, doc, executor=self.runtime_args.name):
                    return await fn(self, *args, **kwargs)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            metrics = getattr(self, "_metrics", None)
            if metrics is None:
                return fn(self, *args, **kwargs)
            with MetricsTimer(metrics, metric, doc, executor=self.runtime_args.name):
                return fn(self, *args, **kwargs)
        return wrapper  # type: ignore[return-value]

    return deco
