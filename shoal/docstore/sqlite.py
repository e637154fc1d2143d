"""SQLite document store: ``DocumentArray(storage='sqlite', config={'connection': 'data.db'})``.

Schema (one table per array, several arrays per database; ``shoal_arrays`` holds each
array's format version, counters and write sequence number)::

    <table>        rowid, id UNIQUE, pos (indexed order key, dense 0..n-1), label (vector
                   column row, UNIQUE), flags, text, tags JSON, attrs JSON, doc BLOB
                   (shoal codec bytes), c_<tag> hot columns (indexed)
    <table>__dead  vector labels no longer used (deleted / replaced), with their seq
    <table>.<epoch>.vec   the vector column file next to the database

The engine, schema and filters are SQLAlchemy Core; the hot statements (get, extend)
run on the engine's DBAPI connection, which is where the per-call time goes.
Transactions are explicit (``with store.atomic():``, nested = savepoints), ``BEGIN
IMMEDIATE`` takes the write lock up front, WAL + ``synchronous=NORMAL``; a writer that
cannot get the lock within ``timeout`` seconds raises StoreLockedError. Reads outside a
transaction see every committed write (no reopen needed).

:class:`~shoal.docstore.postgres.PostgresStore` runs the same statements on PostgreSQL by
overriding the few driver-specific hooks (``_connect``, ``_setup``, ``_begin``,
``_committed``, ``_meta``, ``_new_column`` / ``_drop_column``, ``_compact``, ``_translate``,
``_row_by_id``, ``_rows_of_labels``).

Read fast paths: ``da[id]`` is one cached statement on a reused cursor and one tracked
decode (``tracking.materialize_one``); an unfiltered ``find`` maps the vector labels
found straight to rows in one statement per chunk of queries and decodes them untracked
(``vectors.find_matches``), while the next chunk is searched in a worker thread.
"""
from __future__ import annotations

import functools
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import (Column, Index, Integer, LargeBinary, MetaData, Table, Text,
                        create_engine, event)
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.pool import StaticPool

from shoal.document.codec import doc_to_bytes, dumps_json, loads_json
from shoal.document.document import Document
from shoal.errors import (BadInputError, CorruptStoreError, DocumentNotFoundError,
                          DuplicateIdError, EmptyArrayError, InvalidConfigError, StoreLockedError,
                          StoreNotWritableError, StoreVersionError)

from shoal.docstore.column import VectorColumn
from shoal.docstore.vectors import ColumnRewritten, find_matches, find_vectors
from shoal.docstore.config import SqliteConfig, parse_config
from shoal.docstore.filter_cache import FilterCache
from shoal.docstore.rows import IN_BLOB, Row, decode, encode, encode_many, stack_vectors
from shoal.docstore.sqlfilter import HOT_TYPES, hot_value, to_sql
from shoal.docstore.index_choice import IndexChoice, describe, open_sync, requested, resolve, switch
from shoal.docstore.sqlite_conn import on_connect, resolve as resolve_connection
from shoal.docstore.tracking import (FetchTracker, Stored, hint_unsaved_embeddings, match_documents,
                                     materialize, materialize_one, spread)
from shoal.docstore.util import (check_config_dim, check_open, duplicate_error, first_repeat, remove_file, runs,
                                 iter_docs, show_pending_rows)

__all__ = ["SqliteStore", "FORMAT_VERSION"]

#: on-disk format of a shoal sqlite array; bump with a migration in _MIGRATIONS
FORMAT_VERSION = 1
#: version -> function(store, raw connection) upgrading an array from that version
_MIGRATIONS: dict[int, Callable[[Any, sqlite3.Connection], None]] = {}
_CHUNK = 900  # ids / positions per IN (...) list
_DOC_COLS = "pos, id, label, flags, text, tags, doc"
_META_COLS = ("version", "count", "seq", "vec_rows", "n_dead", "dim", "epoch")


