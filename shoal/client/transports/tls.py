"""TLS settings shared by the client transports."""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.errors import InvalidConfigError

if TYPE_CHECKING:
    from shoal.client.config import ClientConfig

__all__ = ["ssl_context", "root_pem"]


def root_pem(config: ClientConfig) -> bytes | None:
    """The trusted root certificates (PEM) configured, or None for the system's."""
    if not config.root_certificates:
        return None
    try:
        return Path(config.root_certificates).read_bytes()
    except OSError as exc:
        raise InvalidConfigError(f"root_certificates={config.root_certificates!r} cannot be "
                                 f"read: {exc.strerror}") from exc


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """A verifying client context trusting ``root_certificates`` or the system store."""
    ctx = ssl.create_default_context()
    pem = root_pem(config)
    if pem is not None:
        ctx.load_verify_locations(cadata=pem.decode("ascii"))
    return ctx
