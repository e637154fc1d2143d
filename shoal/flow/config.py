"""``DeploymentConfig``: the validated arguments of one ``Flow.add(...)``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shoal.errors import InvalidConfigError

__all__ = ["DeploymentConfig", "GATEWAY", "POLLINGS", "RUNTIMES_ALIASES", "normalize_polling"]

#: The name of the virtual start node (``needs='gateway'``).
GATEWAY = "gateway"
POLLINGS = ("ANY", "ALL")
#: Spellings accepted for ``runtime=``.
RUNTIMES_ALIASES = {"thread": "thread", "inprocess": "thread", "in-process": "thread",
                    "local": "thread", "process": "process", "worker": "process"}


def normalize_polling(polling: Any) -> str | dict[str, str]:
    """``'any'`` -> ``'ANY'``; a dict of endpoint -> polling is normalized per key."""
    if polling is None:
        return "ANY"
    if isinstance(polling, dict):
        return {str(k): str(normalize_polling(v)) for k, v in polling.items()}
    if isinstance(polling, str) and polling.upper() in POLLINGS:
        return polling.upper()
    if hasattr(polling, "name") and str(polling.name).upper() in POLLINGS:  # an enum
        return str(polling.name).upper()
    raise InvalidConfigError(f"polling={polling!r}: use 'ANY', 'ALL' or a dict endpoint -> "
                             "'ANY'/'ALL'")


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything ``Flow.add`` accepts, validated on construction."""

    name: str
    uses: Any = None
    uses_with: dict[str, Any] = field(default_factory=dict)
    uses_metas: dict[str, Any] = field(default_factory=dict)
    uses_requests: dict[str, str] = field(default_factory=dict)
    workspace: str | None = None
    needs: tuple[str, ...] = (GATEWAY,)
    replicas: int = 1
    shards: int = 1
    polling: str | dict[str, str] = "ANY"
    when: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_ready: float | None = None  # seconds; None: the runtime's default
    runtime: str = "thread"
    py_modules: tuple[str, ...] = ()
    monitoring: bool | None = None
    base_dir: str | None = None  # where relative YAML / py_modules paths resolve
    extra: dict[str, Any] = field(default_factory=dict)  # unknown Jina keys, kept for YAML

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InvalidConfigError(f"a deployment name must be a non-empty str, not {self.name!r}")
        if self.name == GATEWAY:
            raise InvalidConfigError(f"{GATEWAY!r} is reserved; choose another name")
        for attr in ("replicas", "shards"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidConfigError(f"{self.name}: {attr}={value!r} must be an int >= 1")
        if self.runtime not in RUNTIMES_ALIASES.values():
            raise InvalidConfigError(
                f"{self.name}: runtime={self.runtime!r}; use 'thread' (in-process) or 'process'")
        if self.when is not None and not isinstance(self.when, dict):
            raise InvalidConfigError(f"{self.name}: when= must be a filter dict, not {self.when!r}")

    def polling_for(self, endpoint: str) -> str:
        """'ANY' or 'ALL' for ``endpoint`` (a dict may use ``'*'`` as the default)."""
        if isinstance(self.polling, str):
            return self.polling
        return self.polling.get(endpoint) or self.polling.get("*") or "ANY"

    @property
    def timeout_ready_s(self) -> float | None:
        return self.timeout_ready
