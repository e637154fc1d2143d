"""The Executor base class: endpoints, ``metas``, ``runtime_args``, ``workspace``.

Subclass it and decorate methods with ``@requests``; nothing else is required::

    class MyExec(Executor):
        def __init__(self, foo: str, **kwargs):
            super().__init__(**kwargs)
            self.foo = foo

        @requests(on='/index')
        def index(self, docs, parameters, **kwargs):
            ...

Every subclass is recorded by class name (so ``uses='MyExec'`` finds it once imported)
and its ``@requests`` marks are collected into ``cls._shoal_bindings`` at class
creation. A subclass ``__init__`` is wrapped so that ``metas`` / ``requests`` /
``runtime_args`` / ``workspace`` are applied before its body runs, whether or not it
forwards ``**kwargs`` to ``super().__init__``. ``self.logger`` is the standard logger
``shoal.executor.<name>`` (the deployment name in a Flow, else ``metas.name``).
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager

from shoal.errors import ExecutorLoadError
from shoal.executors.decorators import DEFAULT_ENDPOINT, ENDPOINTS_ATTR
from shoal.executors.monitor import timer

__all__ = ["Executor", "ExecutorMetas", "RuntimeArgs", "executor_class", "registered_executors",
           "RESERVED_KWARGS"]

#: Keywords the loader passes to every Executor besides ``uses_with``.
RESERVED_KWARGS = ("metas", "requests", "runtime_args", "workspace", "dynamic_batching")

#: Executor loggers are children of this one (``shoal.executor.<name>``).
LOGGER_PREFIX = "shoal.executor"

_REGISTRY: dict[str, type[Executor]] = {}
_REGISTRY_LOCK = threading.Lock()


def executor_class(name: str) -> type[Executor] | None:
    """The Executor subclass registered as ``name`` (class name or ``module.Class``)."""
    return _REGISTRY.get(name)


def registered_executors() -> dict[str, type[Executor]]:
    """A copy of the name -> class registry."""
    return dict(_REGISTRY)


@dataclass
class ExecutorMetas:
    """``self.metas``: name, description, py_modules, workspace (plus any extra keys)."""

    name: str = ""
    description: str = ""
    py_modules: list[str] = field(default_factory=list)
    workspace: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:  # unknown metas keys read from ``extra``
        extra = self.__dict__.get("extra", {})
        if item in extra:
            return extra[item]
        raise AttributeError(item)


@dataclass
class RuntimeArgs:
    """``self.runtime_args``: where this instance runs inside its Flow."""

    name: str = ""
    replica_id: int = 0
    shard_id: int = 0
    replicas: int = 1
    shards: int = 1
    workspace: str | None = None
    runtime: str = "thread"
    polling: Any = "ANY"
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        extra = self.__dict__.get("extra", {})
        if item in extra:
            return extra[item]
        raise AttributeError(item)


def _as_metas(cls: type, metas: Any) -> ExecutorMetas:
    if isinstance(metas, ExecutorMetas):
        return metas
    data = dict(metas or {})
    py = data.pop("py_modules", None) or []
    return ExecutorMetas(
        name=data.pop("name", None) or cls.__name__,
        description=data.pop("description", "") or "",
        py_modules=[py] if isinstance(py, str) else list(py),
        workspace=data.pop("workspace", None),
        extra=data,
    )


def _as_runtime_args(metas: ExecutorMetas, args: Any) -> RuntimeArgs:
    if isinstance(args, RuntimeArgs):
        if not args.name:
            args.name = metas.name
        return args
    data = dict(args or {})
    known = {k: data.pop(k) for k in list(data) if k in RuntimeArgs.__dataclass_fields__
             and k != "extra"}
    ra = RuntimeArgs(**known, extra=data)
    if not ra.name:
        ra.name = metas.name
    return ra


def executor_logger(name: str) -> logging.Logger:
    """``self.logger``: the standard logger ``shoal.executor.<name>`` (picklable by name)."""
    return logging.getLogger(f"{LOGGER_PREFIX}.{name}")


def _wrap_init(cls: type, init: Callable[..., None]) -> Callable[..., None]:
    sig = inspect.signature(init)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    named = {n for n in RESERVED_KWARGS if n in sig.parameters}

    @functools.wraps(init)
    def __init__(self: Executor, *args: Any, **kwargs: Any) -> None:
        reserved = {k: kwargs.pop(k) for k in RESERVED_KWARGS if k in kwargs}
        if not self.__dict__.get("_shoal_ready"):
            Executor._shoal_setup(self, **reserved)
        if var_kw:
            kwargs.update(reserved)
        else:
            kwargs.update({k: v for k, v in reserved.items() if k in named})
        init(self, *args, **kwargs)

    __init__.__shoal_wrapped__ = True  # type: ignore[attr-defined]
    return __init__


#: Set by shoal.flow (a higher layer) to run ``Executor.serve``: a Deployment + block().
_SERVE_HOOK: Callable[..., None] | None = None


class Executor:
    """Base class of every executor; ``Executor()`` itself forwards docs unchanged."""

    #: endpoint -> method name, collected from ``@requests`` marks along the MRO.
    _shoal_bindings: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bindings: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                fn = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
                for endpoint in getattr(fn, ENDPOINTS_ATTR, ()):
                    bindings[endpoint] = attr
        cls._shoal_bindings = bindings
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "__shoal_wrapped__", False):
            cls.__init__ = _wrap_init(cls, init)  # type: ignore[method-assign]
        with _REGISTRY_LOCK:
            _REGISTRY[cls.__name__] = cls
            _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls

    def __init__(self, metas: dict | None = None, requests: dict | None = None,
                 runtime_args: dict | None = None, workspace: str | None = None,
                 dynamic_batching: dict | None = None, **kwargs: Any) -> None:
        if not self.__dict__.get("_shoal_ready"):
            self._shoal_setup(metas=metas, requests=requests, runtime_args=runtime_args,
                              workspace=workspace)
        if kwargs:  # Jina accepts and ignores them; say so, a typo is the usual cause
            logging.getLogger("shoal.executors").warning(
                "%s ignores unknown arguments %s (uses_with keys that __init__ does not take)",
                type(self).__name__, sorted(kwargs))

    def _shoal_setup(self, metas: Any = None, requests: dict | None = None,
                     runtime_args: Any = None, workspace: str | None = None,
                     dynamic_batching: Any = None) -> None:
        cls = type(self)
        self.metas = _as_metas(cls, metas)
        if workspace:
            self.metas.workspace = workspace
        ra = dict(runtime_args or {}) if not isinstance(runtime_args, RuntimeArgs) else runtime_args
        metrics = ra.pop("metrics", None) if isinstance(ra, dict) else None
        self.runtime_args = _as_runtime_args(self.metas, ra)
        self.logger = executor_logger(self.runtime_args.name or self.metas.name)
        self._metrics = metrics
        self._closed = False
        self._shoal_lock = threading.Lock()
        # uses_requests rebinds a method (as Jina's _add_requests): the endpoints its
        # @requests gave it are dropped, so {'/index': 'foo'} limits foo to '/index'
        rebound = {a for a in (requests or {}).values() if isinstance(a, str)}
        table: dict[str, Callable[..., Any]] = {}
        for endpoint, attr in cls._shoal_bindings.items():
            if attr not in rebound:
                table[endpoint] = getattr(self, attr)
        for endpoint, attr in (requests or {}).items():
            if endpoint in ("default", "__default__"):
                endpoint = DEFAULT_ENDPOINT
            method = getattr(self, attr, None) if isinstance(attr, str) else None
            if not callable(method):
                raise ExecutorLoadError(
                    f"uses_requests maps {endpoint!r} to {attr!r}, which is not a method of "
                    f"{cls.__name__}")
            table[endpoint] = method
        self.requests: dict[str, Callable[..., Any]] = table
        self._shoal_ready = True

    # --- workspace ------------------------------------------------------------------
    @property
    def workspace(self) -> str:
        """This instance's folder, created on first access.

        ``<root>/<name>/<shard_id>`` (plus ``/<replica_id>`` when there are several
        replicas), where root is ``workspace=`` / ``metas.workspace`` /
        ``$SHOAL_WORKSPACE`` / ``~/.cache/shoal``. Outside a Flow: ``<root>/<name>``.
        """
        ra = self.runtime_args
        root = (ra.workspace or self.metas.workspace or os.environ.get("SHOAL_WORKSPACE")
                or os.path.join(os.path.expanduser("~"), ".cache", "shoal"))
        path = os.path.join(root, self.metas.name or type(self).__name__)
        if ra.shards > 1 or ra.replicas > 1 or ra.extra.get("in_flow"):
            path = os.path.join(path, str(ra.shard_id))
        if ra.replicas > 1:
            path = os.path.join(path, str(ra.replica_id))
        os.makedirs(path, exist_ok=True)
        return path

    # --- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Called once when the Flow / Deployment shuts down; override to persist state."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        """``with MyExec() as ex:`` closes it at the end (Jina's BaseExecutor)."""
        self._shoal_close()

    def _shoal_close(self) -> None:
        if not self.__dict__.get("_closed", True):
            self._closed = True
            self.close()

    @classmethod
    def serve(cls, uses_with: dict | None = None, uses_metas: dict | None = None,
              uses_requests: dict | None = None, stop_event: threading.Event | None = None,
              **kwargs: Any) -> None:
        """Serve this executor on its own until ``stop_event`` is set (or Ctrl-C):
        ``MyExec.serve(port=12345, protocol='grpc')`` is a Deployment with a gateway.
        Keywords are the Deployment's (``port``, ``protocol``, ``replicas``...)."""
        if _SERVE_HOOK is None:
            raise ExecutorLoadError("serving needs shoal.flow; import shoal first")
        _SERVE_HOOK(cls, uses_with=uses_with, uses_metas=uses_metas,
                    uses_requests=uses_requests, stop_event=stop_event, **kwargs)

    @classmethod
    def load_config(cls, source: str | dict, uses_with: dict | None = None,
                    uses_metas: dict | None = None, uses_requests: dict | None = None,
                    **kwargs: Any) -> Executor:
        """Build an Executor from a YAML file / dict (``jtype:``, ``with:``, ``metas:``).

        ``context={'X': ...}`` fills ``${{ CONTEXT.X }}``; ``${{ ENV.X }}`` reads the
        environment."""
        from shoal.executors.loader import load_executor  # noqa: PLC0415

        return load_executor(source, uses_with=uses_with, uses_metas=uses_metas,
                             uses_requests=uses_requests, **kwargs)

    def monitor(self, name: str, documentation: str = "") -> ContextManager[Any]:
        """Time a block into the Prometheus summary ``name`` when monitoring is on::

            with self.monitor('preprocessing_seconds', 'Time preprocessing the requests'):
                ...

        A no-op context when monitoring is off (the default)."""
        return timer(self.__dict__.get("_metrics"), name, documentation or name,
                     executor=self.runtime_args.name)

    @property
    def endpoints(self) -> list[str]:
        """The endpoints this instance binds (``'__default__'`` for the catch-all)."""
        return list(self.requests)

    def __repr__(self) -> str:
        name = getattr(getattr(self, "metas", None), "name", type(self).__name__)
        return f"<{type(self).__name__} name={name!r}>"


_REGISTRY["Executor"] = Executor
_REGISTRY["BaseExecutor"] = Executor
