"""Serving a Flow: worker-process runtimes and the network gateways.

Importing this package registers, without importing grpc or FastAPI:

* the gateways ``'grpc'``, ``'http'`` and ``'websocket'`` with
  :mod:`shoal.flow.gateways` (started when a Flow has ``protocol=`` or ``port=``);
* ``runtime='process'`` with :mod:`shoal.flow.runtimes` (:mod:`shoal.serve.runtime`).
"""
from __future__ import annotations

from shoal.flow.gateways import register_gateway, register_gateway_options
from shoal.serve import runtime as _runtime  # noqa: F401 - registers runtime='process'
from shoal.serve.gateway.config import PROTOCOLS
from shoal.serve.gateway.starter import GATEWAY_KEYWORDS, start_gateway

for _protocol in PROTOCOLS:
    register_gateway(_protocol, start_gateway)
register_gateway_options(GATEWAY_KEYWORDS)

__all__ = ["start_gateway"]
