"""Disk-backed document stores: ``DocumentArray(storage='sqlite' | 'lmdb', config=...)``.

``storage='sqlite'`` with ``config={'connection': 'postgresql+psycopg://user@host/db'}``
(or ``storage='postgres'``) keeps the array in PostgreSQL, shared by many processes.

Importing this package registers the backends with :func:`shoal.document.store.register_storage`;
each backend module is imported only when a store of that kind is opened.

=================  ===============================================================
module             job
=================  ===============================================================
``sqlite``         :class:`SqliteStore` (SQLAlchemy engine / schema / filters, WAL)
``postgres``       :class:`PostgresStore`: the sqlite store's SQL on PostgreSQL (psycopg 3)
``pg_conn``        PostgreSQL URLs, advisory-lock keys, a ``?``-placeholder DBAPI wrapper
``pg_column``      the vector column as a table (PostgreSQL)
``lmdb_store``     :class:`LmdbStore` (named sub-databases, growing map)
``annlite_compat`` ``storage='annlite'``: DocArray 0.21's AnnLite config on an LMDB store + hnsw
``column``         the vector column: append-only float32 file, a row per label
``rows``           a Document as a stored row (codec bytes + text / tags / vector)
``tracking``       fetched Documents, written back on ``sync()`` when changed
``sqlfilter``      the filter language as SQL (json_extract, hot-tag columns)
``vectors``        exact / indexed vector search shared by the backends
``indexing``       an ANN index kept in step with the column by sequence numbers
``index_choice``   which index a store keeps (recorded in its meta); switching it
``config``         validated configs (unknown keys refused by name)
=================  ===============================================================

Persistence, plainly: ``da.extend``, ``da.append``, ``da[i] = doc``, ``del da[...]``,
``da[:, 'text'] = [...]``, ``da.embeddings = ...`` and ``embed`` / ``match`` write at once
(one transaction per call or batch). A Document *read* from a disk store is a copy;
changing it in place (``da[0].text = 'x'``) is written back by ``da.sync()``, by
``da.close()`` and when a ``with`` block exits - not before. While tracked (up to
``track_fetched`` Documents, default 50 000), reading the same id again returns the same
object. A Document passed to ``extend`` is copied at that moment: changing it later does
not change the store.

Beyond the DocStore protocol both stores offer ``atomic()`` (a transaction; nested =
savepoint; reads and searches inside it see its writes - searches are exact over the vector
column then, the ANN index takes committed rows only), ``vacuum()``, ``stats()``, ``dead_labels(since_seq)`` and
``rebuild_index(index=None, index_params=None, metric=None, show_progress=True)``: rebuild
the ANN index from the vector column, or switch its type / parameters / metric in place
(``'exact'`` drops it). A store records its index choice: reopening without
``config['index']`` keeps it; an index named in the config wins (and is recorded).
"""
from __future__ import annotations

from typing import Any

from shoal.document.store import register_storage

__all__ = ["SqliteStore", "LmdbStore", "PostgresStore", "open_sqlite", "open_lmdb", "open_postgres",
           "open_annlite"]


def open_sqlite(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.sqlite.SqliteStore`, or a
    :class:`shoal.docstore.postgres.PostgresStore` for a ``postgresql+psycopg://`` connection."""
    from shoal.docstore.pg_conn import is_postgres_url  # noqa: PLC0415

    if is_postgres_url((config or {}).get("connection")):
        return open_postgres(config)
    from shoal.docstore.sqlite import SqliteStore  # noqa: PLC0415

    return SqliteStore(config)


def open_postgres(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.postgres.PostgresStore` (``connection`` a PostgreSQL URL)."""
    from shoal.docstore.pg_conn import is_postgres_url  # noqa: PLC0415
    from shoal.docstore.postgres import PostgresStore  # noqa: PLC0415
    from shoal.errors import InvalidConfigError  # noqa: PLC0415

    conn = (config or {}).get("connection")
    if conn and not is_postgres_url(conn):
        raise InvalidConfigError(
            f"storage 'postgres' takes a postgresql+psycopg://user@host/db URL, got {conn!r}")
    return PostgresStore(config)


def open_lmdb(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.lmdb_store.LmdbStore`."""
    from shoal.docstore.lmdb_store import LmdbStore  # noqa: PLC0415

    return LmdbStore(config)


def open_annlite(config: dict[str, Any]) -> Any:
    """Build a :class:`shoal.docstore.annlite_compat.AnnliteStore` from DocArray's AnnLite
    config (``n_dim``, ``data_path``, ``max_connection``, ``ef_construction``, ...)."""
    from shoal.docstore.annlite_compat import AnnliteStore  # noqa: PLC0415

    return AnnliteStore(config)


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        from shoal.docstore.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore
    if name == "PostgresStore":
        from shoal.docstore.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore
    if name == "LmdbStore":
        from shoal.docstore.lmdb_store import LmdbStore  # noqa: PLC0415

        return LmdbStore
    raise AttributeError(name)


register_storage("sqlite", open_sqlite)
register_storage("lmdb", open_lmdb)
register_storage("postgres", open_postgres)
register_storage("annlite", open_annlite)
