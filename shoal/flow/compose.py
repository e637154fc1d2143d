"""``Flow.to_docker_compose_yaml``: one Docker Compose file for a Flow, as Jina writes.

Every executor is a service running ``shoal executor ... --port 8080 --protocol grpc``
(``deploy.replicas`` from its replicas, a ``shoal ping`` healthcheck); the ``gateway``
service runs ``shoal flow --uses`` on a ``<compose stem>.gateway-flow.yml`` written next
to the compose file and bind-mounted (each executor ``external`` at ``<name>:8080``),
publishes the Flow's gateway port(s) and starts once the executors are healthy. A
``Dockerfile`` next to the compose file builds the image.
Run with ``docker compose -f output_path up``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shoal.flow.export import APP_DIR, EXECUTOR_PORT, plan_export, write_dockerfile

if TYPE_CHECKING:
    from shoal.flow.export import ExportPlan
    from shoal.flow.flow import Flow

__all__ = ["write_docker_compose", "compose_config", "gateway_flow_path", "DEFAULT_NETWORK"]

DEFAULT_NETWORK = "shoal-network"
_CONFIG_PATH = "/shoal-config/flow.yml"


def gateway_flow_path(output_path: str) -> str:
    """Where the gateway's flow.yml goes: ``docker-compose.yml`` -> ``docker-compose.gateway-flow.yml``."""
    stem = os.path.splitext(output_path)[0]
    return f"{stem}.gateway-flow.yml"


def compose_config(flow: Flow, output_path: str = "docker-compose.yml",
                   network_name: str | None = None, image: str = "shoal:latest",
                   include_gateway: bool = True) -> tuple[dict[str, Any], ExportPlan]:
    """The compose mapping and the plan (``plan.gateway_flow`` is the gateway's flow.yml)."""
    plan = plan_export(flow, lambda name: name)
    net = network_name or DEFAULT_NETWORK
    services: dict[str, Any] = {}
    for svc in plan.executors:
        entry: dict[str, Any] = _base(image, svc.args, net)
        entry["expose"] = [EXECUTOR_PORT] + ([svc.metrics_port] if svc.metrics_port else [])
        entry["environment"].update(svc.env)
        if svc.replicas > 1:
            entry["deploy"] = {"replicas": svc.replicas}
        entry["healthcheck"] = {"test": ["CMD", "shoal", "ping", f"127.0.0.1:{EXECUTOR_PORT}"],
                                "interval": "2s", "timeout": "5s", "retries": 30,
                                "start_period": "5s"}
        services[svc.dns_name] = entry
    if include_gateway:
        services["gateway"] = _gateway(plan, image, net, output_path, list(services))
    compose = {"services": services,
               "networks": {net: {"driver": "bridge"}}}
    return compose, plan


def _gateway(plan: ExportPlan, image: str, net: str, output_path: str,
             executors: list[str]) -> dict[str, Any]:
    gateway = _base(image, ["flow", "--uses", _CONFIG_PATH], net)
    mount = os.path.basename(gateway_flow_path(output_path))
    gateway["volumes"] = [f"./{mount}:{_CONFIG_PATH}:ro"]
    published = plan.gateway_ports + ([plan.gateway_metrics_port]
                                      if plan.gateway_metrics_port else [])
    gateway["ports"] = [f"{port}:{port}" for port in published]
    gateway["expose"] = list(published)
    if executors:
        gateway["depends_on"] = {name: {"condition": "service_healthy"} for name in executors}
    return gateway


def _base(image: str, args: list[str], net: str) -> dict[str, Any]:
    return {"image": image, "entrypoint": ["shoal"], "command": list(args),
            "working_dir": APP_DIR, "environment": {"PYTHONUNBUFFERED": "1"},
            "networks": [net]}


def write_docker_compose(flow: Flow, output_path: str | None = None,
                         network_name: str | None = None, image: str = "shoal:latest",
                         include_gateway: bool = True) -> list[str]:
    """Write the compose file, the gateway's flow.yml and the Dockerfile; returns the paths."""
    import yaml  # noqa: PLC0415

    output_path = output_path or "docker-compose.yml"
    compose, plan = compose_config(flow, output_path, network_name, image, include_gateway)
    folder = os.path.dirname(output_path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    flow_path = gateway_flow_path(output_path)
    with open(output_path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(compose, fh, sort_keys=False)
    written = [output_path]
    if include_gateway:
        with open(flow_path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(plan.gateway_flow, fh, sort_keys=False)
        written.append(flow_path)
    return [*written, write_dockerfile(folder, plan.project_dir)]
