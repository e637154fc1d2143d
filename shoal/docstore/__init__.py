"""Disk-backed document stores: ``DocumentArray(storage='sqlite' | 'lmdb', config=...)``.

Importing this package registers the backends with :func:`shoal.document.store.register_storage`.
Each backend module is imported only when a store of that kind is opened.
"""
from __future__ import annotations

from typing import Any

from shoal.document.store import register_storage

__all__ = ["SqliteStore", "LmdbStore", "open_sqlite", "open_lmdb"]


def open_sqlite(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.sqlite.SqliteStore`."""
    from shoal.docstore.sqlite import SqliteStore  # noqa: PLC0415

    return SqliteStore(config)


def open_lmdb(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.lmdb_store.LmdbStore`."""
    from shoal.docstore.lmdb_store import LmdbStore  # noqa: PLC0415

    return LmdbStore(config)


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        from shoal.docstore.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore
    if name == "LmdbStore":
        from shoal.docstore.lmdb_store import LmdbStore  # noqa: PLC0415

        return LmdbStore
    raise AttributeError(name)


register_storage("sqlite", open_sqlite)
register_storage("lmdb", open_lmdb)
