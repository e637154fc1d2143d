"""TLS for every gateway protocol from one ``ssl_certfile`` / ``ssl_keyfile`` pair."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.errors import InvalidConfigError

if TYPE_CHECKING:
    from shoal.serve.gateway.config import GatewayConfig

__all__ = ["read_cert_pair", "grpc_server_credentials"]


def read_cert_pair(config: GatewayConfig) -> tuple[bytes, bytes]:
    """``(certificate chain, private key)`` PEM bytes; a missing file says which one."""
    out = []
    for name in ("ssl_certfile", "ssl_keyfile"):
        path = getattr(config, name)
        try:
            out.append(Path(path).read_bytes())
        except OSError as exc:
            raise InvalidConfigError(f"{name}={path!r} cannot be read: {exc.strerror}") from exc
    return out[0], out[1]


def grpc_server_credentials(config: GatewayConfig) -> Any:
    """``grpc.ssl_server_credentials`` for the configured certificate and key."""
    import grpc  # noqa: PLC0415

    cert, key = read_cert_pair(config)
    return grpc.ssl_server_credentials(((key, cert),))
