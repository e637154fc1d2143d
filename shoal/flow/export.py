"""What a Flow becomes when exported: one served executor per deployment, and a gateway.

:func:`plan_export` turns a Flow into an :class:`ExportPlan` that the Kubernetes
(:mod:`shoal.flow.kubernetes`) and Docker Compose (:mod:`shoal.flow.compose`) writers
render. Each executor runs as ``shoal executor --uses <YAML | module.Class> --port 8080
--protocol grpc --name <name> [--uses-with JSON] [--py-modules FILE ...]`` in the image;
the gateway runs ``shoal flow --uses flow.yml`` where ``flow.yml`` lists every executor as
``external: true`` at ``host_of(name)``:8080 (with its ``needs`` and ``when``), and the
Flow's own gateway protocol / port. A deployment without ``uses`` (a bare join) stays in
the gateway's flow; one already ``external`` is kept as it is. Paths (executor YAML, ``py_modules``) are made
relative to the project folder, which the generated Dockerfile copies to ``/app``.
"""
from __future__ import annotations

import inspect
import json
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from shoal.errors import InvalidConfigError
from shoal.flow.yaml_io import remote_entry

if TYPE_CHECKING:
    from shoal.flow.config import DeploymentConfig
    from shoal.flow.flow import Flow

__all__ = ["ExportPlan", "ExecutorService", "plan_export", "executor_args", "dns_name",
           "dockerfile", "write_dockerfile", "EXECUTOR_PORT", "GATEWAY_PORT", "METRICS_PORT", "APP_DIR",
           "DEFAULT_IMAGE", "metrics_port"]

#: The port every exported executor serves gRPC on (Jina's ``K8S_PORT``).
EXECUTOR_PORT = 8080
#: The gateway's port when the Flow gives none.
GATEWAY_PORT = 8080
#: Where an exported executor with monitoring=True serves /metrics when it gives no port.
METRICS_PORT = 9090
#: Where the Dockerfile puts the project in the image (the containers' working folder).
APP_DIR = "/app"
DEFAULT_IMAGE = "shoal:latest"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Executor options the ``shoal executor`` command cannot carry.
_NOT_EXPORTABLE = {"uses_metas": "metas:", "uses_requests": "requests:",
                   "workspace": "metas: {workspace: ...}"}


@dataclass(frozen=True)
class ExecutorService:
    """One executor deployment: its DNS name, replicas, ``shoal`` arguments and env."""

    name: str
    dns_name: str
    replicas: int
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    metrics_port: int | None = None  # monitoring=True: Prometheus /metrics here


@dataclass(frozen=True)
class ExportPlan:
    """Everything the writers need (see the module docstring)."""

    executors: list[ExecutorService]
    gateway_flow: dict[str, Any]  # the gateway's flow.yml, as a mapping
    gateway_protocols: list[str]
    gateway_ports: list[int]
    no_debug_endpoints: bool
    project_dir: str
    gateway_metrics_port: int | None = None  # the Flow's port_monitoring


def dns_name(name: str) -> str:
    """``name`` as a Kubernetes / DNS label (``my_encoder`` -> ``my-encoder``)."""
    out = name.lower().replace("_", "-").replace(".", "-")
    if not _DNS_LABEL.match(out):
        raise InvalidConfigError(
            f"deployment {name!r} cannot be exported: its name must become a DNS label "
            "(letters, digits and '-', at most 63); rename it")
    return out


