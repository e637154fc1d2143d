"""``Flow.to_kubernetes_yaml``: Kubernetes manifests for a Flow, laid out as Jina's.

``output_base_path/<executor>/<executor>.yml`` holds a headless ClusterIP Service and a
Deployment (``replicas`` pods running ``shoal executor ... --port 8080 --protocol grpc``,
with gRPC readiness and liveness probes on the health service, Kubernetes >= 1.24);
``output_base_path/gateway/gateway.yml`` holds a ConfigMap with the gateway's
``flow.yml`` (each executor ``external`` at ``<name>.<namespace>.svc:8080``), a
ClusterIP Service on the Flow's gateway port(s) and a Deployment running
``shoal flow --uses flow.yml``. A ``Dockerfile`` next to them builds the image.
Apply with ``kubectl apply -R -f output_base_path`` (the namespace must exist).
"""
from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from shoal.flow.export import (APP_DIR, EXECUTOR_PORT, ExecutorService, ExportPlan, dns_name,
                               plan_export, write_dockerfile)

if TYPE_CHECKING:
    from shoal.flow.flow import Flow

__all__ = ["write_kubernetes", "kubernetes_manifests", "CONFIG_DIR"]

#: Where the gateway's ConfigMap (``flow.yml``) is mounted.
CONFIG_DIR = "/shoal-config"


def kubernetes_manifests(flow: Flow, k8s_namespace: str | None = None,
                         image: str = "shoal:latest", include_gateway: bool = True,
                         ) -> tuple[dict[str, list[dict]], ExportPlan]:
    """``{folder name: [manifest, ...]}`` (executors first, then ``'gateway'``) and the plan."""
    ns = dns_name(k8s_namespace or (flow.name if flow.name != "flow" else "default"))
    plan = plan_export(flow, lambda name: f"{name}.{ns}.svc")
    out = {svc.dns_name: [_service(svc.dns_name, ns, _executor_ports(svc), headless=True),
                          _executor_deployment(svc, ns, image)] for svc in plan.executors}
    if include_gateway:
        out["gateway"] = _gateway(plan, ns, image)
    return out, plan


def write_kubernetes(flow: Flow, output_base_path: str, k8s_namespace: str | None = None,
                     image: str = "shoal:latest", include_gateway: bool = True) -> list[str]:
    """Write the manifests and the Dockerfile; returns the paths written."""
    import yaml  # noqa: PLC0415

    manifests, plan = kubernetes_manifests(flow, k8s_namespace, image, include_gateway)
    written = []
    for folder, docs in manifests.items():
        path = os.path.join(output_base_path, folder, f"{folder}.yml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump_all(docs, fh, sort_keys=False)
        written.append(path)
    os.makedirs(output_base_path, exist_ok=True)
    return [*written, write_dockerfile(output_base_path, plan.project_dir)]


def _meta(name: str, ns: str) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": {"app": name, "app.kubernetes.io/part-of": "shoal"}}


def _service(name: str, ns: str, ports: list[tuple[str, int]], headless: bool = False) -> dict:
    spec: dict[str, Any] = {"type": "ClusterIP", "selector": {"app": name},
                            "ports": [{"name": pname, "port": port, "targetPort": port,
                                       "protocol": "TCP"} for pname, port in ports]}
    if headless:  # one DNS record per ready pod: the gateway balances over them
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns), "spec": spec}


def _probes(check: dict[str, Any]) -> dict[str, Any]:
    """Readiness and liveness probes (separate copies: no YAML anchors in the output)."""
    return {"readinessProbe": {**copy.deepcopy(check), "initialDelaySeconds": 2,
                               "periodSeconds": 5},
            "livenessProbe": {**copy.deepcopy(check), "initialDelaySeconds": 30,
                              "periodSeconds": 10, "failureThreshold": 3}}


def _deployment(name: str, ns: str, replicas: int, container: dict[str, Any],
                volumes: list[dict] | None = None) -> dict:
    pod: dict[str, Any] = {"containers": [container]}
    if volumes:
        pod["volumes"] = volumes
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, ns),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def _container(name: str, image: str, args: list[str], ports: list[tuple[str, int]],
               env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["shoal"], "args": args, "workingDir": APP_DIR,
        "ports": [{"name": pname, "containerPort": port} for pname, port in ports],
        "env": [{"name": "PYTHONUNBUFFERED", "value": "1"},
                *({"name": k, "value": v} for k, v in env.items())]}
    return out


def _executor_ports(svc: ExecutorService) -> list[tuple[str, int]]:
    ports = [("grpc", EXECUTOR_PORT)]
    return ports + [("metrics", svc.metrics_port)] if svc.metrics_port else ports


def _executor_deployment(svc: ExecutorService, ns: str, image: str) -> dict:
    container = _container("executor", image, svc.args, _executor_ports(svc), svc.env)
    container.update(_probes({"grpc": {"port": EXECUTOR_PORT}}))
    return _deployment(svc.dns_name, ns, svc.replicas, container)


def _gateway(plan: ExportPlan, ns: str, image: str) -> list[dict]:
    import yaml  # noqa: PLC0415

    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("gateway-flow", ns),
              "data": {"flow.yml": yaml.safe_dump(plan.gateway_flow, sort_keys=False)}}
    ports = [(proto if proto != "websocket" else "ws", port)
             for proto, port in zip(plan.gateway_protocols, plan.gateway_ports, strict=True)]
    if plan.gateway_metrics_port:
        ports.append(("metrics", plan.gateway_metrics_port))
    container = _container("gateway", image, ["flow", "--uses", f"{CONFIG_DIR}/flow.yml"],
                           ports, {})
    container["volumeMounts"] = [{"name": "flow-config", "mountPath": CONFIG_DIR,
                                  "readOnly": True}]
    container.update(_probes(_gateway_check(plan)))
    volumes = [{"name": "flow-config", "configMap": {"name": "gateway-flow"}}]
    return [config, _service("gateway", ns, ports),
            _deployment("gateway", ns, 1, container, volumes)]


def _gateway_check(plan: ExportPlan) -> dict[str, Any]:
    """gRPC health if the gateway speaks gRPC, else GET /status (HTTP) or a TCP connect."""
    protocols = dict(zip(plan.gateway_protocols, plan.gateway_ports, strict=True))
    if "grpc" in protocols:
        return {"grpc": {"port": protocols["grpc"]}}
    if "http" in protocols and not plan.no_debug_endpoints:
        return {"httpGet": {"path": "/status", "port": protocols["http"]}}
    return {"tcpSocket": {"port": plan.gateway_ports[0]}}
