"""``DeploymentConfig``: the validated arguments of one ``Flow.add(...)``."""
from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable

from shoal.errors import InvalidConfigError, ShoalError

__all__ = ["DeploymentConfig", "GATEWAY", "POLLINGS", "RUNTIMES_ALIASES", "normalize_polling",
           "ADD_KEYS", "JINA_NO_EFFECT", "JINA_NOT_IMPLEMENTED", "check_extra_keys",
           "RemoteAddress", "remote_address", "EXTERNAL_KEYS", "REMOTE_PROTOCOLS",
           "RUNTIME_OPTIONS", "check_ray_actor_options"]

#: The name of the virtual start node (``needs='gateway'``).
GATEWAY = "gateway"
POLLINGS = ("ANY", "ALL")
#: Spellings accepted for ``runtime=``.
RUNTIMES_ALIASES = {"thread": "thread", "inprocess": "thread", "in-process": "thread",
                    "local": "thread", "process": "process", "worker": "process", "ray": "ray"}
#: ``Flow.add`` options of one runtime (kept in ``extra``, so YAML round-trips them).
RUNTIME_OPTIONS = {"ray_actor_options": "ray"}


#: ``Flow.add`` keywords shoal implements.
ADD_KEYS = ("uses", "name", "uses_with", "uses_metas", "uses_requests", "workspace", "needs",
            "replicas", "shards", "polling", "when", "env", "timeout_ready", "runtime",
            "py_modules", "monitoring", *RUNTIME_OPTIONS)
#: Jina 3 ``Flow.add`` keywords accepted (kept in ``extra`` for YAML) that change nothing
#: here: logging, packaging, container and network details of a pod shoal runs itself.
#: ``port_monitoring`` is read by ``runtime='process'``; ``host`` / ``port`` locate an
#: ``external=True`` deployment (see :data:`EXTERNAL_KEYS`) and do nothing otherwise.
JINA_NO_EFFECT = frozenset({
    "port", "host", "port_monitoring", "quiet", "quiet_error", "log_config", "description",
    "title", "install_requirements", "force_update", "timeout_ctrl", "timeout_send",
    "retries", "upload_files", "output_array_type", "prefer_platform", "disable_auto_volume",
    "volumes", "docker_kwargs", "entrypoint", "exit_on_exceptions", "grpc_server_options",
    "grpc_channel_options", "compression", "extra_search_paths", "native"})
#: Jina 3 ``Flow.add`` keywords whose behaviour shoal does not implement: an error, since
#: ignoring them would change what the Flow computes or where it runs.
JINA_NOT_IMPLEMENTED = frozenset({
    "uses_before", "uses_after", "uses_before_address", "uses_after_address", "floating",
    "no_reduce", "disable_reduce", "tls", "gpus", "allow_concurrent",
    "stateful", "peer_ports", "raft_configuration", "reload", "grpc_metadata", "tracing",
    "traces_exporter_host", "traces_exporter_port", "metrics", "metrics_exporter_host",
    "metrics_exporter_port", "uses_dynamic_batching", "connection_list", "restart"})


_REDUCE_HINT = (" (for a custom reduce, join the shards' output with a downstream executor "
                "that reads docs_matrix, or use polling='ANY')")
_NOT_IMPLEMENTED_HINTS = {
    **dict.fromkeys(("uses_before", "uses_after", "uses_before_address",
                     "uses_after_address", "no_reduce", "disable_reduce"), _REDUCE_HINT),
    "floating": " (a deployment that needs the gateway and nothing needs it runs in the "
                "Flow's order; post to it with target_executor=)",
    "uses_dynamic_batching": " (send larger requests: request_size= on post)",
    "gpus": " (runtime='ray' with ray_actor_options={'num_gpus': ...} places GPUs)",
    "reload": " (restart the Flow to pick up code changes)",
}


#: ``Flow.add(external=True, ...)`` keywords: where the deployment is served.
EXTERNAL_KEYS = ("external", "host", "port", "protocol", "tls")
REMOTE_PROTOCOLS = ("grpc", "http", "websocket")
#: Options of an executor run here: meaningless for an external deployment.
_LOCAL_ONLY = ("uses_with", "uses_metas", "uses_requests", "workspace", "env", "py_modules",
               "monitoring")


@dataclass(frozen=True)
class RemoteAddress:
    """Where an external deployment is served: a shoal gateway at ``host:port``."""

    host: str
    port: int
    protocol: str = "grpc"
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{self.protocol}{'s' if self.tls else ''}://{self.host}:{self.port}"


