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
import difflib
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Protocol

from shoal.errors import InvalidConfigError

if TYPE_CHECKING:
    from shoal.flow.flow import Flow

__all__ = ["GatewayArgs", "Stoppable", "GatewayStarter", "register_gateway", "get_gateway",
           "registered_gateways", "register_gateway_options", "check_gateway_keywords"]


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


_OPTIONS: set[str] = set()


def register_gateway_options(names: Iterable[str]) -> None:
    """Add to the Flow keywords the registered gateways read (for spelling checks)."""
    _OPTIONS.update(names)


def check_gateway_keywords(where: str, names: Iterable[str], also: Iterable[str] = ()) -> None:
    """InvalidConfigError for a keyword that looks like a misspelling of one the gateways
    (or ``also``) read; other unknown keywords are left to the gateway (Jina's accept many
    a gateway does not use). Nothing is checked before a gateway registered its options."""
    if not _OPTIONS:
        return
    known = _OPTIONS | set(also)
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        if close:
            raise InvalidConfigError(f"{where}: unknown keyword {name!r}; did you mean "
                                     f"{close[0]!r}?")
