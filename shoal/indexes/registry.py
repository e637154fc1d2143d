"""Index backends by name: a table of lazy loaders, plus entry points for third parties.

Built in: ``'exact'``, ``'hnsw'`` (hnswlib), ``'faiss'`` (any faiss factory string, also
spelled ``'faiss:IVF256,PQ16'``). A package adds a backend with an entry point in the
group ``shoal.indexes`` whose object is the index class (or a zero-argument loader that
returns it), or at runtime with :func:`register_index`.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import os
from importlib import metadata
from typing import Any, Callable

from shoal.errors import InvalidConfigError, MissingExtraError, UnknownBackendError
from shoal.indexes.base import VectorIndex
from shoal.indexes.persist import read_meta

__all__ = ["register_index", "available_indexes", "get_index_class", "create_index",
           "load_index", "search_keywords", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "shoal.indexes"
IndexLoader = Callable[[], type]

_EXTRAS = {"hnsw": "hnswlib", "faiss": "faiss-cpu"}


def _builtin(module: str, cls: str) -> IndexLoader:
    def load() -> type:
        return getattr(importlib.import_module(module), cls)
    return load


_LOADERS: dict[str, IndexLoader] = {
    "exact": _builtin("shoal.indexes.exact", "ExactIndex"),
    "hnsw": _builtin("shoal.indexes.hnsw", "HnswIndex"),
    "faiss": _builtin("shoal.indexes.faiss_index", "FaissIndex"),
}
_entry_points_loaded = False


def register_index(name: str, loader: IndexLoader | type, *, replace: bool = False) -> None:
    """Register backend ``name``; ``loader`` is the class or a callable returning it."""
    if not isinstance(name, str) or not name or ":" in name:
        raise InvalidConfigError(f"index backend name must be a non-empty string without ':', got {name!r}")
    if name in _LOADERS and not replace:
        raise InvalidConfigError(f"index backend {name!r} is already registered; pass replace=True")
    _LOADERS[name] = (lambda: loader) if isinstance(loader, type) else loader
    search_keywords.cache_clear()


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _LOADERS:
            _LOADERS[ep.name] = _entry_point_loader(ep)


def _entry_point_loader(ep: metadata.EntryPoint) -> IndexLoader:
    def load() -> type:
        obj = ep.load()
        return obj if isinstance(obj, type) else obj()
    return load


def available_indexes() -> list[str]:
    """Names of every registered backend (built-in, registered, entry points)."""
    _load_entry_points()
    return sorted(_LOADERS)


def get_index_class(name: str) -> type:
    """The class behind backend ``name`` (imports it now)."""
    base = name.split(":", 1)[0] if isinstance(name, str) else name
    if base not in _LOADERS:
        _load_entry_points()
    loader = _LOADERS.get(base)
    if loader is None:
        raise UnknownBackendError(
            f"unknown index backend {name!r}; known: {', '.join(available_indexes())}")
    try:
        return loader()
    except MissingExtraError:
        raise
    except ImportError as exc:
        extra = _EXTRAS.get(base, exc.name or base)
        raise MissingExtraError(
            f"index backend {base!r} cannot be imported ({exc}); pip install {extra}") from exc


def create_index(name: str, dim: int, metric: str = "cosine", **params: Any) -> VectorIndex:
    """A new empty index: ``create_index('hnsw', 128, 'cosine', M=32)``.

    ``'faiss:<factory>'`` is short for ``create_index('faiss', ..., factory='<factory>')``.
    Unknown names raise UnknownBackendError, bad parameters InvalidConfigError.
    """
    cls = get_index_class(name)
    if isinstance(name, str) and ":" in name:
        params = {**params, "factory": name.split(":", 1)[1]}
    try:
        return cls(dim, metric, **params)
    except TypeError as exc:
        takes = _keywords(cls)
        hint = f"; it takes {', '.join(takes)}" if takes else ""
        raise InvalidConfigError(f"bad parameters for index {name!r}: {exc}{hint}") from exc


def _keywords(cls: type) -> list[str]:
    """The parameter names an index class's constructor takes besides dim and metric."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.name not in ("dim", "metric") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def load_index(path: str | os.PathLike[str], **runtime: Any) -> VectorIndex:
    """Open the index saved in directory ``path`` (any backend); CorruptStoreError if unreadable.

    ``runtime`` are search defaults to override (``ef=``, ``nprobe=``) or, for faiss,
    ``vector_source=``.
    """
    meta = read_meta(path)
    return get_index_class(str(meta["backend"])).load(path, **runtime)


@functools.cache
def search_keywords(name: str) -> frozenset[str]:
    """The per-query parameters backend ``name``'s ``search`` takes (``ef``, ``nprobe``...)."""
    sig = inspect.signature(get_index_class(name).search)
    return frozenset(n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY)
