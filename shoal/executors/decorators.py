"""``@requests``: bind Executor methods to endpoints (Jina 3 spelling).

``@requests`` makes a method the default handler of every endpoint;
``@requests(on='/index')`` or ``@requests(on=['/index', '/search'])`` binds it to
those endpoints. The decorator only marks the function; :class:`~shoal.executors.Executor`
collects the marks when the class is created (``__init_subclass__``).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar, overload

__all__ = ["requests", "DEFAULT_ENDPOINT", "ENDPOINTS_ATTR"]

#: The key under which the default handler (``@requests`` without ``on=``) is stored.
DEFAULT_ENDPOINT = "__default__"
#: Attribute set on a decorated function: the tuple of endpoints it serves.
ENDPOINTS_ATTR = "__shoal_endpoints__"

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requests(func: F) -> F: ...


@overload
def requests(func: None = None, *, on: str | Sequence[str] | None = None,
             **kwargs: Any) -> Callable[[F], F]: ...


def requests(func: Any = None, *, on: str | Sequence[str] | None = None,
             **kwargs: Any) -> Any:
    """Mark an Executor method as the handler of ``on`` (all endpoints if not given).

    Extra keywords of later Jina versions (``request_schema=`` ...) are accepted and
    ignored. The method may be sync or ``async def`` and takes any of ``docs``,
    ``parameters``, ``docs_matrix``, ``docs_map`` by name, plus ``**kwargs``.
    """
    if on is None:
        endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    elif isinstance(on, str):
        endpoints = (on,)
    else:
        endpoints = tuple(on) if isinstance(on, (list, tuple, set, frozenset)) else ()
        if not endpoints or not all(isinstance(e, str) for e in endpoints):
            raise TypeError(f"@requests(on=...) takes an endpoint such as '/index' or a "
                            f"non-empty list of them, not {on!r}")

    def mark(fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"@requests decorates a method, not {fn!r}")
        prev = getattr(fn, ENDPOINTS_ATTR, ())
        setattr(fn, ENDPOINTS_ATTR, tuple(prev) + endpoints)
        return fn

    if func is not None and callable(func):
        return mark(func)
    return mark
