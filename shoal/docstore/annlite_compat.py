"""``storage='annlite'``: DocArray 0.21's AnnLite config, served by an LMDB store with an
HNSW index (AnnLite itself keeps Documents in LMDB beside an HNSW graph).

DocArray code carries over as it was written::

    da = DocumentArray(storage='annlite', config={
        'n_dim': 128, 'metric': 'cosine', 'data_path': './workspace',
        'ef_construction': 200, 'ef_search': 50, 'max_connection': 16,
        'columns': [('price', 'float')]})
    da.find(query, filter={'price': {'$lte': 50}}, limit=10)

Keys map to the LMDB store's: ``data_path`` -> ``path``, ``max_connection`` /
``ef_construction`` / ``ef_search`` -> the hnsw index's ``M`` / ``ef_construction`` /
``ef`` (AnnLite's defaults 16 / 200 / 50), ``n_dim`` (required, as in DocArray),
``metric`` and ``list_like`` as they are. ``columns`` names the tags AnnLite could filter
on; here a filter may name them bare, as in DocArray (``{'price': ...}`` is
``{'tags__price': ...}``) - any other tag is still reachable as ``tags__name``.
``serialize_config`` and ``root_id`` (DocArray's protobuf options, subindex ids) are
accepted and have no effect on this store's own record format. ``n_components``
(AnnLite's PCA) is refused with what to use instead, and so is a ``data_path`` that holds
AnnLite's own files (a store written by DocArray): it is not read as an empty array.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from shoal.errors import InvalidConfigError
from shoal.docstore.lmdb_store import LmdbStore

__all__ = ["AnnliteStore", "lmdb_config_of", "bare_columns", "COLUMN_TYPES"]

#: the column types DocArray's AnnLite storage takes
COLUMN_TYPES = ("str", "float", "int")
_KEYS = ("n_dim", "metric", "list_like", "serialize_config", "data_path", "ef_construction",
         "ef_search", "max_connection", "n_components", "columns", "root_id")
_DEFAULTS = {"max_connection": 16, "ef_construction": 200, "ef_search": 50}


def _columns(raw: Any) -> tuple[str, ...]:
    """The column names of DocArray's ``columns`` (a list of (name, type) or a dict)."""
    if raw is None:
        return ()
    pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
    try:
        names = []
        for name, kind in pairs:
            if not isinstance(name, str) or not name or kind not in COLUMN_TYPES:
                raise ValueError
            names.append(name)
    except (TypeError, ValueError):
        raise InvalidConfigError(
            f"annlite columns must be [(name, type), ...] or {{name: type}} with types "
            f"{', '.join(COLUMN_TYPES)}, got {raw!r}") from None
    return tuple(names)


def lmdb_config_of(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The LMDB store config for a DocArray AnnLite ``config``, and its column names."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise InvalidConfigError(
            f"unknown config key(s) {unknown} for storage 'annlite'; valid keys (DocArray's "
            f"AnnliteConfig): {', '.join(_KEYS)}")
    if config.get("n_dim") is None:
        raise InvalidConfigError(
            "storage 'annlite' needs config['n_dim'], the embedding dimension (as in DocArray)")
    if config.get("n_components") is not None:
        raise InvalidConfigError(
            "annlite n_components (PCA) is not supported; use storage='lmdb' with "
            "config={'index': 'faiss', 'index_params': {'factory': 'PCA64,HNSW32'}}")
    if not isinstance(config.get("serialize_config") or {}, Mapping):
        raise InvalidConfigError(
            f"serialize_config must be a dict, got {config['serialize_config']!r}")
    params = {k: config[k] if config.get(k) is not None else v for k, v in _DEFAULTS.items()}
    out: dict[str, Any] = {
        "n_dim": config["n_dim"], "metric": config.get("metric") or "cosine",
        "index": "hnsw", "index_params": {"M": params["max_connection"],
                                          "ef_construction": params["ef_construction"],
                                          "ef": params["ef_search"]}}
    if config.get("data_path") is not None:
        out["path"] = str(config["data_path"])
    if "list_like" in config:
        out["list_like"] = config["list_like"]
    return out, _columns(config.get("columns"))


def bare_columns(filter: Any, columns: tuple[str, ...]) -> Any:
    """``filter`` with each bare column name (DocArray AnnLite style) as ``tags__name``."""
    if not columns:
        return filter
    if isinstance(filter, list):
        return [bare_columns(f, columns) for f in filter]
    if not isinstance(filter, Mapping):
        return filter
    return {("tags__" + k if k in columns else k):
            (bare_columns(v, columns) if k.startswith("$") else v)
            for k, v in filter.items()}


def _written_by_annlite(path: str) -> bool:
    """Whether ``path`` holds AnnLite's own files (and no LMDB store of this one)."""
    return (os.path.isdir(os.path.join(path, "cell_0"))
            or os.path.exists(os.path.join(path, "offset2ids.db"))) \
        and not os.path.exists(os.path.join(path, "data.mdb"))


class AnnliteStore(LmdbStore):
    """An :class:`LmdbStore` with an hnsw index, opened from DocArray's AnnLite config,
    whose filters may name the configured columns bare (see the module doc)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        lmdb_config, self._columns = lmdb_config_of(config)
        path = lmdb_config.get("path")
        if path and _written_by_annlite(path):
            raise InvalidConfigError(
                f"data_path {path} holds an AnnLite store written by DocArray (cell_0/, "
                "offset2ids.db), which this store cannot read; load its Documents with "
                "DocArray and extend them into an array opened on another data_path")
        super().__init__(lmdb_config)

    def _filtered(self, filter: dict) -> np.ndarray:
        return super()._filtered(bare_columns(filter, self._columns))
