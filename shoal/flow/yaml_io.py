"""Jina-style Flow YAML: ``jtype: Flow``, ``with:`` (gateway kwargs), ``executors:``.

::

    jtype: Flow
    with:
      protocol: http
      port: 12345
    executors:
      - name: encoder
        uses: MyEncoder            # a class name, a YAML path, hub://Name, or a mapping
        uses_with: {dim: 128}
        replicas: 2
      - name: indexer
        uses: indexer.yml
        needs: encoder
      - name: ranker               # served elsewhere (a shoal gateway at host:port)
        external: true
        host: ranker.default.svc
        port: 8080

Read with ``yaml.safe_load`` only. Relative paths (``uses: x.yml``, ``py_modules``)
resolve against the YAML file's folder. After parsing, ``${{ ENV.VAR }}`` and
``${{ CONTEXT.VAR }}`` (``Flow.load_config(path, context={'VAR': ...})``) are replaced in
string values, keeping the variable's type when the whole value is one expression
(``port: ${{ ENV.PORT }}`` is an int).
"""
from __future__ import annotations

import difflib
import math
import os
from typing import TYPE_CHECKING, Any

from shoal.errors import InvalidConfigError
from shoal.executors.loader import substitute_vars
from shoal.flow.config import GATEWAY

if TYPE_CHECKING:
    from shoal.flow.config import RemoteAddress
    from shoal.flow.deployment import Deployment
    from shoal.flow.flow import Flow

__all__ = ["load_flow", "load_deployment", "dump_flow", "flow_to_dict", "remote_entry"]

_ADD_KEYS = ("uses", "name", "uses_with", "uses_metas", "uses_requests", "workspace",
             "needs", "replicas", "shards", "polling", "when", "env", "timeout_ready",
             "runtime", "py_modules", "monitoring")


def _read(source: Any) -> tuple[Any, str | None, str]:
    """The parsed config, the folder relative paths resolve against, and a label for errors."""
    if isinstance(source, dict):
        return source, None, "Flow config"
    if isinstance(source, str) and "\n" not in source and os.path.isfile(source):
        path = os.path.abspath(source)
        with open(path, encoding="utf-8") as fh:
            return _safe_load(fh.read(), path), os.path.dirname(path), path
    if isinstance(source, str) and ("\n" in source or ":" in source):
        return _safe_load(source, "Flow YAML"), None, "Flow YAML"
    raise InvalidConfigError(
        f"Flow.load_config: {source!r} is not a file (looked in {os.getcwd()}), YAML text or "
        "a dict")


def _safe_load(text: str, label: str) -> Any:
    import yaml  # noqa: PLC0415

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidConfigError(f"{label}: not valid YAML: {exc}") from exc


def load_flow(cls: type[Flow], source: Any, context: dict[str, Any] | None = None,
              **overrides: Any) -> Flow:
    """Build a Flow from YAML; ``overrides`` update the ``with:`` gateway keywords.

    ``context`` fills ``${{ CONTEXT.X }}``; ``${{ ENV.X }}`` reads the environment."""
    raw, base_dir, label = _read(source)
    data = substitute_vars(raw, context, label)
    if not isinstance(data, dict):
        raise InvalidConfigError("a Flow YAML must be a mapping with 'jtype: Flow'")
    jtype = data.get("jtype", "Flow")
    if jtype not in ("Flow", "AsyncFlow"):
        hint = (" (load it with Deployment.load_config)" if jtype == "Deployment" else "")
        raise InvalidConfigError(
            f"Flow.load_config: jtype is {jtype!r}, expected 'Flow'{hint}")
    _check_top_level(data)
    gateway = {**_mapping(data, "with"), **_gateway_section(data), **overrides}
    flow = cls(**gateway)
    flow._base_dir = base_dir  # noqa: SLF001
    flow._context = dict(context or {})  # noqa: SLF001 - reaches the executor YAMLs too
    from shoal.flow.topology import build_topology  # noqa: PLC0415

    configs = []
    for i, entry in enumerate(data.get("executors") or data.get("pods") or []):
        if not isinstance(entry, dict):
            raise InvalidConfigError(f"executors[{i}] must be a mapping, not {entry!r}")
        entry = dict(entry)
        if "needs" not in entry:
            entry["needs"] = configs[-1].name if configs else GATEWAY
        if "name" not in entry:
            entry["name"] = f"executor{i}"
        cfg = flow._make_config(**entry)  # noqa: SLF001 - validates uses here
        configs.append(cfg)
        flow._configs.append(cfg)  # noqa: SLF001
    build_topology(configs)  # unknown needs (forward refs allowed), duplicates, cycles
    return flow


def _check_top_level(data: dict[str, Any], allowed: tuple[str, ...] = ("jtype", "version", "with",
                     "gateway", "executors", "pods"), what: str = "Flow") -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            where = "'executors:'" if what == "Flow" else "'with:'"
            raise InvalidConfigError(
                f"{what} YAML: unknown top-level key {key!r}; {hint}a {what} YAML has "
                f"{', '.join(allowed)} (the executor's options go under {where})")