def remote_address(name: str, options: dict[str, Any]) -> RemoteAddress:
    """Pop ``host`` / ``port`` / ``protocol`` / ``tls`` from ``options`` (Jina's defaults:
    this host, gRPC) and validate them."""
    host = options.pop("host", None) or "127.0.0.1"
    port = options.pop("port", None)
    protocol = str(options.pop("protocol", None) or "grpc").lower()
    tls = options.pop("tls", False)
    if isinstance(port, (list, tuple)) and len(port) == 1:
        port = port[0]
    try:
        port = int(port) if port is not None and not isinstance(port, bool) else None
    except (TypeError, ValueError):
        port = None
    if port is None or not 0 < port < 65536:
        raise InvalidConfigError(
            f"{name}: external=True needs the port its gateway serves on, e.g. "
            "add(external=True, host='10.0.0.5', port=12345)")
    if not isinstance(host, str) or "://" in host or "/" in host:
        raise InvalidConfigError(f"{name}: host={host!r} must be a host name or address; give "
                                 "the scheme as protocol= ('grpc', 'http', 'websocket')")
    if protocol not in REMOTE_PROTOCOLS:
        raise InvalidConfigError(
            f"{name}: protocol={protocol!r}; an external deployment speaks one of "
            f"{list(REMOTE_PROTOCOLS)}")
    return RemoteAddress(host=host, port=port, protocol=protocol, tls=bool(tls))


