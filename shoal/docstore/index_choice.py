"""Which ANN index a store keeps, recorded in the store's meta, and switching it in place.

A store records its index choice (``{'kind', 'params', 'metric'}``) beside its counters,
so reopening without ``config['index']`` uses the index it had. An index named in the
config wins over the recorded one (rebuilt if it differs) and becomes the recorded one.
``kind`` None (config or :func:`switch` ``'exact'`` / ``'none'``) means no ANN index:
searches are exact over the vector column.

:func:`switch` builds the new index in a sibling directory first; only when that worked
is the choice recorded and the directory swapped in, so a bad name, bad parameters or a
failed training leave the old index answering. A crash between the steps only costs a
rebuild on the next open (the index is a cache of the column).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from shoal.errors import InvalidConfigError, UnknownBackendError, UnknownMetricError
from shoal.document.distance import canonical_metric

__all__ = ["IndexChoice", "resolve", "normalize_kind", "check_metric", "check_requested",
           "describe", "switch", "open_sync", "NO_INDEX"]

#: names that mean "no ANN index, exact search over the vector column"
NO_INDEX = ("exact", "none")
_PROBE_DIM = 64  # dimension to validate parameters with before the store has vectors


@dataclass(frozen=True)
class IndexChoice:
    """An index type (None = exact search over the column), its parameters and metric."""

    kind: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metric: str = "cosine"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params), "metric": self.metric}

    @classmethod
    def from_json(cls, raw: Any) -> IndexChoice | None:
        if not isinstance(raw, Mapping):
            return None
        kind = raw.get("kind")
        return cls(kind if isinstance(kind, str) else None, dict(raw.get("params") or {}),
                   str(raw.get("metric") or "cosine"))


def normalize_kind(index: Any) -> str | None:
    """A known backend name (``'hnsw'``, ``'faiss'``, ``'faiss:IVF16,Flat'``...) or None for
    ``'exact'`` / ``'none'``; UnknownBackendError otherwise."""
    from shoal.indexes import available_indexes  # noqa: PLC0415

    if not isinstance(index, str) or not index.strip():
        raise InvalidConfigError(
            f"index must be a backend name such as 'hnsw' or 'faiss', got {index!r}")
    if index.lower() in NO_INDEX:
        return None
    base = index.split(":", 1)[0]
    known = [k for k in available_indexes() if k != "exact"]
    if base not in known:
        raise UnknownBackendError(
            f"unknown index {index!r}; use one of {', '.join(known)}, or 'exact' for exact "
            "search over the vector column without an ANN index")
    return index


def check_metric(metric: Any) -> str:
    """The canonical metric name; InvalidConfigError for an unknown one."""
    try:
        return canonical_metric(metric)
    except UnknownMetricError as exc:
        raise InvalidConfigError(f"config metric: {exc}") from exc


def _params(params: Any) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise InvalidConfigError(f"index_params must be a dict, got {params!r}")
    return dict(params)


def resolve(config: Any, stored: IndexChoice | None) -> IndexChoice:
    """The choice a store opens with: the config's ``index`` / ``index_params`` / ``metric``
    where given, else the recorded ones (params of another kind are not carried over)."""
    metric = check_metric(config.metric) if config.metric is not None else \
        (stored.metric if stored is not None else "cosine")
    if config.index is None:
        if config.index_params is not None and (stored is None or stored.kind is None):
            raise InvalidConfigError(
                f"config index_params {config.index_params!r} given without an index, and "
                "this store has none: add 'index': 'hnsw' (or 'faiss'), or drop index_params")
        if stored is None:
            return IndexChoice(None, {}, metric)
        params = _params(config.index_params) if config.index_params is not None else stored.params
        return IndexChoice(stored.kind, params, metric)
    kind = normalize_kind(config.index)
    if config.index_params is not None:
        params = _params(config.index_params)
    else:
        params = stored.params if stored is not None and stored.kind == kind else {}
    return IndexChoice(kind, params if kind is not None else {}, metric)


def requested(current: IndexChoice, index: str | None, index_params: Mapping[str, Any] | None,
              metric: str | None) -> IndexChoice:
    """The choice asked of ``rebuild_index``: None arguments keep the current value (params
    only for the same kind)."""
    kind = current.kind if index is None else normalize_kind(index)
    if kind is None and index is None:
        raise InvalidConfigError(
            "this store has no ANN index to rebuild; pass rebuild_index(index='hnsw') (or "
            "'faiss', with index_params) to build one")
    if index_params is not None:
        params = _params(index_params)
    else:
        params = current.params if kind == current.kind else {}
    return IndexChoice(kind, params if kind is not None else {},
                       check_metric(metric) if metric is not None else current.metric)


def validate(choice: IndexChoice, dim: int | None) -> None:
    """Build an empty index of ``choice`` to check its parameters (InvalidConfigError).

    Without ``dim`` (a store that has no vectors yet) an index is probed at
    ``_PROBE_DIM``, and an error that only says the probe dimension does not fit (a
    faiss ``PQ48`` needs a multiple of 48) is left for the first vectors to decide."""
    from shoal.indexes import create_index  # noqa: PLC0415

    if choice.kind is None:
        return
    try:
        create_index(choice.kind, dim or _PROBE_DIM, choice.metric, **choice.params)
    except InvalidConfigError as exc:
        if dim is None and _about_dimension(exc):
            return
        raise


def _about_dimension(exc: InvalidConfigError) -> bool:
    """Whether a backend refused the probe dimension rather than the parameters: a native
    error (faiss' RuntimeError) that is not a factory string faiss cannot parse."""
    cause = exc.__cause__
    return isinstance(cause, RuntimeError) and "could not parse" not in str(cause)


def check_requested(config: Any) -> None:
    """Check the ``index`` / ``index_params`` / ``metric`` a store config asks for before
    the store touches a file: an unknown backend, factory string, metric or parameter
    raises here (InvalidConfigError, UnknownBackendError), not at the first search
    after a long ``extend``. What depends on the store (its recorded choice, its
    dimension) is checked again when it is opened."""
    metric = check_metric(config.metric) if config.metric is not None else "cosine"
    if config.index is None:
        return
    kind = normalize_kind(config.index)
    params = _params(config.index_params) if config.index_params is not None else {}
    validate(IndexChoice(kind, params, metric), config.n_dim)


def describe(choice: IndexChoice, sync: Any) -> str:
    """One line for ``da.summary()``: kind, parameters, metric, and whether searches are
    exact until the store holds the vectors the index needs to train."""
    params = f" {choice.params}" if choice.params else ""
    text = f"{choice.kind or 'exact'}{params}, {choice.metric}"
    waiting = getattr(sync, "train_from", 0) if sync is not None and sync.index is None else 0
    if waiting:
        text += f" (searches exact until {waiting:,} vectors train it)"
    return text


def open_sync(store: Any, directory: str, choice: IndexChoice, block_size: int,
              show_progress: bool | None = None) -> Any:
    """An :class:`~shoal.docstore.indexing.IndexSync` for ``choice`` (None for no index)."""
    if choice.kind is None:
        return None
    from shoal.docstore.indexing import IndexSync  # noqa: PLC0415

    return IndexSync(store, directory, choice.kind, choice.params, choice.metric, block_size,
                     show_progress=show_progress)


def switch(store: Any, directory: str, choice: IndexChoice, block_size: int,
           record: Callable[[IndexChoice], None], show_progress: bool = True) -> Any:
    """Build ``choice`` beside ``directory``, ``record`` it, then swap it in; the new
    IndexSync (None for no index). On any error the old index directory is untouched."""
    validate(choice, store.stats()["dim"] or getattr(store.config, "n_dim", None))
    new_dir = directory + ".new"
    shutil.rmtree(new_dir, ignore_errors=True)
    sync = None
    try:
        if choice.kind is not None:
            from shoal.docstore.indexing import IndexSync  # noqa: PLC0415

            sync = IndexSync(store, new_dir, choice.kind, choice.params, choice.metric,
                             block_size, show_progress=show_progress, build=True)
            sync.save()
        record(choice)
    except BaseException:
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    old_dir = directory + ".old"
    shutil.rmtree(old_dir, ignore_errors=True)
    if os.path.exists(directory):
        os.replace(directory, old_dir)
    if sync is not None and os.path.exists(new_dir):
        os.replace(new_dir, directory)
    shutil.rmtree(old_dir, ignore_errors=True)
    shutil.rmtree(new_dir, ignore_errors=True)
    if sync is not None:
        sync.dir = directory
    return sync