def plan_export(flow: Flow, host_of: Callable[[str], str]) -> ExportPlan:
    """The plan for ``flow``; ``host_of(dns_name)`` is where the gateway finds an executor."""
    project = os.path.abspath(flow._base_dir or os.getcwd())  # noqa: SLF001
    services: list[ExecutorService] = []
    entries: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for cfg in flow._configs:  # noqa: SLF001
        entry: dict[str, Any] = {"name": cfg.name, "needs": list(cfg.needs)}
        if cfg.when:
            entry["when"] = dict(cfg.when)
        if cfg.remote is not None:  # already served elsewhere: the gateway keeps it as is
            entries.append({**entry, **remote_entry(cfg.remote)})
            continue
        if cfg.uses is None and not cfg.uses_with:  # no executor (e.g. a bare join):
            entries.append(entry)                   # the gateway merges, no pod needed
            continue
        dns = dns_name(cfg.name)
        if dns in seen:
            raise InvalidConfigError(f"deployments {seen[dns]!r} and {cfg.name!r} would both be "
                                     f"exported as {dns!r}; rename one")
        seen[dns] = cfg.name
        inherit = bool(flow._gateway_args.get("monitoring"))  # noqa: SLF001
        services.append(ExecutorService(cfg.name, dns, cfg.replicas,
                                        executor_args(cfg, project, inherit),
                                        dict(cfg.env), metrics_port(cfg, inherit)))
        entries.append({**entry, "external": True, "host": host_of(dns), "port": EXECUTOR_PORT})
    protocols, ports = _gateway_ports(flow)
    with_ = {k: v for k, v in flow._gateway_args.items() if k != "host"}  # noqa: SLF001
    with_["protocol"] = protocols if len(protocols) > 1 else protocols[0]
    with_["port"] = ports if len(ports) > 1 else ports[0]
    gateway_flow = {"jtype": "Flow", "version": "1", "with": with_, "executors": entries}
    mon = with_.get("port_monitoring") if with_.get("monitoring") else None
    return ExportPlan(services, gateway_flow, protocols, ports,
                      bool(with_.get("no_debug_endpoints")), project,
                      int(mon) if mon else None)


def _gateway_ports(flow: Flow) -> tuple[list[str], list[int]]:
    protocol = flow._gateway_args.get("protocol") or "grpc"  # noqa: SLF001
    protocols = [str(p).lower() for p in (protocol if isinstance(protocol, (list, tuple))
                                          else [protocol])]
    given = flow._gateway_args.get("port")  # noqa: SLF001
    ports = [int(p) for p in (given if isinstance(given, (list, tuple)) else
                              [given] if given is not None else [])]
    while len(ports) < len(protocols):
        ports.append(GATEWAY_PORT + len(ports))
    return protocols, ports[:len(protocols)]


def executor_args(cfg: DeploymentConfig, project: str,
                  flow_monitoring: bool = False) -> list[str]:
    """``executor --uses ... --port 8080 --protocol grpc --name ...`` for one deployment."""
    where = f"deployment {cfg.name!r} cannot be exported"
    if cfg.shards > 1:
        raise InvalidConfigError(
            f"{where}: shards={cfg.shards} is not supported in the export; use replicas, or "
            "one deployment per shard joined with Flow.needs")
    for key, yaml_key in _NOT_EXPORTABLE.items():
        if getattr(cfg, key):
            raise InvalidConfigError(f"{where}: {key}= cannot be passed to `shoal executor`; "
                                     f"put it in the executor's YAML ({yaml_key})")
    uses, py_modules = _uses_arg(cfg, project, where)
    args = ["executor", "--uses", uses, "--port", str(EXECUTOR_PORT), "--protocol", "grpc",
            "--name", cfg.name]
    if cfg.uses_with:
        try:
            args += ["--uses-with", json.dumps(cfg.uses_with, sort_keys=True)]
        except (TypeError, ValueError) as exc:
            raise InvalidConfigError(f"{where}: uses_with must be JSON ({exc})") from exc
    mods = [_relative(m, cfg.base_dir or project, project, where) if m.endswith(".py")
            or os.path.exists(os.path.join(cfg.base_dir or project, m)) else m
            for m in (*cfg.py_modules, *py_modules)]
    if mods:
        args += ["--py-modules", *dict.fromkeys(mods)]
    port = metrics_port(cfg, flow_monitoring)
    if port is not None:
        args += ["--monitoring", "--port-monitoring", str(port)]
    return args


