"""The Client of a served Flow: gRPC, HTTP or WebSocket, sync or asyncio.

Imports no network library until a call needs one (grpc, httpx or websockets).
"""
from __future__ import annotations

from shoal.client.client import AsyncClient, Client
from shoal.client.config import ClientConfig, parse_client_args

__all__ = ["Client", "AsyncClient", "ClientConfig", "parse_client_args"]
