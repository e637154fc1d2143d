"""``Deployment``: one executor served standalone, with the same ``post`` as a Flow."""
from __future__ import annotations

from typing import Any, Iterable

from shoal.errors import InvalidConfigError
from shoal.executors import executor as executor_module
from shoal.flow.config import ADD_KEYS, JINA_NOT_IMPLEMENTED
from shoal.flow.flow import Flow

__all__ = ["Deployment"]

#: ``Deployment(...)`` keywords that configure the executor (the rest go to the gateway);
#: the Jina ones shoal does not implement go there too, to be refused.
_EXECUTOR_KEYS = (frozenset(ADD_KEYS) - {"needs"}) | JINA_NOT_IMPLEMENTED


class Deployment(Flow):
    """``Deployment(uses=MyExec, replicas=2)``: a Flow of exactly one executor.

    Use it like a Flow (``with dep: dep.post(...)``); gateway keywords (``port``,
    ``protocol`` ...) are kept for a gateway as in :class:`Flow`.
    """

    def __init__(self, uses: Any = None, *, _origin: tuple[str | None, dict] | None = None,
                 **kwargs: Any) -> None:
        if kwargs.get("external"):
            raise InvalidConfigError(
                "Deployment(external=True): a Deployment runs its executor here; add a remote "
                "one to a Flow instead: Flow().add(external=True, host=..., port=...)")
        executor = {k: kwargs.pop(k) for k in list(kwargs) if k in _EXECUTOR_KEYS}
        if "monitoring" in executor:
            kwargs["monitoring"] = executor["monitoring"]
        super().__init__(**kwargs)
        if _origin is not None:  # load_config: relative paths and ${{ CONTEXT }} of its YAML
            self._base_dir, self._context = _origin
        self._configs.append(self._make_config(uses=uses, **executor))
        self.name = self._configs[0].name

    @classmethod
    def load_config(cls, source: Any, **kwargs: Any) -> Deployment:  # type: ignore[override]
        """A Deployment from Jina's ``jtype: Deployment`` YAML (a path, YAML text or a
        dict): ``with:`` holds ``uses``, ``replicas``... and gateway keywords."""
        from shoal.flow.yaml_io import load_deployment  # noqa: PLC0415

        return load_deployment(cls, source, **kwargs)

    @staticmethod
    def _extra_keywords() -> Iterable[str]:
        return _EXECUTOR_KEYS

    def add(self, *args: Any, **kwargs: Any) -> Flow:  # noqa: D102
        raise TypeError("a Deployment runs one executor; use a Flow to chain several")

    @property
    def executor_name(self) -> str:
        return self._configs[0].name


def serve_executor(uses: Any, stop_event: Any = None, **kwargs: Any) -> None:
    """Run ``uses`` as a Deployment with a gateway until ``stop_event`` is set."""
    with Deployment(uses=uses, **kwargs) as dep:
        dep.port  # noqa: B018 - asking for the port opens the gateway if none was configured
        dep.block(stop_event=stop_event)


executor_module._SERVE_HOOK = serve_executor