def _op(method: Callable) -> Callable:
    """Run a public method under the store lock, translating sqlite errors."""

    @functools.wraps(method)
    def wrapper(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return _translated(method, self, *args, **kwargs)

    return wrapper


def _translated(method: Callable, self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
    if self.closed:
        check_open(self, method.__name__)
    try:
        return method(self, *args, **kwargs)
    except self._DB_ERRORS as exc:
        err = self._translate(exc)
        if err is exc:
            raise
        raise err from exc


class SqliteStore:
    """A DocStore in a SQLite database (see the module docstring)."""

    name = "sqlite"
    persistent = True
    #: driver errors translated by _translate; the unique-violation error of the driver
    _DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.DatabaseError, SADatabaseError)
    _INTEGRITY: type[BaseException] = sqlite3.IntegrityError
    _DEAD_UPSERT = 'INSERT OR REPLACE INTO "{t}__dead" (label, seq) VALUES (?, ?)'
    _ROW_COLS = "rowid, id, label, flags, text, tags, attrs, doc"  # a row's stored columns

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = cfg = parse_config(SqliteConfig, config, self.name)
        self.on_duplicate = cfg.on_duplicate
        self.list_like = cfg.list_like
        self.hot = dict(cfg.columns)
        self._lock = threading.RLock()
        self._depth = 0
        self._snap = False  # in read_snapshot (the store lock is held)
        self._after_commit: list[Callable[[], None]] = []
        self._tx: dict[str, Any] | None = None
        self._meta_cache: dict[str, Any] | None = None
        self._data_version = -1
        self._sql_by_id: dict[str, str] = {}
        self.closed = False
        self.tracker = FetchTracker(cfg.track_fetched)
        self._filter_cache = FilterCache()
        self.t = cfg.table_name
        self._qt = f'"{self.t}"'
        self._sql_one = f"SELECT label, flags, text, tags, doc FROM {self._qt} WHERE id=?"
        self._connect(cfg)
        try:
            self._setup()
        except self._DB_ERRORS as exc:
            self._conn.close()
            self._engine.dispose()
            raise self._translate(exc) from exc
        except BaseException:
            self._conn.close()
            self._engine.dispose()
            raise
        self._index = None
        try:
            m = self._meta()
            check_config_dim(self.config, m["dim"], self.path)
            self.column = self._new_column(self._column_path(m["epoch"]), m["dim"], m["vec_rows"])
            self._open_index()
        except BaseException:
            self._conn.close()
            self._engine.dispose()
            raise

    # --- setup ---------------------------------------------------------------------------
    def _connect(self, cfg: SqliteConfig) -> None:
        """Open the engine, its one connection (autocommit) and the raw DBAPI handle."""
        self.path, url = resolve_connection(cfg.connection)
        self._engine = create_engine(
            url, poolclass=StaticPool,
            connect_args={"timeout": float(cfg.timeout), "check_same_thread": False,
                          "isolation_level": None})
        event.listen(self._engine, "connect", functools.partial(
            on_connect, journal=cfg.journal_mode, synchronous=str(cfg.synchronous).upper()))
        try:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.db: Any = self._conn.connection.driver_connection
            self._cur = self.db.cursor()  # reused by the single-id lookup (da[id])
        except (sqlite3.DatabaseError, SADatabaseError) as exc:
            self._engine.dispose()
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> Exception:
        msg = str(getattr(exc, "orig", None) or exc)
        low = msg.lower()
        if "locked" in low or "busy" in low:
            return StoreLockedError(
                f"the sqlite store {self.path} is locked by another writer and stayed locked for "
                f"more than timeout={self.config.timeout}s; retry later, or open it with a larger "
                "config['timeout']")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return CorruptStoreError(
                f"the sqlite store {self.path} is damaged ({msg}); restore it from a backup")
        if "unable to open" in low or "readonly" in low or "read-only" in low:
            return StoreNotWritableError(
                f"cannot open {self.path} for writing ({msg}); check the path and its permissions")
        return exc

    def _table(self) -> Table:
        md = MetaData()
        cols = [Column("rowid", Integer, primary_key=True),
                Column("id", Text, nullable=False, unique=True),
                Column("pos", Integer), Column("label", Integer), Column("flags", Integer),
                Column("text", Text), Column("tags", Text), Column("attrs", Text),
                Column("doc", LargeBinary)]
        cols += [Column("c_" + k, Text if v == "str" else Integer) for k, v in self.hot.items()]
        t = Table(self.t, md, *cols)
        Index(f"{self.t}__pos", t.c.pos)
        Index(f"{self.t}__label", t.c.label, unique=True)
        for k in self.hot:
            Index(f"{self.t}__c_{k}", t.c["c_" + k])
        Table(f"{self.t}__dead", md, Column("label", Integer, primary_key=True),
              Column("seq", Integer))
        Table("shoal_arrays", md, Column("name", Text, primary_key=True),
              *(Column(c, Integer) for c in _META_COLS), Column("config", Text))
        self._md = md
        return t

    def _setup(self) -> None:
        self.table = self._table()
        exists = self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('shoal_arrays', ?)",
            (self.t,)).fetchall()
        names = {r[0] for r in exists}
        row = None
        if "shoal_arrays" in names:
            row = self.db.execute("SELECT version, config FROM shoal_arrays WHERE name=?",
                                  (self.t,)).fetchone()
        if row is not None:
            self._saved = loads_json(row[1] or "{}")
            self._open_existing(row[0], self._saved)
            return
        if self.t in names:
            raise InvalidConfigError(
                f"table {self.t!r} in {self.path} exists but is not a shoal array; choose another "
                "table_name")
        self._saved = {"list_like": self.list_like, "columns": self.hot}
        with self.atomic(meta=False):
            self._md.create_all(self._conn)  # IF NOT EXISTS
            self.db.execute(
                "INSERT INTO shoal_arrays (name, version, count, seq, vec_rows, n_dead, dim, epoch,"
                " config) VALUES (?, ?, 0, 0, 0, 0, ?, 0, ?)",
                (self.t, FORMAT_VERSION, self.config.n_dim, dumps_json(self._saved)))

    def _open_existing(self, version: int, stored: dict[str, Any]) -> None:
        if version > FORMAT_VERSION:
            raise StoreVersionError(
                f"array {self.t!r} in {self.path} was written by a newer shoal (format "
                f"{version}, this version reads up to {FORMAT_VERSION}); upgrade shoal to open it")
        if version < FORMAT_VERSION:
            with self.atomic(meta=False):
                for v in range(version, FORMAT_VERSION):
                    _MIGRATIONS[v](self, self.db)
                self.db.execute("UPDATE shoal_arrays SET version=? WHERE name=?",
                                (FORMAT_VERSION, self.t))
        if bool(stored.get("list_like", True)) != self.list_like:
            raise InvalidConfigError(
                f"array {self.t!r} was created with list_like={stored.get('list_like')}; open it "
                "with the same setting")
        old_hot = dict(stored.get("columns", {}))
        merged = {**old_hot, **self.hot}
        if merged != old_hot:
            self._add_hot_columns({k: v for k, v in merged.items() if k not in old_hot}, merged)
        self.hot = merged
        self.table = self._table()

    def _add_hot_columns(self, new: dict[str, str], merged: dict[str, str]) -> None:
        """Declare more hot tags on an existing array: add, backfill and index the columns."""
        with self.atomic(meta=False):
            for k, kind in new.items():
                self.db.execute(f'ALTER TABLE {self._qt} ADD COLUMN "c_{k}" {HOT_TYPES[kind]}')
                rows = self.db.execute(
                    f"SELECT rowid, json_extract(tags, ?) FROM {self._qt} WHERE tags IS NOT NULL",
                    (f'$."{k}"',)).fetchall()
                self.db.executemany(f'UPDATE {self._qt} SET "c_{k}"=? WHERE rowid=?',
                                    [(hot_value(kind, v), r) for r, v in rows])
                self.db.execute(f'CREATE INDEX IF NOT EXISTS "{self.t}__c_{k}" ON {self._qt} ("c_{k}")')
            self._save_config(columns=merged)

    def _save_config(self, **changes: Any) -> None:
        """Merge ``changes`` into the array's recorded config (inside a transaction)."""
        row = self.db.execute("SELECT config FROM shoal_arrays WHERE name=?", (self.t,)).fetchone()
        saved = {**loads_json((row[0] if row else None) or "{}"), **changes}
        self.db.execute("UPDATE shoal_arrays SET config=? WHERE name=?", (dumps_json(saved), self.t))
        self._saved = saved

    # --- the ANN index ---------------------------------------------------------------------
    def _index_dir(self) -> str:
        if self.config.index_path:
            return os.path.join(os.path.abspath(self.config.index_path), f"{self.t}.index")
        return f"{self.path}.{self.t}.index"

    def _open_index(self) -> None:
        stored = IndexChoice.from_json(self._saved.get("index"))
        self._choice = resolve(self.config, stored)
        self._index = open_sync(self, self._index_dir(), self._choice, self.config.block_size)
        if stored != self._choice and (stored is not None or self._choice.kind is not None):
            self._record_choice(self._choice)

    def _record_choice(self, choice: IndexChoice) -> None:
        with self.atomic(meta=False):
            self._save_config(index=choice.to_json())

    def _column_path(self, epoch: int) -> str:
        return f"{self.path}.{self.t}.{epoch}.vec"

    def _new_column(self, path: str, dim: int | None, rows: int, writable: bool = True) -> Any:
        """The vector column of one generation (a file next to the database)."""
        return VectorColumn(path, dim, rows, writable=writable)

    def _drop_column(self, path: str) -> None:
        """Remove an old column generation (after the commit that replaced it)."""
        remove_file(path)

    # --- meta and transactions ------------------------------------------------------------
    def _read_meta(self) -> dict[str, Any]:
        row = self.db.execute(f"SELECT {', '.join(_META_COLS)} FROM shoal_arrays WHERE name=?",
                              (self.t,)).fetchone()
        if row is None:
            raise CorruptStoreError(f"array {self.t!r} lost its entry in shoal_arrays ({self.path})")
        return dict(zip(_META_COLS, row))

    def _meta(self) -> dict[str, Any]:
        """The array's counters: the open transaction's, or the latest committed ones."""
        if self._tx is not None:
            show_pending_rows(self)
            return self._tx
        dv = self.db.execute("PRAGMA data_version").fetchone()[0]
        if self._meta_cache is None or dv != self._data_version:
            self._meta_cache = self._read_meta()
            self._data_version = dv
            self._sync_column(self._meta_cache)
        return self._meta_cache

    def _sync_column(self, m: dict[str, Any]) -> None:
        col = getattr(self, "column", None)
        if col is None:
            return
        path = self._column_path(m["epoch"])
        if col.path != path:  # vacuum / clear elsewhere wrote a new generation
            col.close()
            self.column = self._new_column(path, m["dim"], m["vec_rows"], writable=False)
        else:
            col.dim = m["dim"]
            col.set_rows(m["vec_rows"])

    def _begin(self) -> None:
        """Start the outermost transaction holding the write lock (StoreLockedError on timeout)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from exc

    def _committed(self, m: dict[str, Any]) -> None:
        """After a commit: the committed counters become the cache."""
        self._meta_cache = m
        self._data_version = self.db.execute("PRAGMA data_version").fetchone()[0]
        self._sync_column(m)

    @contextmanager
    def atomic(self, meta: bool = True) -> Iterator[SqliteStore]:
        """One transaction (nested: a savepoint); all writes inside commit or roll back together."""
        with self._lock:
            if self.closed:
                check_open(self, "atomic")
            if self._depth:
                name = f"sp{self._depth}"
                self.db.execute(f"SAVEPOINT {name}")
                snapshot = dict(self._tx) if self._tx is not None else None
                pending = len(self._after_commit)
                self._depth += 1
                try:
                    yield self
                except BaseException:
                    self.db.execute(f"ROLLBACK TO {name}")
                    self.db.execute(f"RELEASE {name}")
                    if snapshot is not None:
                        self._tx.clear()  # in place: callers hold this dict
                        self._tx.update(snapshot)
                        show_pending_rows(self)  # the outer block's rows, not the savepoint's
                    del self._after_commit[pending:]  # e.g. an old column file stays
                    raise
                else:
                    self.db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                if meta:
                    self._tx = self._read_meta()
                    start = dict(self._tx)
                    self._sync_column(start)
                yield self
                if meta and self._tx != start:
                    self.column.flush()
                    m = self._tx
                    self.db.execute(
                        "UPDATE shoal_arrays SET count=?, seq=?, vec_rows=?, n_dead=?, dim=?, epoch=?"
                        " WHERE name=?", (m["count"], m["seq"], m["vec_rows"], m["n_dead"],
                                          m["dim"], m["epoch"], self.t))
                self.db.execute("COMMIT")
            except BaseException:
                try:
                    self.db.execute("ROLLBACK")
                except self._DB_ERRORS:
                    pass
                self._tx = None
                self._meta_cache = None
                if meta:
                    self._sync_column(start)  # not the rows the transaction wrote
                raise
            else:
                if meta:
                    self._committed(self._tx)
                for fn in self._after_commit:
                    fn()
            finally:
                self._depth = 0
                self._tx = None
                self._after_commit = []

    # --- reading rows ----------------------------------------------------------------------
    @property
    def _src(self) -> str:
        """The FROM source with a ``pos`` column (a numbered view when not list-like)."""
        if self.list_like:
            return self._qt
        hot = "".join(f', "c_{k}"' for k in self.hot)
        return (f"(SELECT {self._ROW_COLS}{hot}, "
                f"row_number() OVER (ORDER BY rowid) - 1 AS pos FROM {self._qt}) AS {self._qt}")

    def _rows_at(self, positions: Sequence[int], cols: str = _DOC_COLS) -> dict[int, tuple]:
        """Rows (first column pos) at ``positions``, keyed by position."""
        out: dict[int, tuple] = {}
        ps = sorted(set(positions))
        if not ps:
            return out
        src = self._src
        for lo, hi in runs(ps):
            if hi - lo >= 8 or not self.list_like:
                rows = self.db.execute(f"SELECT {cols} FROM {src} WHERE pos BETWEEN ? AND ?",
                                       (lo, hi)).fetchall()
                out.update((r[0], r) for r in rows)
            else:
                for p in range(lo, hi + 1):
                    r = self.db.execute(f"SELECT {cols} FROM {src} WHERE pos=?", (p,)).fetchone()
                    if r is not None:
                        out[r[0]] = r
        return out

    def _rows_by_ids(self, ids: Sequence[str], cols: str = "id, label, flags, text, tags, doc"
                     ) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        if len(ids) == 1:
            sql = self._sql_by_id.get(cols)
            if sql is None:
                sql = self._sql_by_id[cols] = f"SELECT {cols} FROM {self._qt} WHERE id=?"
            r = self._cur.execute(sql, (ids[0],)).fetchone()
            if r is not None:
                out[r[0]] = r
            return out
        uniq = list(dict.fromkeys(ids))
        for i in range(0, len(uniq), _CHUNK):
            part = uniq[i:i + _CHUNK]
            q = f"SELECT {cols} FROM {self._qt} WHERE id IN ({','.join('?' * len(part))})"
            out.update((r[0], r) for r in self.db.execute(q, part))
        return out

    def _row_by_id(self, doc_id: str) -> tuple | None:
        """The row ``(label, flags, text, tags, doc)`` of one id, or None: the ``da[id]``
        path, one cached statement on the reused cursor."""
        return self._cur.execute(self._sql_one, (doc_id,)).fetchone()

    def _materialize(self, rows: Sequence[tuple]) -> list[Document]:
        """Documents of rows ``(id, label, flags, text, tags, doc)``; column embeddings set."""
        docs = materialize(rows, self.tracker, self.column, self._meta)
        self._bound_tracker()
        return docs

    def _bound_tracker(self) -> None:
        """Past its capacity, the tracker's changes are written back and it starts over
        (after a read snapshot, not in it)."""
        if self.tracker.full() and not self._snap:
            self._sync_changed()
            self.tracker.clear()

    #: Opens read_snapshot's transaction (the first read inside fixes what it sees).
    _SNAPSHOT_BEGIN = "BEGIN"

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Hold the store lock and make every read inside see one committed state (or the
        open transaction): a search's filter, positions and Documents then agree while
        other processes write. Tracked changes are written back after it, not in it."""
        with self._lock:
            if self.closed:
                check_open(self, "read_snapshot")
            if self._depth or self._snap:
                yield
                return
            self.db.execute(self._SNAPSHOT_BEGIN)
            self._snap = True
            try:
                self.db.execute(f"SELECT 1 FROM {self._qt} LIMIT 1").fetchall()  # fix it now
                yield
            finally:
                self._snap = False
                self.db.execute("ROLLBACK")  # nothing was written
            self._bound_tracker()

    # --- DocStore: reads --------------------------------------------------------------------
    @_op
    def __len__(self) -> int:
        return self._meta()["count"]

    @_op
    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        return self.db.execute(f"SELECT 1 FROM {self._qt} WHERE id=?", (doc_id,)).fetchone() is not None

    @_op
    def get_at(self, positions: Sequence[int]) -> list[Document]:
        rows = self._rows_at(positions)
        try:
            return self._materialize([rows[p][1:] for p in positions])
        except KeyError as exc:
            raise DocumentNotFoundError(f"no Document at position {exc.args[0]}") from None

    @_op
    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        if len(ids) == 1:
            doc_id = ids[0]
            row = self._row_by_id(doc_id)
            if row is None:
                raise DocumentNotFoundError(f"no Document with id {doc_id!r} in this array")
            doc = materialize_one(doc_id, row, self.tracker, self.column, self._meta)
            if self.tracker.full():
                self._bound_tracker()
            return [doc]
        rows = self._rows_by_ids(ids)
        try:
            return self._materialize([rows[i] for i in ids])
        except KeyError as exc:
            raise DocumentNotFoundError(f"no Document with id {exc.args[0]!r} in this array") from None

    @_op
    def position_of(self, doc_id: str) -> int:
        if self.list_like:
            r = self.db.execute(f"SELECT pos FROM {self._qt} WHERE id=?", (doc_id,)).fetchone()
        else:
            r = self.db.execute(f"SELECT rowid FROM {self._qt} WHERE id=?", (doc_id,)).fetchone()
            if r is not None:
                r = self.db.execute(f"SELECT count(*) FROM {self._qt} WHERE rowid < ?", r).fetchone()
        if r is None:
            raise DocumentNotFoundError(f"no Document with id {doc_id!r} in this array")
        return r[0]

    @_op
    def ids_at(self, positions: Sequence[int]) -> list[str]:
        rows = self._rows_at(positions, "pos, id")
        return [rows[p][1] for p in positions]

    def iter_docs(self, block: int = 2048) -> Iterator[Document]:
        return iter_docs(self, block)

    # --- writing rows ------------------------------------------------------------------------
    def _insert_cols(self) -> str:
        """The columns of a new row, in the order of :meth:`_params`."""
        hot = "".join(f', "c_{k}"' for k in self.hot)
        return f"id, pos, label, flags, text, tags, attrs, doc{hot}"

    def _insert_sql(self) -> str:
        marks = ",".join("?" * (8 + len(self.hot)))
        return f"INSERT INTO {self._qt} ({self._insert_cols()}) VALUES ({marks})"

    def _insert_rows(self, params: Sequence[tuple]) -> None:
        """Insert new rows (:meth:`_params`) in the open transaction; the driver's
        IntegrityError on a duplicate id."""
        self.db.executemany(self._insert_sql(), params)

    def _hot_values(self, d: Document) -> tuple:
        tags = d._tags or {}
        return tuple(hot_value(kind, tags.get(k)) for k, kind in self.hot.items())

    def _append_vectors(self, rows: Sequence[Row], replacing: bool = False) -> list[int | None]:
        """Write the rows' vectors to the column (uncommitted); their labels, None if none.

        ``replacing``: the rows update existing Documents, so vectors of one new dimension
        (re-embedding with another model) switch the column to that dimension when the
        config does not fix ``n_dim``; new Documents of another dimension are refused.
        """
        m = self._tx
        dims = {r.vector.shape[0] for r in rows if r.vector is not None}
        if (replacing and m["dim"] and len(dims) == 1 and dims != {m["dim"]}
                and self.config.n_dim is None):
            self._switch_dim()
        vecs, idx = stack_vectors(rows, m["dim"])
        labels: list[int | None] = [None] * len(rows)
        if vecs is None:
            return labels
        if self.column.path != self._column_path(m["epoch"]):
            self._sync_column(m)
        self.column.writable = True
        start = m["vec_rows"]
        self.column.write(start, vecs)
        m["dim"] = self.column.dim
        m["vec_rows"] = start + len(idx)
        for j, i in enumerate(idx):
            labels[i] = start + j
        return labels

    def _switch_dim(self) -> None:
        """Move every column embedding into its Document's blob and start an empty column."""
        m = self._tx
        self._sync_column(m)
        rows = self.db.execute(
            f"SELECT rowid, label, flags, doc, id FROM {self._qt} WHERE label IS NOT NULL").fetchall()
        upd = []
        for start in range(0, len(rows), self.config.block_size):
            part = rows[start:start + self.config.block_size]
            vecs = self.column.take(np.array([r[1] for r in part], dtype=np.int64))
            for (rowid, _, flags, blob, doc_id), v in zip(part, vecs):
                if not flags & IN_BLOB:
                    d = decode(blob, None, None, doc_id)
                    d._embedding = v
                    blob = doc_to_bytes(d)
                upd.append((blob, flags | IN_BLOB, rowid))
        self.db.executemany(f"UPDATE {self._qt} SET label=NULL, flags=?, doc=? WHERE rowid=?",
                            [(f, b, r) for b, f, r in upd])
        self.db.execute(f'DELETE FROM "{self.t}__dead"')
        self._after_commit.append(functools.partial(self._drop_column, self._column_path(m["epoch"])))
        m.update(vec_rows=0, n_dead=0, dim=None, epoch=m["epoch"] + 1)
        self._sync_column(m)

    def _kill_labels(self, labels: Iterable[int | None]) -> None:
        dead = [(lab, self._tx["seq"] + 1) for lab in labels if lab is not None]
        if dead:
            self.db.executemany(self._DEAD_UPSERT.format(t=self.t), dead)
            self._tx["n_dead"] += len(dead)

    def _params(self, docs: Sequence[Document], rows: Sequence[Row], start_pos: int | None,
                labels: Sequence[int | None]) -> list[tuple]:
        hot = bool(self.hot)
        out = []
        for i, (d, r, lab) in enumerate(zip(docs, rows, labels)):
            p = (r.id, None if start_pos is None else start_pos + i, lab, IN_BLOB if r.in_blob else 0,
                 r.text, r.tags, r.attrs, r.blob)
            out.append(p + self._hot_values(d) if hot else p)
        return out

    def _raise_duplicate(self, ids: Sequence[str]) -> None:
        i = first_repeat(ids)
        if i is None:
            found = self._rows_by_ids(list(ids), "id")
            i = next((x for x in ids if x in found), ids[0])
        raise duplicate_error(i)

    @_op
    def extend(self, docs: Iterable[Document]) -> None:
        docs = docs if isinstance(docs, list) else list(docs)
        if not docs:
            return
        rows = encode_many(docs)
        with self.atomic():
            if self.on_duplicate == "overwrite":
                docs, rows = self._overwrite_existing(docs, rows)
                if not docs:
                    self._tx["seq"] += 1
                    return
            m = self._tx
            labels = self._append_vectors(rows)
            start = m["count"] if self.list_like else None
            try:
                with self.atomic():  # a savepoint, so the lookup below sees the store as it was
                    self._insert_rows(self._params(docs, rows, start, labels))
            except self._INTEGRITY:
                self._raise_duplicate([r.id for r in rows])
            m["count"] += len(rows)
            m["seq"] += 1

    def _overwrite_existing(self, docs: list[Document], rows: list[Row]
                            ) -> tuple[list[Document], list[Row]]:
        """Replace Documents whose id exists (in place); return the ones to append."""
        last = {r.id: i for i, r in enumerate(rows)}  # the last copy of an id wins
        existing = self._rows_by_ids(list(last), "id")
        keep_new: list[int] = []
        firsts: dict[str, int] = {}
        for i, r in enumerate(rows):
            if r.id not in existing and r.id not in firsts:
                firsts[r.id] = i
                keep_new.append(i)
        new_docs = [docs[last[rows[i].id]] for i in keep_new]
        new_rows = [rows[last[rows[i].id]] for i in keep_new]
        upd = [(i, docs[j], rows[j]) for i, j in last.items() if i in existing]
        if upd:
            self._update_rows(upd)
        return new_docs, new_rows

    def _update_rows(self, items: Sequence[tuple[str, Document, Row]]) -> None:
        """Rewrite the rows of ids ``items[k][0]`` with new Documents (inside a transaction)."""
        ids = [i for i, _, _ in items]
        old = self._rows_by_ids(ids, "id, label")
        missing = [i for i in ids if i not in old]
        if missing:
            raise DocumentNotFoundError(
                f"no Document with id {missing[0]!r} in this array; append it instead of updating")
        rows = [r for _, _, r in items]
        old_labels = [old[i][1] for i in ids]
        keep = self._reusable(rows, old_labels)
        fresh = [r if not k else r._replace(vector=None) for r, k in zip(rows, keep)]
        epoch = self._tx["epoch"]
        new_labels = self._append_vectors(fresh, replacing=True)
        if self._tx["epoch"] != epoch:  # the column was switched: old labels are gone
            old_labels = [None] * len(old_labels)
        labels = [ol if k else nl for ol, nl, k in zip(old_labels, new_labels, keep)]
        self._kill_labels(ol for ol, k in zip(old_labels, keep) if not k)
        hot = "".join(f', "c_{k}"=?' for k in self.hot)
        sql = (f"UPDATE {self._qt} SET id=?, label=?, flags=?, text=?, tags=?, attrs=?, doc=?{hot} "
               "WHERE id=?")
        params = [(r.id, lab, IN_BLOB if r.in_blob else 0, r.text, r.tags, r.attrs, r.blob,
                   *self._hot_values(d), i)
                  for (i, d, r), lab in zip(items, labels)]
        try:
            with self.atomic():
                self.db.executemany(sql, params)
        except self._INTEGRITY:
            self._raise_duplicate([r.id for r in rows])
        self._tx["seq"] += 1
        self.tracker.forget(ids)
        for (_, d, r), lab in zip(items, labels):
            self.tracker.add(d, Stored(r.blob, r.text, r.tags, lab))

    def _reusable(self, rows: Sequence[Row], old_labels: Sequence[int | None]) -> list[bool]:
        """For each row, whether its vector equals the stored one at its old label."""
        keep = [False] * len(rows)
        idx = [i for i, (r, ol) in enumerate(zip(rows, old_labels))
               if r.vector is not None and ol is not None]
        if idx:
            self._sync_column(self._tx)
            stored = self.column.take(np.array([old_labels[i] for i in idx], dtype=np.int64))
            for i, s in zip(idx, stored):
                v = rows[i].vector
                keep[i] = v.shape == s.shape and np.array_equal(v, s)
        return keep

    @_op
    def update_docs(self, docs: Sequence[Document]) -> None:
        """Write back Documents (matched by id) that were changed in place."""
        if not docs:
            return
        with self.atomic():
            self._update_rows([(d.id, d, encode(d)) for d in docs])

    @_op
    def set_at(self, positions: Sequence[int], docs: Sequence[Document]) -> None:
        if not positions:
            return
        rows = encode_many(docs)
        new_ids = [r.id for r in rows]
        with self.atomic():
            old = self._rows_at(positions, "pos, id, label, rowid")
            if len(set(new_ids)) != len(new_ids):
                self._raise_duplicate(new_ids)
            old_ids = {old[p][1] for p in positions}
            clash = self._rows_by_ids(new_ids, "id")
            dup = next((i for i in new_ids if i in clash and i not in old_ids), None)
            if dup is not None:
                raise DuplicateIdError(
                    f"cannot set: a Document with id {dup!r} is already in the array at another "
                    "position; delete it first or give the new Document another id")
            old_labels = [old[p][2] for p in positions]
            keep = self._reusable(rows, old_labels)
            fresh = [r if not k else r._replace(vector=None) for r, k in zip(rows, keep)]
            epoch = self._tx["epoch"]
            new_labels = self._append_vectors(fresh, replacing=True)
            if self._tx["epoch"] != epoch:
                old_labels = [None] * len(old_labels)
            labels = [ol if k else nl for ol, nl, k in zip(old_labels, new_labels, keep)]
            self._kill_labels(ol for ol, k in zip(old_labels, keep) if not k)
            self._delete_rowids([old[p][3] for p in positions])
            params = self._params(docs, rows, 0 if self.list_like else None, labels)
            if self.list_like:
                params = [(p[0], pos) + p[2:] for p, pos in zip(params, positions)]
            self._insert_rows(params)
            self._tx["seq"] += 1
            self.tracker.forget(old_ids)
            for d, r, lab in zip(docs, rows, labels):
                self.tracker.add(d, Stored(r.blob, r.text, r.tags, lab))

    def _delete_rowids(self, rowids: Sequence[int]) -> None:
        for i in range(0, len(rowids), _CHUNK):
            part = rowids[i:i + _CHUNK]
            self.db.execute(f"DELETE FROM {self._qt} WHERE rowid IN ({','.join('?' * len(part))})", part)

    @_op
    def insert(self, position: int, doc: Document) -> None:
        n = len(self)
        if not self.list_like and position != n:
            raise BadInputError("this array was opened with list_like=False: it has no positional "
                                "order, so Documents can only be appended")
        row = encode(doc)
        with self.atomic():
            labels = self._append_vectors([row])
            if self.list_like:
                self.db.execute(f"UPDATE {self._qt} SET pos = pos + 1 WHERE pos >= ?", (position,))
            try:
                self._insert_rows(self._params([doc], [row], position if self.list_like else None,
                                               labels))
            except self._INTEGRITY:
                raise DuplicateIdError(
                    f"a Document with id {doc.id!r} is already in the array; give it a new id") from None
            self._tx["count"] += 1
            self._tx["seq"] += 1

    @_op
    def delete_at(self, positions: Sequence[int]) -> None:
        if not positions:
            return
        ps = sorted(set(positions))
        with self.atomic():
            old = self._rows_at(ps, "pos, id, label, rowid")
            self._kill_labels(old[p][2] for p in ps)
            self._delete_rowids([old[p][3] for p in ps])
            if self.list_like:
                bounds = ps + [None]
                self.db.executemany(
                    f"UPDATE {self._qt} SET pos = pos - ? WHERE pos > ? AND pos < ?",
                    [(k + 1, ps[k], bounds[k + 1] if bounds[k + 1] is not None else 1 << 62)
                     for k in range(len(ps))])
            self._tx["count"] -= len(ps)
            self._tx["seq"] += 1
        self.tracker.forget(old[p][1] for p in ps)

    @_op
    def clear(self) -> None:
        with self.atomic():
            old_epoch = self._tx["epoch"]
            self.db.execute(f"DELETE FROM {self._qt}")
            self.db.execute(f'DELETE FROM "{self.t}__dead"')
            self._tx.update(count=0, vec_rows=0, n_dead=0, dim=self.config.n_dim,
                            epoch=old_epoch + 1, seq=self._tx["seq"] + 1)
            self._after_commit.append(functools.partial(self._drop_column, self._column_path(old_epoch)))
        self.tracker.clear()

    @_op
    def reorder(self, order: Sequence[int]) -> None:
        """Permute: position i gets the Document that was at ``order[i]``."""
        if not self.list_like:
            raise BadInputError("this array was opened with list_like=False and has no order to sort")
        with self.atomic():
            rowids = [r[0] for r in self.db.execute(f"SELECT rowid FROM {self._qt} ORDER BY pos")]
            self.db.executemany(f"UPDATE {self._qt} SET pos=? WHERE rowid=?",
                                [(i, rowids[o]) for i, o in enumerate(order)])
            self._tx["seq"] += 1

    # --- sync / close --------------------------------------------------------------------------
    def _vectors_at(self, labels: np.ndarray) -> np.ndarray:
        return self.column.take(labels)

    def _sync_changed(self) -> None:
        changed = self.tracker.changed(self._vectors_at)
        if changed:
            with self.atomic():
                # a Document deleted meanwhile (here or by another process) stays deleted
                alive = self._rows_by_ids([i for i, _, _ in changed], "id")
                changed = [c for c in changed if c[0] in alive]
                if changed:
                    self._update_rows(changed)

    @_op
    def sync(self) -> None:
        """Write back tracked Documents that were changed in place."""
        if not self.closed:
            self._meta()
            self._sync_changed()
            if self._index is not None:
                self._index.save(strict=False)

    @_op
    def close(self) -> None:
        if self.closed:
            return
        if self._index is not None:
            self._index.save(strict=False)
        self.closed = True
        self.tracker.clear()
        self._filter_cache.clear()
        self.column.close()
        self._conn.close()
        self._engine.dispose()

    # --- fast paths ------------------------------------------------------------------------------
    def _where(self, filter: dict) -> tuple[str, list[Any]]:
        dialect = getattr(self, "_sql_dialect", None) or self._engine.dialect
        expr = to_sql(self.table, filter, self.hot, dialect=dialect.name)
        compiled = expr.compile(dialect=dialect,
                                compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        return str(compiled), [params[k] for k in compiled.positiontup]

    def _filter_snapshot(self) -> Any:
        """The store state a filter's rows are kept for (see FilterCache): commits of
        every other connection (``data_version``, refreshed by ``_meta``), this
        connection's own changes and the array's write counters; None inside a
        transaction (nothing is kept)."""
        if self._depth:
            return None
        m = self._meta()
        return self._data_version, self.db.total_changes, m["seq"], m["epoch"]

    def _filtered(self, filter: dict) -> np.ndarray:
        """(position, label) rows of the Documents passing ``filter``, in position order,
        as an (n, 2) int64 array (label -1: no embedding). Kept for the snapshot read:
        the same filter on an unchanged store is not evaluated again."""
        key = self._filter_cache.key(filter)
        snapshot = self._filter_snapshot() if key is not None else None
        hit = self._filter_cache.get(key, snapshot)
        if hit is not None:
            return hit
        # read after the snapshot was taken: a write in between makes the next call a miss
        where, params = self._where(filter)
        found = self.db.execute(
            f"SELECT pos, coalesce(label, -1) FROM {self._src} WHERE {where} ORDER BY pos",
            params).fetchall()
        rows = np.array(found, dtype=np.int64).reshape(len(found), 2)
        self._filter_cache.put(key, snapshot, rows)
        return rows

    @_op
    def filter_positions(self, filter: dict) -> list[int]:
        return self._filtered(filter)[:, 0].tolist()

    @_op
    @hint_unsaved_embeddings
    def embeddings_at(self, positions: Sequence[int] | np.ndarray | None) -> np.ndarray | None:
        m = self._meta()
        if positions is None:
            if m["count"] == 0:
                return None
            labels = [r[0] for r in self.db.execute(f"SELECT label FROM {self._src} ORDER BY pos")]
        else:
            positions = np.asarray(positions, dtype=np.int64).tolist()
            rows = self._rows_at(positions, "pos, label")
            labels = [rows[p][1] for p in positions]
        missing = sum(1 for lab in labels if lab is None)
        if missing == len(labels):
            return None
        if missing:
            raise EmptyArrayError(
                f"{missing} of {len(labels)} Documents have no embedding; embed all of them (or "
                "select those that have one)")
        lab = np.asarray(labels, dtype=np.int64)
        if lab.size and lab[0] == 0 and lab[-1] == lab.size - 1 and np.all(np.diff(lab) == 1):
            return np.array(self.column.matrix()[: lab.size])
        return self.column.take(lab)

    @_op
    @hint_unsaved_embeddings
    def find_vectors(self, queries: np.ndarray, limit: int, metric: str = "cosine",
                     filter: dict | None = None, block_size: int | None = None,
                     **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-``limit`` (pre-filtered) as (scores, positions): the ANN index when configured
        for this metric, else exact over the vector column in ``block_size`` rows."""
        filtered = self._filtered(filter) if filter is not None else None
        return find_vectors(queries, limit, metric, meta=self._meta(), column=self.column,
                            block_size=block_size or self.config.block_size,
                            index=self._index, exact=self.in_write_transaction,
                            filtered=filtered, dead=lambda: self.dead_labels(None),
                            positions_of=self._positions_of_labels, params=params)

    def index_summary(self) -> str:
        """The vector index in one line, for ``da.summary()`` (see index_choice.describe)."""
        return describe(self._choice, self._index)

    @property
    def in_write_transaction(self) -> bool:
        """Whether an ``atomic()`` block is open: searches are then exact over the vector
        column, which shows the block's own rows (see LmdbStore.in_write_transaction)."""
        return self._depth > 0

    @property
    def default_metric(self) -> str:
        """The metric searches use when none is given: the configured (or recorded) one,
        which the ANN index is built for."""
        return self._choice.metric

    @hint_unsaved_embeddings
    def find_matches(self, queries: np.ndarray, limit: int, metric: str = "cosine",
                     filter: dict | None = None, metric_name: str | None = None,
                     only_id: bool = False, block_size: int | None = None,
                     **params: Any) -> list[list[Document]]:
        """:meth:`find_vectors`, returning match Documents with scores (see the DocStore
        protocol). An unfiltered search maps vector labels straight to rows (one query per
        chunk of queries), decodes them untracked with their embeddings read in one
        ``take``, and searches the next chunk of queries in a worker thread meanwhile. The
        store lock is taken only around the steps that need it (``vectors.find_matches``):
        the ANN searches of several threads run in parallel."""
        return _translated(find_matches, self, queries, limit, metric, filter, metric_name,
                           only_id, block_size, params)

    @_op
    def _match_docs_of_labels(self, labels: Sequence[int], epoch: int | None = None
                              ) -> tuple[list[Document | None], list[bool]]:
        """The Documents holding vector ``labels`` (sorted, unique), in that order, and
        which of them are new untracked objects (see ``tracking.match_documents``); None
        for a label freed since the search that found it (Document deleted or re-embedded).
        ColumnRewritten when the column is no longer at ``epoch`` (when given)."""
        found = self._rows_of_labels(labels)
        if epoch is not None and self._meta()["epoch"] != epoch:  # read after the rows:
            raise ColumnRewritten  # epochs only grow, so those rows are of ``epoch``
        if len(found) == len(labels):
            return match_documents([found[lab] for lab in labels], self.tracker, self.column,
                                   self._meta)
        absent = [lab for lab in labels if lab not in found]
        freed = self._count_freed(absent)
        if freed != len(absent):
            raise CorruptStoreError(
                f"{len(absent) - freed} vector labels have no Document in {self.path}; run "
                "da.rebuild_index()")
        keep = [i for i, lab in enumerate(labels) if lab in found]  # the rest freed since the search
        docs, fresh = match_documents([found[labels[i]] for i in keep], self.tracker,
                                      self.column, self._meta)
        return spread(docs, fresh, keep, len(labels))

    def _count_freed(self, labels: Sequence[int]) -> int:
        """How many of ``labels`` were freed (by deletes / re-embedding)."""
        return self.db.execute(
            f'SELECT COUNT(*) FROM "{self.t}__dead" WHERE label IN (SELECT value FROM json_each(?))',
            (dumps_json(list(labels)),)).fetchone()[0]

    def _rows_of_labels(self, labels: Sequence[int]) -> dict[int, tuple]:
        """label -> row ``(id, label, flags, text, tags, doc)`` of the Documents holding
        ``labels``: one statement (the labels go in as one JSON array)."""
        sql = (f"SELECT id, label, flags, text, tags, doc FROM {self._qt} "
               "WHERE label IN (SELECT value FROM json_each(?))")
        return {r[1]: r for r in self.db.execute(sql, (dumps_json(list(labels)),))}

    @_op
    def dead_labels(self, since_seq: int | None = None) -> np.ndarray:
        """Sorted vector labels freed (after write ``since_seq`` when given)."""
        sql = f'SELECT label FROM "{self.t}__dead"'
        rows = self.db.execute(sql + " WHERE seq > ? ORDER BY label", (since_seq,)) \
            if since_seq is not None else self.db.execute(sql + " ORDER BY label")
        return np.fromiter((r[0] for r in rows), np.int64)

    @_op
    def rebuild_index(self, index: str | None = None, index_params: dict[str, Any] | None = None,
                      metric: str | None = None, show_progress: bool = True) -> None:
        """Rebuild the ANN index from the vector column, or switch it: ``index`` ('hnsw',
        'faiss', 'faiss:IVF16,Flat', 'exact' / 'none' = no ANN index), ``index_params``,
        ``metric``; None keeps the current value. The choice is recorded in the store."""
        if self._depth:
            raise BadInputError("rebuild_index() cannot run inside atomic(); call it after the block")
        choice = requested(self._choice, index, index_params, metric)
        self._index = switch(self, self._index_dir(), choice, self.config.block_size,
                             self._record_choice, show_progress)
        self._choice = choice

    def _positions_of_labels(self, labels: np.ndarray) -> np.ndarray:
        uniq = np.unique(labels[labels >= 0]).tolist()
        found: dict[int, int] = {}
        for i in range(0, len(uniq), _CHUNK):
            part = uniq[i:i + _CHUNK]
            found.update(self.db.execute(
                f"SELECT label, pos FROM {self._src} WHERE label IN ({','.join('?' * len(part))})",
                part).fetchall())
        flat = [found.get(lab, -1) for lab in labels.ravel().tolist()]
        return np.asarray(flat, dtype=np.int64).reshape(labels.shape)

    # --- maintenance ------------------------------------------------------------------------------
    @_op
    def vacuum(self) -> None:
        """Reclaim the space of deleted Documents and replaced vectors (rewrites the files)."""
        if self._depth:
            raise BadInputError("vacuum() rewrites the files and cannot run inside atomic()")
        self.sync()
        with self.atomic():
            m = self._tx
            old_epoch = m["epoch"]
            live = [r[0] for r in self.db.execute(
                f"SELECT label FROM {self._qt} WHERE label IS NOT NULL ORDER BY label")]
            new = self._new_column(self._column_path(old_epoch + 1), m["dim"], 0)
            src = self.column
            self._sync_column(m)
            lab = np.asarray(live, dtype=np.int64)
            for start in range(0, lab.size, self.config.block_size):
                new.write(start, src.take(lab[start:start + self.config.block_size]))
            new.flush()
            new.close()
            self.db.executemany(f"UPDATE {self._qt} SET label=? WHERE label=?",
                                [(i, o) for i, o in enumerate(live) if i != o])
            self.db.execute(f'DELETE FROM "{self.t}__dead"')
            m.update(vec_rows=len(live), n_dead=0, epoch=old_epoch + 1, seq=m["seq"] + 1)
            self._after_commit.append(functools.partial(self._drop_column, self._column_path(old_epoch)))
        self.tracker.clear()
        self._compact()

    def _compact(self) -> None:
        """Give the freed pages back (after vacuum rewrote the rows and the column)."""
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def stats(self) -> dict[str, Any]:
        """Counters: count, seq, vec_rows, n_dead, dim, epoch, version."""
        with self._lock:
            return dict(self._meta())
