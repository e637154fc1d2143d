"""``Flow``: executors chained into a graph, started with ``with f:``, fed by ``post``.

The Flow starts in-process: executors are built in this process, an asyncio loop runs
in a background thread for async handlers and gateways, and no socket is opened unless
``protocol=`` / ``port=`` asks for a gateway. ``runtime='process'`` on a deployment puts
its replicas in worker processes. See :class:`~shoal.flow.router.RequestRouter` for how
requests travel, and :mod:`shoal.flow.gateways` for how a gateway attaches.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from shoal.errors import DeploymentNotReadyError, FlowError, InvalidConfigError, TopologyError
from shoal.executors.loader import resolve
from shoal.flow import external as _external  # noqa: F401 - registers runtime='external'
from shoal.flow import inprocess as _inprocess  # noqa: F401 - registers runtime='thread'
from shoal.flow.config import (GATEWAY, RUNTIMES_ALIASES, DeploymentConfig, check_extra_keys,
                               normalize_polling, ready_seconds, remote_address)
from shoal.flow.gateways import GatewayArgs, check_gateway_keywords, get_gateway
from shoal.document.posting import CrudShortcuts, check_post_keywords, flatten_responses
from shoal.flow.posting import iter_requests, run_callbacks
from shoal.flow.replicas import ReplicaSet
from shoal.flow.router import RequestRouter
from shoal.flow.runtimes import WorkerSpec, get_runtime
from shoal.flow.topology import Topology, build_topology
from shoal.utils.progress import progress

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray
    from shoal.document.request import DataRequest
    from shoal.executors.monitor import Metrics

__all__ = ["Flow", "free_port"]

_END = object()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


_log = logging.getLogger("shoal.flow")
#: What ``Flow.post`` takes (besides Jina's no-effect keywords).
_POST_KEYS = ("on", "inputs", "parameters", "request_size", "on_done", "on_error", "on_always",
              "return_responses", "target_executor", "prefetch", "timeout",
              "continue_on_error", "show_progress", "max_attempts", "results_in_order",
              "stream")

def _as_needs(needs: Any) -> tuple[str, ...]:
    if isinstance(needs, str):
        return (needs,)
    return tuple(needs)


class Flow(CrudShortcuts):
    """A graph of executors. ``Flow(**gateway_kwargs).add(...).add(...)``; ``with f:``.

    Gateway keywords (``protocol``, ``port``, ``host``, ``cors``, ``no_debug_endpoints``,
    ``no_crud_endpoints``, ``uvicorn_kwargs``, ``ssl_certfile``, ``ssl_keyfile``,
    ``monitoring``, ``port_monitoring``, ``prefetch`` ...) are kept in
    ``self._gateway_args`` for the gateway; ``monitoring=True`` also times every
    executor method into a per-Flow Prometheus registry (``f.metrics``).
    """

    def __init__(self, *, name: str | None = None, **gateway_kwargs: Any) -> None:
        check_gateway_keywords(type(self).__name__, gateway_kwargs, self._extra_keywords())
        self.name = name or "flow"
        self._gateway_args: dict[str, Any] = dict(gateway_kwargs)
        self._exposed_endpoints: dict[str, dict[str, Any]] = {}
        self._configs: list[DeploymentConfig] = []
        self._port: int | None = None
        self._base_dir: str | None = None
        self._context: dict[str, Any] = {}  # Flow.load_config(context=): for executor YAMLs
        self._reset_runtime()

    @staticmethod
    def _extra_keywords() -> Iterable[str]:
        """Keywords a subclass reads besides the gateway's (spelling checks)."""
        return ()

    def _reset_runtime(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.router: RequestRouter | None = None
        self._replica_sets: dict[str, ReplicaSet] = {}
        self._gateways: list[Any] = []
        self._gateway_lock = threading.Lock()
        self._metrics_server: Any = None
        self._served: list[str] = []  # the addresses of the gateways opened
        self.metrics: Metrics | None = None
        self._started = False

    # --- building ----------------------------------------------------------------------
    def add(self, uses: Any = None, *, name: str | None = None, uses_with: dict | None = None,
            uses_metas: dict | None = None, uses_requests: dict | None = None,
            workspace: str | None = None, needs: str | Sequence[str] | None = None,
            replicas: int = 1, shards: int = 1, polling: Any = "ANY",
            when: dict | None = None, env: dict | None = None,
            timeout_ready: int | float | None = None, runtime: str = "thread",
            py_modules: Sequence[str] | str | None = None, monitoring: bool | None = None,
            copy_flow: bool = True, **kwargs: Any) -> Flow:
        """Add a deployment; returns the new Flow (a copy, as Jina's ``copy_flow=True``).

        ``needs`` defaults to the previous deployment (``'gateway'`` for the first);
        ``timeout_ready`` is in milliseconds (Jina's unit; ``-1`` waits forever).
        Unknown ``needs``, duplicate names, a ``uses`` that cannot be found and an unknown
        keyword (or a Jina one shoal does not implement, such as ``uses_after``) raise here.
        """
        flow = self._copy() if copy_flow else self
        flow._append(flow._make_config(
            uses=uses, name=name, uses_with=uses_with, uses_metas=uses_metas,
            uses_requests=uses_requests, workspace=workspace, needs=needs, replicas=replicas,
            shards=shards, polling=polling, when=when, env=env, timeout_ready=timeout_ready,
            runtime=runtime, py_modules=py_modules, monitoring=monitoring, **kwargs))
        return flow

    def needs(self, needs: str | Sequence[str], uses: Any = None, name: str = "joiner",
              **kwargs: Any) -> Flow:
        """Add a deployment joining ``needs`` (Jina's ``Flow.needs``; several names).

        Without ``uses`` it only merges its inputs by document id and passes them on.
        """
        wanted = _as_needs(needs)
        if len(wanted) < 2:
            raise TopologyError(f"Flow.needs({needs!r}): a join needs two or more deployments; "
                                "for one, use add(needs=...)")
        return self.add(uses=uses, name=name, needs=list(wanted), **kwargs)

    def needs_all(self, name: str = "joiner", uses: Any = None, **kwargs: Any) -> Flow:
        """Add a deployment that joins every current leaf (Jina's ``needs_all``)."""
        leaves = build_topology(self._configs).leaves if self._configs else (GATEWAY,)
        return self.add(uses=uses, name=name, needs=list(leaves), **kwargs)

    def _copy(self) -> Flow:
        if self._started:
            raise FlowError("cannot add deployments to a started Flow")
        new = copy.copy(self)
        new._gateway_args = dict(self._gateway_args)
        new._exposed_endpoints = dict(self._exposed_endpoints)
        new._configs = list(self._configs)
        new._reset_runtime()
        return new

    def _make_config(self, *, uses: Any = None, name: str | None = None,
                     needs: Any = None, polling: Any = "ANY", runtime: str = "thread",
                     timeout_ready: Any = None, py_modules: Any = None, env: Any = None,
                     uses_with: Any = None, uses_metas: Any = None, uses_requests: Any = None,
                     base_dir: str | None = None, **kwargs: Any) -> DeploymentConfig:
        if name is None:
            name = f"executor{len(self._configs)}"
        if needs is None:
            needs = (self._configs[-1].name,) if self._configs else (GATEWAY,)
        remote = remote_address(name, kwargs) if kwargs.pop("external", False) else None
        if remote is None and ("protocol" in kwargs or "tls" in kwargs):
            raise InvalidConfigError(f"{name}: protocol= and tls= apply to a deployment served "
                                     "elsewhere; add external=True, host= and port=")
        rt = RUNTIMES_ALIASES.get(str(runtime).lower())
        if rt is None:
            raise InvalidConfigError(
                f"{name}: runtime={runtime!r}; use 'thread' (in-process), 'process' or 'ray'")
        if remote is not None:
            rt = "external" if rt == "thread" else rt  # another runtime: refused by the config
        ready_s = ready_seconds(name, timeout_ready)
        mods = (py_modules,) if isinstance(py_modules, str) else tuple(py_modules or ())
        known = {k: kwargs.pop(k) for k in ("workspace", "replicas", "shards", "when",
                                            "monitoring") if k in kwargs}
        known.setdefault("replicas", 1)
        known.setdefault("shards", 1)
        if remote is None and known.get("workspace") is None and self._gateway_args.get(
                "workspace"):
            known["workspace"] = self._gateway_args["workspace"]  # Flow(workspace=): Jina's
        check_extra_keys(name, kwargs)
        try:
            cfg = DeploymentConfig(
                name=name, uses=uses, uses_with=dict(uses_with or {}),
                uses_metas=dict(uses_metas or {}), uses_requests=dict(uses_requests or {}),
                needs=_as_needs(needs) or (GATEWAY,), polling=normalize_polling(polling),
                env={str(k): str(v) for k, v in (env or {}).items()}, timeout_ready=ready_s,
                runtime=rt, py_modules=mods, base_dir=base_dir or self._base_dir,
                extra=kwargs, remote=remote, context=dict(self._context), **known)
        except TypeError as exc:
            raise InvalidConfigError(f"{name}: {exc}") from exc
        if remote is not None:  # served elsewhere: `uses` (if any) is not imported here
            return cfg
        # fail now, not at start: uses must resolve (imports py_modules / reads YAML)
        meta_mods = cfg.uses_metas.get("py_modules") or []
        resolve(cfg.uses, base_dir=cfg.base_dir,
                py_modules=list(mods) + ([meta_mods] if isinstance(meta_mods, str)
                                         else list(meta_mods)), context=cfg.context)
        return cfg

    def _append(self, cfg: DeploymentConfig) -> None:
        names = {c.name for c in self._configs}
        if cfg.name in names:
            raise TopologyError(f"two deployments are called {cfg.name!r}; names must be unique")
        unknown = [n for n in cfg.needs if n != GATEWAY and n not in names]
        if unknown:
            raise TopologyError(f"{cfg.name!r} needs {unknown}, which is not in this Flow "
                                f"(known: {[GATEWAY, *names]})")
        self._configs.append(cfg)

    def expose_endpoint(self, exec_endpoint: str, **kwargs: Any) -> None:
        """Expose a custom endpoint on the HTTP gateway (``summary=``, ``description=``...)."""
        self._exposed_endpoints[exec_endpoint] = dict(kwargs)

    # --- properties --------------------------------------------------------------------
    @property
    def deployments(self) -> dict[str, DeploymentConfig]:
        """name -> config of every deployment, in the order added."""
        return {c.name: c for c in self._configs}

    @property
    def num_deployments(self) -> int:
        return len(self._configs)

    @property
    def topology(self) -> Topology:
        return build_topology(self._configs)

    @property
    def protocol(self) -> str | list[str]:
        return self._gateway_args.get("protocol") or "grpc"

    @property
    def host(self) -> str:
        return self._gateway_args.get("host") or "0.0.0.0"

    @property
    def port(self) -> int:
        """The gateway port (``port=`` or a free port picked on first access).

        Asking a started Flow without a gateway for its port opens a gRPC gateway on it,
        so Jina's ``with Flow() as f: Client(port=f.port)`` works; a Flow whose port
        nobody asks for stays socket-free.
        """
        port = self._port_value()
        if self._started and not self._gateways and not self._gateway_requested():
            with self._gateway_lock:
                if not self._gateways:
                    self._start_gateways(force=True)
        return port

    def _port_value(self) -> int:
        given = self._gateway_args.get("port")
        if given is not None:
            return int(given[0] if isinstance(given, (list, tuple)) else given)
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def addresses(self) -> list[str]:
        """``protocol://host:port`` of each gateway the started Flow serves (before it
        opens one: where the first would be)."""
        if self._served:
            return list(self._served)
        first = self.protocol[0] if isinstance(self.protocol, (list, tuple)) else self.protocol
        return [f"{str(first).lower()}://{self.host}:{self._port_value()}"]

    @property
    def gateway_args(self) -> dict[str, Any]:
        """A copy of the gateway keywords given to ``Flow(...)``."""
        return dict(self._gateway_args)

    @property
    def is_started(self) -> bool:
        return self._started

    # --- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Flow:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> Flow:
        """Build and start every deployment, then the gateways (if asked for)."""
        if self._started:
            return self
        topology = build_topology(self._configs)
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever,
                                             name=f"shoal-{self.name}-loop", daemon=True)
        self._loop_thread.start()
        self._pool = ThreadPoolExecutor(thread_name_prefix=f"shoal-{self.name}")
        try:
            if self._monitoring_on():
                from shoal.executors.monitor import Metrics  # noqa: PLC0415

                self.metrics = Metrics()
            self._start_deployments(topology)
            self.router = RequestRouter(topology, self._replica_sets, self.loop,
                                        self._loop_thread)
            self.router.is_ready = True
            self._started = True
            self._start_gateways()
        except BaseException:
            self._started = True
            self.close()
            raise
        return self

    def _monitoring_on(self) -> bool:
        return bool(self._gateway_args.get("monitoring")) or any(
            c.monitoring for c in self._configs)

    def _start_deployments(self, topology: Topology) -> None:
        pending: list[tuple[DeploymentConfig, Any]] = []
        for name in topology.order:
            cfg = topology.configs[name]
            factory = get_runtime(cfg.runtime)
            metrics = self.metrics if (cfg.monitoring or (cfg.monitoring is None and
                                       self._gateway_args.get("monitoring"))) else None
            if cfg.runtime == "thread" and cfg.env:
                os.environ.update(cfg.env)
            shards = []
            for shard_id in range(cfg.shards):
                reps = []
                for replica_id in range(cfg.replicas):
                    spec = WorkerSpec(cfg, shard_id, replica_id, metrics,
                                      {"pool": self._pool, "loop": self.loop})
                    reps.append(factory(spec))
                shards.append(reps)
            self._replica_sets[name] = ReplicaSet(cfg, shards)
            for worker in (w for reps in shards for w in reps):
                pending.append((cfg, worker))
        # in-process workers start here; the others start concurrently on the loop
        remote = []
        for cfg, worker in pending:
            if hasattr(worker, "start_sync") and cfg.ready_timeout(None) is None:
                worker.start_sync()
            else:
                remote.append((cfg, worker))
        if remote:
            fut = asyncio.run_coroutine_threadsafe(self._start_remote(remote), self.loop)
            fut.result()

    async def _start_remote(self, items: list[tuple[DeploymentConfig, Any]]) -> None:
        async def one(cfg: DeploymentConfig, worker: Any) -> None:
            try:
                await asyncio.wait_for(worker.start(), cfg.ready_timeout(None))
            except asyncio.TimeoutError:
                raise DeploymentNotReadyError(
                    f"deployment {cfg.name!r} ({worker.label}) was not ready within "
                    f"timeout_ready={cfg.timeout_ready * 1000:.0f} ms") from None

        results = await asyncio.gather(*(one(c, w) for c, w in items), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def _gateway_requested(self) -> bool:
        return "protocol" in self._gateway_args or "port" in self._gateway_args

    def _start_gateways(self, force: bool = False) -> None:
        mon_port = self._gateway_args.get("port_monitoring")
        if not force and self.metrics is not None and mon_port:
            self._metrics_server = self.metrics.serve(int(mon_port))
        if not (force or self._gateway_requested()):
            return
        protocols = self.protocol if isinstance(self.protocol, (list, tuple)) else [self.protocol]
        given = self._gateway_args.get("port")
        ports = list(given) if isinstance(given, (list, tuple)) else [self._port_value()]
        while len(ports) < len(protocols):
            ports.append(free_port())
        options = {k: v for k, v in self._gateway_args.items()
                   if k not in ("protocol", "port", "host")}
        options["expose_endpoints"] = dict(self._exposed_endpoints)
        for proto, port in zip(protocols, ports, strict=False):
            starter = get_gateway(str(proto))
            if starter is None:
                import logging  # noqa: PLC0415

                logging.getLogger("shoal.flow").warning(
                    "no %r gateway is registered (import shoal to register the built-in "
                    "ones); the Flow serves post() only", proto)
                continue
            args = GatewayArgs(protocol=str(proto).lower(), port=int(port), host=self.host,
                               options=options)
            handle = asyncio.run_coroutine_threadsafe(starter(self, args), self.loop).result()
            self._gateways.append(handle)
            bound = getattr(handle, "port", None) or port  # port=0: the one the OS picked
            self._served.append(f"{str(proto).lower()}://{self.host}:{bound}")

    def close(self) -> None:
        """Stop gateways, close every executor (``close()`` once each), stop the loop."""
        if not self._started:
            return
        if threading.current_thread() is self._loop_thread:
            raise FlowError("Flow.close() cannot run on the Flow's own loop; call it from "
                            "another thread (e.g. loop.run_in_executor(None, flow.close))")
        loop = self.loop
        try:
            if loop is not None and loop.is_running():
                async def shutdown() -> None:
                    for gw in reversed(self._gateways):
                        try:
                            await gw.stop()
                        except Exception:  # noqa: BLE001
                            pass
                    await asyncio.gather(*(rs.close() for rs in self._replica_sets.values()),
                                         return_exceptions=True)

                asyncio.run_coroutine_threadsafe(shutdown(), loop).result()
            if self._metrics_server is not None:
                server = self._metrics_server[0] if isinstance(self._metrics_server, tuple) \
                    else self._metrics_server
                try:
                    server.shutdown()
                    server.server_close()
                except Exception:  # noqa: BLE001
                    pass
        finally:
            if loop is not None:
                loop.call_soon_threadsafe(loop.stop)
                if self._loop_thread is not None:
                    self._loop_thread.join(timeout=10)
                if not loop.is_running():
                    loop.close()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._reset_runtime()

    def block(self, stop_event: threading.Event | None = None, *, announce: bool = True) -> None:
        """Serve until ``stop_event`` is set, Ctrl-C or SIGTERM (then ``with`` closes the
        Flow, so every executor's ``close()`` runs). Signal handlers are installed only
        from the main thread, and the previous SIGTERM handler is put back on return.

        A started Flow without ``protocol=`` / ``port=`` opens its gRPC gateway here (as
        Jina's does), and ``announce`` prints one line saying where it serves."""
        if self._started:
            self.port  # noqa: B018 - opens the gateway when none was asked for
            if announce:
                print(f"serving {type(self).__name__} {self.name} at {', '.join(self.addresses)} "
                      "(Ctrl-C or SIGTERM to stop)", flush=True)
        event = stop_event or threading.Event()
        restore = _on_sigterm(event.set)
        try:
            while not event.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            restore()

    # --- requests ----------------------------------------------------------------------
    def post(self, on: str = "/", inputs: Any = None, *, parameters: dict | None = None,
             request_size: int = 100, on_done: Any = None, on_error: Any = None,
             on_always: Any = None, return_responses: bool = False,
             target_executor: str | None = None, prefetch: int | None = None,
             timeout: float | None = None, continue_on_error: bool = False,
             show_progress: bool = False, max_attempts: int = 1,
             results_in_order: bool = True, stream: bool = True,
             **kwargs: Any) -> DocumentArray | list | None:
        """Send ``inputs`` to endpoint ``on`` in requests of ``request_size`` documents.

        Returns every response's docs as one DocumentArray (``return_responses=True``:
        the responses; ``None`` when a callback is given). An executor error goes to
        ``on_error``, is logged and its request's Documents left out with
        ``continue_on_error=True``, or is raised as :class:`~shoal.errors.ExecutorError`.
        In-process the responses always come in order and nothing is lost in transit, so
        ``results_in_order``, ``stream`` and ``max_attempts`` change nothing; other
        keywords are refused (a typo would be ignored).
        """
        check_post_keywords(f"{type(self).__name__}.post", kwargs, _POST_KEYS)
        router = self._require_started()
        requests = iter_requests(on, inputs, parameters, request_size, target_executor)
        if timeout:
            requests = _with_timeout(requests, timeout)
        callbacks = on_done is not None or on_error is not None or on_always is not None
        responses: list[DataRequest] = []
        with progress(desc=f"post {on or '/'}", unit="doc", enabled=show_progress) as bar:
            for resp in self._stream(router, on or "/", requests, prefetch):
                bar.update(len(resp.docs))
                error = run_callbacks(resp, on_done, on_error, on_always)
                if error is not None:
                    if not continue_on_error:
                        raise error
                    _log.error("request %s failed: %s", resp.header.request_id, error)
                    continue
                if not callbacks and not resp.is_error:
                    responses.append(resp)
        if callbacks:
            return None
        if return_responses:
            return responses
        return flatten_responses(responses)

    def _require_started(self) -> RequestRouter:
        if not self._started or self.router is None:
            raise FlowError("the Flow is not started; use `with flow:` (or flow.start())")
        return self.router

    def _stream(self, router: RequestRouter, endpoint: str, requests: Iterator[DataRequest],
                prefetch: int | None) -> Iterator[DataRequest]:
        """Responses in request order: inline when possible, else pipelined on the loop."""
        if router._can_inline(endpoint):  # noqa: SLF001
            for req in requests:
                yield router.process_sync(req)
            return
        import queue  # noqa: PLC0415

        out: queue.Queue = queue.Queue()
        stop = threading.Event()
        limit = prefetch or int(self._gateway_args.get("prefetch") or 0) or 64
        fut = asyncio.run_coroutine_threadsafe(_pump(router, requests, out, limit, stop),
                                               self.loop)
        finished = False
        try:
            while True:
                item = out.get()
                if item is _END:
                    finished = True
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            if not finished:  # an error, a callback raised, or Ctrl-C: drop what is in flight
                fut.cancel()

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self._configs)
        return f"<{type(self).__name__} [{names}] {'started' if self._started else 'stopped'}>"

    # --- config / plot -------------------------------------------------------------
    @classmethod
    def load_config(cls, source: Any, **kwargs: Any) -> Flow:
        """A Flow from Jina-style YAML (a path, a YAML string or a dict)."""
        from shoal.flow.yaml_io import load_flow  # noqa: PLC0415

        return load_flow(cls, source, **kwargs)

    def save_config(self, path: str | None = None) -> str:
        """Write the Flow as Jina-style YAML to ``path``; returns the YAML text."""
        from shoal.flow.yaml_io import dump_flow  # noqa: PLC0415

        return dump_flow(self, path)

    def to_kubernetes_yaml(self, output_base_path: str, k8s_namespace: str | None = None,
                           include_gateway: bool = True, *, image: str = "shoal:latest",
                           ) -> list[str]:
        """Write Kubernetes manifests for this Flow, as Jina lays them out: for each
        executor ``output_base_path/<name>/<name>.yml`` (a Service and a Deployment of
        ``replicas`` pods running ``shoal executor``), ``gateway/gateway.yml`` (a ConfigMap
        with the gateway's ``flow.yml``, which lists the executors as ``external`` at
        ``<name>.<namespace>.svc:8080``, a Service and a Deployment running ``shoal
        flow``) and a ``Dockerfile``. Returns the paths written.

        Every pod runs ``image``; build it from your project folder with that Dockerfile
        and push it where the cluster pulls from (not done here). ``k8s_namespace``
        defaults to the Flow's ``name=`` or ``'default'``. Executors must be importable in
        the image: a class from ``__main__``, ``shards > 1``, ``uses_metas`` /
        ``uses_requests`` are refused with an :class:`~shoal.errors.InvalidConfigError`.
        Apply with ``kubectl apply -R -f output_base_path``.
        """
        from shoal.flow.kubernetes import write_kubernetes  # noqa: PLC0415

        return write_kubernetes(self, output_base_path, k8s_namespace, image, include_gateway)

    to_k8s_yaml = to_kubernetes_yaml

    def to_docker_compose_yaml(self, output_path: str | None = None,
                               network_name: str | None = None, include_gateway: bool = True,
                               *, image: str = "shoal:latest") -> list[str]:
        """Write a Docker Compose file for this Flow (default ``docker-compose.yml``): one
        service per executor (``shoal executor``, ``deploy.replicas``, a healthcheck) and a
        ``gateway`` service (``shoal flow`` on ``<stem>.gateway-flow.yml``, written next to
        it) publishing the gateway port(s), plus a ``Dockerfile`` for ``image`` (build it
        yourself). The same restrictions as :meth:`to_kubernetes_yaml` apply. Returns the
        paths written; run with ``docker compose -f output_path up``.
        """
        from shoal.flow.compose import write_docker_compose  # noqa: PLC0415

        return write_docker_compose(self, output_path, network_name, image, include_gateway)

    def plot(self, output: str | None = None, vertical_layout: bool = False,
             **kwargs: Any) -> str:
        """Draw the topology; returns the SVG, written to ``output`` when given: as SVG for
        ``.svg`` (or no suffix), as an image for ``.png`` / ``.jpg`` / ``.pdf``
        (matplotlib)."""
        from shoal.flow.plot import write_plot  # noqa: PLC0415

        return write_plot(self.topology, output, vertical=vertical_layout)


def _on_sigterm(callback: Any) -> Any:
    """Call ``callback()`` on SIGTERM (main thread only); returns the undo function."""
    import signal  # noqa: PLC0415

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: callback())

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return restore


def _with_timeout(requests: Iterator[DataRequest], timeout: float) -> Iterator[DataRequest]:
    for req in requests:
        req.header.timeout_ms = int(timeout * 1000)
        yield req


async def _pump(router: RequestRouter, requests: Iterator[DataRequest], out: Any,
                limit: int, stop: threading.Event) -> None:
    """Feed ``requests`` to the router with at most ``limit`` in flight; emit in order."""
    from collections import deque  # noqa: PLC0415

    pending: deque = deque()
    sem = asyncio.Semaphore(limit)
    try:
        for req in requests:
            if stop.is_set():
                break
            await sem.acquire()
            task = asyncio.ensure_future(router.process(req))
            task.add_done_callback(lambda _t: sem.release())
            pending.append(task)
            while pending and pending[0].done():
                out.put(pending.popleft().result())
        while pending:
            out.put(await pending.popleft())
    except BaseException as exc:  # noqa: BLE001 - handed to the caller thread
        for task in pending:
            task.cancel()
        out.put(exc)
    finally:
        out.put(_END)


