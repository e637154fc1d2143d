"""Validated, frozen configs of the disk stores (unknown keys are refused by name)."""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping

from shoal.errors import InvalidConfigError
from shoal.docstore.index_choice import check_requested

__all__ = ["SqliteConfig", "LmdbConfig", "parse_config"]

_DUPLICATE = ("error", "overwrite")
_HOT = ("float", "int", "str", "bool")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Common:
    list_like: bool = True
    on_duplicate: str = "error"
    n_dim: int | None = None
    block_size: int = 65536
    timeout: float = 30.0
    track_fetched: int = 50_000
    # ANN index (shoal.docstore.index_choice): None = what the store recorded last
    index: str | None = None
    index_params: Mapping[str, Any] | None = None
    metric: str | None = None

    def _validate(self) -> None:
        if not isinstance(self.list_like, bool):
            raise InvalidConfigError(f"list_like must be True or False, got {self.list_like!r}")
        if self.on_duplicate not in _DUPLICATE:
            raise InvalidConfigError(
                f"on_duplicate must be 'error' or 'overwrite' for a disk store, got {self.on_duplicate!r}")
        if self.n_dim is not None and (not _is_int(self.n_dim) or self.n_dim <= 0):
            raise InvalidConfigError(f"n_dim must be a positive integer, got {self.n_dim!r}")
        if not _is_int(self.block_size) or self.block_size <= 0:
            raise InvalidConfigError(f"block_size must be a positive integer, got {self.block_size!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or self.timeout < 0:
            raise InvalidConfigError(f"timeout must be a number of seconds >= 0, got {self.timeout!r}")
        if not _is_int(self.track_fetched) or self.track_fetched < 0:
            raise InvalidConfigError(
                f"track_fetched must be an integer >= 0 (0 = do not write back), got {self.track_fetched!r}")
        if self.index is not None and not isinstance(self.index, str):
            raise InvalidConfigError(f"index must be a backend name such as 'hnsw', got {self.index!r}")
        if self.index_params is not None and not isinstance(self.index_params, Mapping):
            raise InvalidConfigError(f"index_params must be a dict, got {self.index_params!r}")


@dataclass(frozen=True)
class SqliteConfig(_Common):
    """``connection``: a file path, a ``sqlite:///`` URL or a ``postgresql+psycopg://`` URL;
    ``table_name``: the array's name in that database; ``columns``: hot tags given their
    own indexed column (``{'price': 'float'}``, types float / int / str / bool);
    ``index_path``: directory for the ANN index (default: beside the sqlite file; for
    PostgreSQL a directory under the system temp dir); ``journal_mode`` and
    ``synchronous`` (``PRAGMA synchronous``: OFF / NORMAL / FULL / EXTRA; NORMAL keeps
    every commit through a crash of the process under WAL): sqlite only.

    DocArray 0.21's other sqlite keys are taken, so its configs open as they are:
    ``serialize_config`` (its protobuf options) and ``conn_config`` (its
    ``sqlite3.connect`` arguments) have no effect - this store keeps its own record format
    and connection settings - and ``root_id`` is accepted; ``table_name=None`` is
    ``'docs'``."""

    connection: str = ""
    table_name: str = "docs"
    columns: Mapping[str, str] = field(default_factory=dict)
    journal_mode: str = "WAL"
    synchronous: str = "NORMAL"
    index_path: str | None = None
    serialize_config: Mapping[str, Any] = field(default_factory=dict)
    conn_config: Mapping[str, Any] = field(default_factory=dict)
    root_id: bool = True

    def _validate(self) -> None:
        super()._validate()
        if self.table_name is None:  # DocArray's default
            object.__setattr__(self, "table_name", "docs")
        for key in ("serialize_config", "conn_config"):
            if not isinstance(getattr(self, key), Mapping):
                raise InvalidConfigError(f"{key} must be a dict, got {getattr(self, key)!r}")
        if str(self.synchronous).upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise InvalidConfigError(
                f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {self.synchronous!r}")
        if not isinstance(self.table_name, str) or not self.table_name.isidentifier():
            raise InvalidConfigError(
                f"table_name must be a plain identifier (letters, digits, _), got {self.table_name!r}")
        for k, v in dict(self.columns).items():
            if not isinstance(k, str) or not k.isidentifier() or v not in _HOT:
                raise InvalidConfigError(
                    f"columns maps tag names to one of {', '.join(_HOT)}, got {k!r}: {v!r}")
        if self.index_path is not None and not isinstance(self.index_path, (str, os.PathLike)):
            raise InvalidConfigError(f"index_path must be a directory path, got {self.index_path!r}")
        if str(self.journal_mode).upper() not in ("WAL", "DELETE", "TRUNCATE", "PERSIST"):
            raise InvalidConfigError(f"journal_mode must be WAL, DELETE, TRUNCATE or PERSIST, got {self.journal_mode!r}")


@dataclass(frozen=True)
class LmdbConfig(_Common):
    """``path``: a directory; ``name``: the array's name in it; ``map_size``: initial map
    size in bytes (grows by doubling when full); ``max_readers``: concurrent readers."""

    path: str = ""
    name: str = "docs"
    map_size: int = 1 << 30
    max_readers: int = 256

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.name, str) or not self.name or ":" in self.name:
            raise InvalidConfigError(f"name must be a non-empty string without ':', got {self.name!r}")
        if not _is_int(self.map_size) or self.map_size < (1 << 20):
            raise InvalidConfigError(f"map_size must be an integer >= 1 MiB, got {self.map_size!r}")
        if not _is_int(self.max_readers) or self.max_readers <= 0:
            raise InvalidConfigError(f"max_readers must be a positive integer, got {self.max_readers!r}")


def parse_config(cls: type, config: Mapping[str, Any] | None, backend: str) -> Any:
    """Build ``cls`` from ``config``; unknown keys raise InvalidConfigError naming the valid ones."""
    config = dict(config or {})
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(config) - set(names))
    if unknown:
        raise InvalidConfigError(
            f"unknown config key(s) {unknown} for storage {backend!r}; valid keys: {', '.join(sorted(names))}")
    if cls is SqliteConfig and backend == "postgres" and not config.get("connection"):
        raise InvalidConfigError(
            "storage 'postgres' needs config['connection'] = 'postgresql+psycopg://user@host/db'")
    if cls is SqliteConfig and not config.get("connection"):
        config["connection"] = os.path.join(tempfile.mkdtemp(prefix="shoal-"), "docs.db")
    if cls is LmdbConfig and not config.get("path"):
        config["path"] = tempfile.mkdtemp(prefix="shoal-lmdb-")
    cfg = cls(**config)
    cfg._validate()
    check_requested(cfg)  # before the store creates anything
    if cfg.index_params is not None and cfg.index is None and _is_new(cfg, backend):
        raise InvalidConfigError(
            f"config index_params {dict(cfg.index_params)!r} given without an index for a new "
            "store: add 'index': 'hnsw' (or 'faiss') to the config")
    return cfg


def _is_new(cfg: Any, backend: str) -> bool:
    """Whether the store's files do not exist yet (so it records no index to apply
    ``index_params`` to); False where that cannot be told here (a server database)."""
    if isinstance(cfg, LmdbConfig):
        return not os.path.exists(os.path.join(cfg.path, "data.mdb"))
    if backend != "sqlite":
        return False
    path = str(cfg.connection)
    if "://" in path:
        if not path.startswith("sqlite:///"):
            return False
        path = path[len("sqlite:///"):]
    return not os.path.exists(path)