def load_deployment(cls: type[Deployment], source: Any, context: dict[str, Any] | None = None,
                    **overrides: Any) -> Deployment:
    """A Deployment from Jina's ``jtype: Deployment`` YAML: its ``with:`` holds the
    executor's options (``uses``, ``replicas``...) and the gateway's (``port``,
    ``protocol``); ``overrides`` update them."""
    raw, base_dir, label = _read(source)
    data = substitute_vars(raw, context, label)
    if not isinstance(data, dict) or data.get("jtype") != "Deployment":
        jtype = data.get("jtype") if isinstance(data, dict) else None
        raise InvalidConfigError(
            f"Deployment.load_config: jtype is {jtype!r}, expected 'Deployment' (a Flow YAML "
            "loads with Flow.load_config)")
    _check_top_level(data, ("jtype", "version", "with"), "Deployment")
    return cls(**{**_mapping(data, "with"), **overrides},
               _origin=(base_dir, dict(context or {})))


def deployment_to_dict(dep: Deployment) -> dict[str, Any]:
    """The Deployment as the mapping that ``load_deployment`` reads back."""
    entry = flow_to_dict(dep)["executors"][0]
    entry.pop("needs", None)
    return {"jtype": "Deployment", "version": "1",
            "with": {**entry, **dep._gateway_args}}  # noqa: SLF001


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidConfigError(f"Flow YAML: '{key}:' must be a mapping of keywords, "
                                 f"not {value!r}")
    return dict(value)


def _gateway_section(data: dict[str, Any]) -> dict[str, Any]:
    """Jina 3's ``gateway:`` section (protocol, port, cors...), over ``with:``."""
    section = _mapping(data, "gateway")
    custom = [k for k in ("uses", "jtype", "with", "py_modules") if k in section]
    if custom:
        raise InvalidConfigError(
            f"Flow YAML: 'gateway:' sets {', '.join(custom)}; shoal serves its own gateways "
            "(grpc, http, websocket) and has no custom Gateway classes - keep protocol, port "
            "and the other gateway keywords there")
    return section


def _uses_repr(uses: Any) -> Any:
    """A class as ``module.Class`` when a fresh process can import it that way (so the
    saved YAML loads anywhere); a class of ``__main__``, of a py_modules file or local to
    a function by its name (found once its module is imported)."""
    if not isinstance(uses, type):
        return uses
    module, qualname = uses.__module__, uses.__qualname__
    if module in ("__main__", "builtins") or "<locals>" in qualname \
            or module.startswith("shoal_user_"):
        return uses.__name__
    return f"{module}.{qualname}"


def remote_entry(remote: RemoteAddress) -> dict[str, Any]:
    """``external: true, host, port`` (and ``protocol`` / ``tls`` when not the default)."""
    entry: dict[str, Any] = {"external": True, "host": remote.host, "port": remote.port}
    if remote.protocol != "grpc":
        entry["protocol"] = remote.protocol
    if remote.tls:
        entry["tls"] = True
    return entry


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    """The Flow as the mapping that ``load_flow`` reads back."""
    executors = []
    for cfg in flow._configs:  # noqa: SLF001
        entry: dict[str, Any] = {"name": cfg.name}
        if cfg.uses is not None:
            entry["uses"] = _uses_repr(cfg.uses)
        for key in ("uses_with", "uses_metas", "uses_requests", "env", "when"):
            value = getattr(cfg, key)
            if value:
                entry[key] = dict(value)
        if cfg.workspace:
            entry["workspace"] = cfg.workspace
        if cfg.needs != (GATEWAY,) or len(executors) > 0:
            entry["needs"] = list(cfg.needs) if len(cfg.needs) > 1 else cfg.needs[0]
        for key in ("replicas", "shards"):
            if getattr(cfg, key) != 1:
                entry[key] = getattr(cfg, key)
        if cfg.polling != "ANY":
            entry["polling"] = cfg.polling
        if cfg.remote is not None:
            entry.update(remote_entry(cfg.remote))
        elif cfg.runtime != "thread":
            entry["runtime"] = cfg.runtime
        if cfg.timeout_ready is not None:
            entry["timeout_ready"] = (-1 if math.isinf(cfg.timeout_ready)
                                      else int(cfg.timeout_ready * 1000))
        if cfg.py_modules:
            entry["py_modules"] = list(cfg.py_modules)
        if cfg.monitoring is not None:
            entry["monitoring"] = cfg.monitoring
        entry.update(cfg.extra)
        executors.append(entry)
    out: dict[str, Any] = {"jtype": "Flow", "version": "1"}
    if flow._gateway_args:  # noqa: SLF001
        out["with"] = dict(flow._gateway_args)  # noqa: SLF001
    out["executors"] = executors
    return out


def dump_flow(flow: Flow, path: str | None = None) -> str:
    """YAML text of the Flow (or Deployment), also written to ``path`` if given."""
    import yaml  # noqa: PLC0415

    from shoal.flow.deployment import Deployment  # noqa: PLC0415

    data = deployment_to_dict(flow) if isinstance(flow, Deployment) else flow_to_dict(flow)
    text = yaml.safe_dump(data, sort_keys=False)
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