def metrics_port(cfg: DeploymentConfig, flow_monitoring: bool = False) -> int | None:
    """Where an exported executor serves its Prometheus metrics: its ``port_monitoring``,
    else :data:`METRICS_PORT`; None when its ``monitoring`` (None: the Flow's) is off."""
    on = cfg.monitoring if cfg.monitoring is not None else flow_monitoring
    if not on:
        return None
    return int(cfg.extra.get("port_monitoring") or METRICS_PORT)


def _uses_arg(cfg: DeploymentConfig, project: str, where: str) -> tuple[str, list[str]]:
    """The ``--uses`` value and any ``py_modules`` it needs (paths still absolute)."""
    uses = cfg.uses
    if uses is None:
        return "Executor", []
    if isinstance(uses, type):
        module, qualname = uses.__module__, uses.__qualname__
        if module == "__main__" or "<locals>" in qualname:
            raise InvalidConfigError(
                f"{where}: {uses.__name__} is defined in "
                f"{'the script being run (__main__)' if module == '__main__' else 'a function'}"
                ", which the container cannot import; move it to a module of your project "
                "(uses='my_module.MyExec' or py_modules=['my_module.py']) or to an executor "
                "YAML (uses='exec.yml')")
        if module.startswith("shoal_user_"):  # imported from a py_modules file
            return qualname, [inspect.getfile(uses)]
        return f"{module}.{qualname}", []
    if isinstance(uses, dict):
        raise InvalidConfigError(f"{where}: an inline uses= mapping cannot be passed to "
                                 "`shoal executor`; save it as an executor YAML file")
    if isinstance(uses, str):
        base = cfg.base_dir or project
        path = uses if os.path.isabs(uses) else os.path.join(base, uses)
        if uses.endswith((".yml", ".yaml")) or os.path.isfile(path):
            return _relative(uses, base, project, where), []
        return uses.lstrip("!"), []
    raise InvalidConfigError(f"{where}: uses={uses!r} is not a class, a name or a YAML path")


def _relative(path: str, base: str, project: str, where: str) -> str:
    """``path`` relative to the project folder (the image's working folder)."""
    full = os.path.abspath(path if os.path.isabs(path) else os.path.join(base, path))
    rel = os.path.relpath(full, project)
    if rel.startswith(os.pardir):
        raise InvalidConfigError(f"{where}: {path} is outside the project folder {project}, "
                                 "which is what the image contains; move it inside")
    return rel.replace(os.sep, "/")


_MARK = "# The image every exported deployment runs."


def write_dockerfile(folder: str, project_dir: str) -> str:
    """Write :func:`dockerfile` as ``folder/Dockerfile`` — or ``folder/shoal.Dockerfile``
    when a Dockerfile of your own is there (it is never overwritten). Returns the path."""
    path = os.path.join(folder, "Dockerfile")
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as fh:
            if not fh.readline().startswith(_MARK):
                path = os.path.join(folder, "shoal.Dockerfile")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dockerfile(project_dir))
    return path


def dockerfile(project_dir: str) -> str:
    """A Dockerfile that builds the image from the project folder (``pip install shoal``)."""
    reqs = os.path.isfile(os.path.join(project_dir, "requirements.txt"))
    lines = [
        f"{_MARK} Build it from your project folder and push it",
        "# where your cluster can pull it, e.g.:",
        "#   docker build -f <this file> -t shoal:latest <project folder>",
        "# (the project folder is the Flow YAML's: the commands name files relative to it)",
        "FROM python:3.11-slim",
        "ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        f"WORKDIR {APP_DIR}",
        "RUN pip install 'shoal[serve]'",
    ]
    if reqs:
        lines += ["COPY requirements.txt .", "RUN pip install -r requirements.txt"]
    lines += ["COPY . .", f"EXPOSE {EXECUTOR_PORT}", 'ENTRYPOINT ["shoal"]', ""]
    return "\n".join(lines)
