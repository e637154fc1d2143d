"""The gateway registry: network front doors register here; the Flow starts them.

``shoal.serve`` registers one starter per protocol (``'grpc'``, ``'http'``,
``'websocket'``)::

    async def start_http(flow, args: GatewayArgs) -> Stoppable: ...
    register_gateway('http', start_http)

The Flow awaits the starter on its own event loop (``flow.loop``) after every
deployment is ready, with the router at ``flow.router``; the returned object's
``async stop()`` is awaited when the Flow closes. A Flow opens no socket unless
``protocol=`` or ``port=`` was given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

if TYPE_CHECKING:
    from shoal.flow.flow import Flow

__all__ = ["GatewayArgs", "Stoppable", "GatewayStarter", "register_gateway", "get_gateway",
           "registered_gateways"]


@dataclass(frozen=True)
class GatewayArgs:
    """One gateway to start: its protocol, host and port, and every other Flow kwarg
    (``cors``, ``no_debug_endpoints``, ``no_crud_endpoints``, ``uvicorn_kwargs``,
    ``ssl_certfile``, ``ssl_keyfile``, ``prefetch``, ``expose_endpoints`` ...)."""

    protocol: str
    port: int
    host: str = "0.0.0.0"
    options: dict[str, Any] = field(default_factory=dict)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


GatewayStarter = Callable[["Flow", GatewayArgs], Awaitable[Stoppable]]
_GATEWAYS: dict[str, GatewayStarter] = {}


def register_gateway(protocol: str, starter: GatewayStarter) -> None:
    """Register ``starter`` for ``protocol`` (lower-case: 'grpc', 'http', 'websocket')."""
    _GATEWAYS[protocol.lower()] = starter


def get_gateway(protocol: str) -> GatewayStarter | None:
    """The starter registered for ``protocol``, or None."""
    return _GATEWAYS.get(protocol.lower())


def registered_gateways() -> list[str]:
    return sorted(_GATEWAYS)
