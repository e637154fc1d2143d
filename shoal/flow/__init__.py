"""Flow and Deployment: topology, routing, replicas, shards, YAML and plot."""
from __future__ import annotations

from shoal.flow.deployment import Deployment
from shoal.flow.flow import Flow
from shoal.flow.gateways import GatewayArgs, register_gateway
from shoal.flow.router import RequestRouter
from shoal.flow.runtimes import WorkerSpec, register_runtime

__all__ = ["Flow", "Deployment", "RequestRouter", "GatewayArgs", "register_gateway",
           "register_runtime", "WorkerSpec"]
