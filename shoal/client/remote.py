"""The Client's transports as the connection of a Flow's external deployments.

``shoal.flow`` may not import the client, so this module registers
:func:`connect` with :func:`shoal.flow.external.register_connector` when imported
(``import shoal`` imports it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.client.config import parse_client_args
from shoal.client.transports import make_transport
from shoal.flow.external import register_connector

if TYPE_CHECKING:
    from shoal.client.transports import Transport

__all__ = ["connect"]


#: gRPC balances over every address ``host`` resolves to (the pods behind a headless
#: Kubernetes Service), not only the first.
_GRPC_OPTIONS = (("grpc.lb_policy_name", "round_robin"),)


def connect(host: str, port: int, protocol: str, tls: bool = False) -> Transport:
    """A transport to the gateway at ``host:port`` (nothing is opened until first used)."""
    config = parse_client_args(host, port, protocol, tls)
    if config.protocol == "grpc":
        return make_transport(config, grpc_options=_GRPC_OPTIONS)
    return make_transport(config)


register_connector(connect)