def check_extra_keys(name: str, keys: Iterable[str]) -> None:
    """Raise InvalidConfigError for a ``Flow.add`` keyword that is neither implemented
    nor a Jina option without effect here (with the close spelling, if there is one)."""
    for key in keys:
        if key in JINA_NO_EFFECT or key in RUNTIME_OPTIONS:
            continue
        if key in JINA_NOT_IMPLEMENTED:
            hint = _NOT_IMPLEMENTED_HINTS.get(key, "")
            raise InvalidConfigError(
                f"{name}: {key}= is a Jina option shoal does not implement; remove it{hint}")
        if key == "ray_address":
            raise InvalidConfigError(
                f"{name}: ray_address= is not a deployment option (a process has one Ray "
                "connection): call ray.init(address=...) or set RAY_ADDRESS before the Flow "
                "starts")
        close = difflib.get_close_matches(key, [*ADD_KEYS, *JINA_NO_EFFECT], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidConfigError(f"{name}: unknown Flow.add keyword {key!r}{hint} "
                                 f"(shoal takes {', '.join(ADD_KEYS)})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def check_ray_actor_options(name: str, options: Any) -> None:
    """Check the types of ``ray_actor_options`` (Ray itself refuses unknown names when the
    deployment starts)."""
    def bad(what: str) -> InvalidConfigError:
        return InvalidConfigError(f"{name}: ray_actor_options {what}")

    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise bad(f"must be a dict of Ray actor options such as {{'num_cpus': 1}}, not "
                  f"{options!r}")
    for key in ("name", "get_if_exists"):
        if key in options:
            raise bad(f"{key}= is not supported: shoal creates one anonymous actor per replica")
    for key in ("num_cpus", "num_gpus", "memory"):
        if key in options and not _is_number(options[key]):
            raise bad(f"{key}={options[key]!r} must be a number >= 0")
    resources = options.get("resources")
    if resources is not None and not (isinstance(resources, dict) and all(
            isinstance(k, str) and _is_number(v) for k, v in resources.items())):
        raise bad(f"resources={resources!r} must map resource names to amounts >= 0")
    for key, low in (("max_restarts", -1), ("max_task_retries", -1), ("max_concurrency", 1)):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < low):
            raise bad(f"{key}={value!r} must be an int >= {low}")
    if options.get("runtime_env") is not None and not isinstance(options["runtime_env"], dict):
        raise bad(f"runtime_env={options['runtime_env']!r} must be a dict")


def normalize_polling(polling: Any) -> str | dict[str, str]:
    """``'any'`` -> ``'ANY'``; a dict of endpoint -> polling is normalized per key."""
    if polling is None:
        return "ANY"
    if isinstance(polling, dict):
        return {str(k): str(normalize_polling(v)) for k, v in polling.items()}
    if isinstance(polling, str) and polling.upper() in POLLINGS:
        return polling.upper()
    if hasattr(polling, "name") and str(polling.name).upper() in POLLINGS:  # an enum
        return str(polling.name).upper()
    raise InvalidConfigError(f"polling={polling!r}: use 'ANY', 'ALL' or a dict endpoint -> "
                             "'ANY'/'ALL'")


def ready_seconds(name: str, timeout_ready: Any) -> float | None:
    """Jina's ``timeout_ready`` in milliseconds -> seconds (``-1``: ``math.inf``, wait
    forever; None: the runtime's default)."""
    if timeout_ready is None:
        return None
    if (isinstance(timeout_ready, bool) or not isinstance(timeout_ready, numbers.Real)
            or not (timeout_ready == -1 or 0 < timeout_ready < math.inf)):
        raise InvalidConfigError(
            f"{name}: timeout_ready={timeout_ready!r} must be milliseconds > 0, or -1 to "
            "wait forever")
    return math.inf if timeout_ready == -1 else float(timeout_ready) / 1000.0


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything ``Flow.add`` accepts, validated on construction."""

    name: str
    uses: Any = None
    uses_with: dict[str, Any] = field(default_factory=dict)
    uses_metas: dict[str, Any] = field(default_factory=dict)
    uses_requests: dict[str, str] = field(default_factory=dict)
    workspace: str | None = None
    needs: tuple[str, ...] = (GATEWAY,)
    replicas: int = 1
    shards: int = 1
    polling: str | dict[str, str] = "ANY"
    when: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: seconds; None: the runtime's default; ``math.inf`` (Jina's -1): wait forever
    timeout_ready: float | None = None
    runtime: str = "thread"
    py_modules: tuple[str, ...] = ()
    monitoring: bool | None = None
    base_dir: str | None = None  # where relative YAML / py_modules paths resolve
    extra: dict[str, Any] = field(default_factory=dict)  # JINA_NO_EFFECT keys, kept for YAML
    #: ``${{ CONTEXT.X }}`` values for an executor YAML it uses (Flow.load_config(context=))
    context: dict[str, Any] = field(default_factory=dict)
    remote: RemoteAddress | None = None  # set for external=True (runtime 'external')

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InvalidConfigError(f"a deployment name must be a non-empty str, not {self.name!r}")
        if self.name == GATEWAY:
            raise InvalidConfigError(f"{GATEWAY!r} is reserved; choose another name")
        for attr in ("replicas", "shards"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidConfigError(f"{self.name}: {attr}={value!r} must be an int >= 1")
        if self.remote is not None:
            self._check_external()
        elif self.runtime not in RUNTIMES_ALIASES.values():
            raise InvalidConfigError(
                f"{self.name}: runtime={self.runtime!r}; use 'thread' (in-process), 'process' "
                "or 'ray'")
        for key, runtime in RUNTIME_OPTIONS.items():
            if key in self.extra and self.runtime != runtime:
                raise InvalidConfigError(f"{self.name}: {key}= applies to runtime={runtime!r}, "
                                         f"not runtime={self.runtime!r}; remove it or set "
                                         f"runtime={runtime!r}")
        if "ray_actor_options" in self.extra:
            check_ray_actor_options(self.name, self.extra["ray_actor_options"])
        if self.when is not None and not isinstance(self.when, dict):
            raise InvalidConfigError(f"{self.name}: when= must be a filter dict, not {self.when!r}")
        if self.when:
            from shoal.document.filters import parse_filter  # noqa: PLC0415

            try:
                parse_filter(self.when)  # checked now, not at the first request
            except ShoalError as exc:
                raise InvalidConfigError(f"{self.name}: when={self.when!r}: {exc}") from exc

    def _check_external(self) -> None:
        where = f"{self.name} (external, served at {self.remote.url})"
        if self.runtime != "external":
            raise InvalidConfigError(f"{where}: runtime={self.runtime!r} has no effect on a "
                                     "deployment served elsewhere; remove it")
        for attr in ("replicas", "shards"):
            if getattr(self, attr) != 1:
                raise InvalidConfigError(
                    f"{where}: {attr}={getattr(self, attr)} has no effect here; scale the "
                    "deployment where it is served (e.g. `shoal executor --replicas N`)")
        given = [k for k in _LOCAL_ONLY if getattr(self, k)]
        if given:
            raise InvalidConfigError(
                f"{where}: {', '.join(given)} configure an executor run here; set them "
                "where the external executor is served")

    @property
    def external(self) -> bool:
        """True for a deployment served elsewhere (``external=True``)."""
        return self.remote is not None

    def polling_for(self, endpoint: str) -> str:
        """'ANY' or 'ALL' for ``endpoint`` (a dict may use ``'*'`` as the default)."""
        if isinstance(self.polling, str):
            return self.polling
        return self.polling.get(endpoint) or self.polling.get("*") or "ANY"

    def ready_timeout(self, default: float | None) -> float | None:
        """Seconds to wait for the deployment to be ready: ``default`` when
        ``timeout_ready`` is not given, None (no limit) for Jina's ``-1``."""
        if self.timeout_ready is None:
            return default
        return None if math.isinf(self.timeout_ready) else self.timeout_ready
