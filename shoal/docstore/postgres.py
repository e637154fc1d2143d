"""PostgreSQL document store: ``DocumentArray(storage='sqlite' | 'postgres',
config={'connection': 'postgresql+psycopg://user@host/db', 'table_name': 'docs'})``.

The same store as :class:`~shoal.docstore.sqlite.SqliteStore` (same statements, row
format, tracking, filters and index sync) over a psycopg 3 connection, so many worker
processes or machines can share one array. What differs:

- schema: ``tags`` is kept verbatim as TEXT (Documents read back exactly as written) with
  a generated ``jtags JSONB`` copy that filters read; ``attrs`` is JSONB; filters are the
  same filter AST compiled for PostgreSQL (:func:`shoal.docstore.sqlfilter.to_sql`);
- the vector column is the table ``<table>__vec`` (:class:`~shoal.docstore.pg_column.PgColumn`),
  written in the batch's transaction and read in ``block_size`` label ranges;
- writers of one array are serialised by a transaction-scoped advisory lock; a writer
  that waits longer than ``timeout`` seconds gets StoreLockedError. Reads run in
  autocommit mode and see every committed write;
- the ANN index (``config['index']``) is saved in ``config['index_path']``, by default a
  directory per server / database / array under the system temp dir. Each process keeps
  its own copy, caught up from the shared column by sequence numbers;
- ``$regex`` is PostgreSQL's ``~`` on the Python pattern translated to its dialect
  (``\\b`` -> ``\\y``, named groups; see ``sqlfilter.postgres_regex``), so it matches what
  Python ``re`` matches in SQLite, LMDB and memory; POSIX ``[[:digit:]]`` classes, which
  the two read differently, are refused on every store.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import (BigInteger, Column, Computed, Double, Index, LargeBinary, MetaData,
                        Table, Text, create_engine)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.psycopg import dialect as PsycopgDialect
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError as SAOperationalError
from sqlalchemy.pool import NullPool

from shoal.document.codec import dumps_json, loads_json
from shoal.errors import (BadInputError, CorruptStoreError, InvalidConfigError, StoreError,
                          StoreLockedError)

from shoal.docstore.config import SqliteConfig
from shoal.docstore.pg_column import PgColumn
from shoal.docstore.pg_conn import PgDB, default_index_dir, lock_key, pg_url
from shoal.docstore.sqlfilter import hot_value
from shoal.docstore.sqlite import _META_COLS, FORMAT_VERSION, SqliteStore
from shoal.docstore.util import show_pending_rows

__all__ = ["PostgresStore"]

_CREATE_LOCK = 0x5E0A1  # advisory-lock key held while creating an array's tables
_PG_HOT = {"float": "DOUBLE PRECISION", "int": "BIGINT", "str": "TEXT", "bool": "BIGINT"}


def _driver_errors() -> tuple[type[BaseException], ...]:
    import psycopg  # noqa: PLC0415

    return (psycopg.Error, SADatabaseError)


def _integrity_error() -> type[BaseException]:
    import psycopg  # noqa: PLC0415

    return psycopg.IntegrityError


class PostgresStore(SqliteStore):
    """A DocStore in a PostgreSQL database (see the module docstring)."""

    name = "postgres"
    _DEAD_UPSERT = ('INSERT INTO "{t}__dead" (label, seq) VALUES (?, ?) '
                    "ON CONFLICT (label) DO UPDATE SET seq = EXCLUDED.seq")
    _ROW_COLS = "rowid, id, label, flags, text, tags, jtags, attrs, doc"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        type(self)._DB_ERRORS = _driver_errors()
        type(self)._INTEGRITY = _integrity_error()
        super().__init__(config)

    # --- connection -----------------------------------------------------------------------
    def _connect(self, cfg: SqliteConfig) -> None:
        _check_identifiers(cfg)
        self._url = url = pg_url(cfg.connection)
        self.path = url.render_as_string(hide_password=True)
        self._lock_key = lock_key(url, self.t)
        self._sql_dialect = PsycopgDialect(paramstyle="qmark")
        self._engine = create_engine(url, poolclass=NullPool,
                                     connect_args={"connect_timeout": max(1, int(cfg.timeout))})
        try:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SAOperationalError as exc:
            self._engine.dispose()
            raise StoreError(
                f"cannot connect to PostgreSQL at {self.path} ({str(exc.orig).strip()}); check "
                "the URL, that the server runs and that the database exists") from exc
        self.db = PgDB(self._conn.connection.driver_connection)
        self._cur = self.db.cursor()

    def _translate(self, exc: Exception) -> Exception:
        import psycopg  # noqa: PLC0415

        orig = getattr(exc, "orig", None) or exc
        if isinstance(orig, psycopg.errors.LockNotAvailable):
            return StoreLockedError(
                f"array {self.t!r} in {self.path} is locked by another writer and stayed locked "
                f"for more than timeout={self.config.timeout}s; retry later, or open it with a "
                "larger config['timeout']")
        if isinstance(orig, psycopg.DataError):
            return BadInputError(
                f"PostgreSQL cannot store a value of this batch ({str(orig).strip()}); e.g. NUL "
                "characters in text or NaN / Infinity in tags are not allowed there - clean the "
                "Documents (nothing of this batch was written)")
        if isinstance(orig, psycopg.errors.DataCorrupted):
            return CorruptStoreError(f"PostgreSQL reports damaged data in {self.path}: {orig}")
        return exc

    # --- schema ---------------------------------------------------------------------------
    def _table(self) -> Table:
        md = MetaData()
        cols = [Column("rowid", BigInteger, primary_key=True, autoincrement=True),
                Column("id", Text, nullable=False, unique=True),
                Column("pos", BigInteger), Column("label", BigInteger), Column("flags", BigInteger),
                Column("text", Text), Column("tags", Text),
                Column("jtags", JSONB, Computed("CAST(tags AS jsonb)", persisted=True)),
                Column("attrs", JSONB), Column("doc", LargeBinary)]
        cols += [Column("c_" + k, Text if v == "str" else Double if v == "float" else BigInteger)
                 for k, v in self.hot.items()]
        t = Table(self.t, md, *cols)
        Index(f"{self.t}__pos", t.c.pos)
        Index(f"{self.t}__label", t.c.label, unique=True)
        for k in self.hot:
            Index(f"{self.t}__c_{k}", t.c["c_" + k])
        Table(f"{self.t}__dead", md, Column("label", BigInteger, primary_key=True),
              Column("seq", BigInteger))
        Table(f"{self.t}__vec", md, Column("epoch", BigInteger, primary_key=True),
              Column("label", BigInteger, primary_key=True), Column("vec", LargeBinary))
        Table("shoal_arrays", md, Column("name", Text, primary_key=True),
              *(Column(c, BigInteger) for c in _META_COLS), Column("config", Text))
        self._md = md
        return t

    def _exists(self, name: str) -> bool:
        return self.db.execute("SELECT to_regclass(?)", (f'"{name}"',)).fetchone()[0] is not None

    def _saved_row(self) -> tuple | None:
        if not self._exists("shoal_arrays"):
            return None
        return self.db.execute("SELECT version, config FROM shoal_arrays WHERE name=?",
                               (self.t,)).fetchone()

    def _setup(self) -> None:
        self.table = self._table()
        row = self._saved_row()  # opening an existing array takes no lock
        if row is None:
            self._create()
            row = self._saved_row()
        if row is None:
            raise CorruptStoreError(f"array {self.t!r} lost its entry in shoal_arrays ({self.path})")
        self._saved = loads_json(row[1] or "{}")
        self._open_existing(row[0], self._saved)

    def _create(self) -> None:
        with self.atomic(meta=False):  # under the array's lock: one process creates it
            # and under a database-wide one: arrays created at once share shoal_arrays
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (_CREATE_LOCK,))
            if self._saved_row() is None:
                if self._exists(self.t):
                    raise InvalidConfigError(
                        f"table {self.t!r} in {self.path} exists but is not a shoal array; "
                        "choose another table_name")
                self._md.create_all(self._conn)
                self.db.execute(
                    "INSERT INTO shoal_arrays (name, version, count, seq, vec_rows, n_dead, dim,"
                    " epoch, config) VALUES (?, ?, 0, 0, 0, 0, ?, 0, ?)",
                    (self.t, FORMAT_VERSION, self.config.n_dim,
                     dumps_json({"list_like": self.list_like, "columns": self.hot})))

    def _add_hot_columns(self, new: dict[str, str], merged: dict[str, str]) -> None:
        with self.atomic(meta=False):
            for k, kind in new.items():
                self.db.execute(f'ALTER TABLE {self._qt} ADD COLUMN IF NOT EXISTS "c_{k}" {_PG_HOT[kind]}')
                rows = self.db.execute(
                    f"SELECT rowid, jtags -> ? FROM {self._qt} WHERE jtags IS NOT NULL", (k,)).fetchall()
                self.db.executemany(f'UPDATE {self._qt} SET "c_{k}"=? WHERE rowid=?',
                                    [(hot_value(kind, v), r) for r, v in rows])
                self.db.execute(f'CREATE INDEX IF NOT EXISTS "{self.t}__c_{k}" ON {self._qt} ("c_{k}")')
            self._save_config(columns=merged)

    # --- reads -----------------------------------------------------------------------------
    def _rows_by_ids(self, ids: Any, cols: str = "id, label, flags, text, tags, doc") -> dict[str, tuple]:
        """As the sqlite store; Documents read (``da[id]``, ``da[[ids]]``) come with their
        column vectors in the same round trip, kept for :class:`PgColumn` ``row`` / ``take``."""
        names = cols.split(", ")
        if "label" not in names or (len(ids) != 1 and "doc" not in names):
            return super()._rows_by_ids(ids, cols)
        one = len(ids) == 1  # "= ?": a cached generic plan ("= ANY(?)" is planned anew each time)
        key = ("+vec1 " if one else "+vec ") + cols
        sql = self._sql_by_id.get(key)
        if sql is None:
            qual = ", ".join(f"d.{c}" for c in names)
            sql = self._sql_by_id[key] = (
                f'SELECT {qual}, v.vec FROM {self._qt} AS d LEFT JOIN "{self.t}__vec" AS v '
                f"ON v.epoch = ? AND v.label = d.label WHERE d.id {'= ?' if one else '= ANY(?)'}")
        col = self.column
        rows = self._cur.execute(sql, (col.epoch, ids[0] if one else list(dict.fromkeys(ids)))).fetchall()
        li = names.index("label")
        col.prefetch([(r[li], r[-1]) for r in rows if r[-1] is not None and r[li] is not None])
        return {r[0]: r[:-1] for r in rows}

    def _row_by_id(self, doc_id: str) -> tuple | None:
        row = self._rows_by_ids([doc_id]).get(doc_id)
        return None if row is None else row[1:]

    def _count_freed(self, labels: Any) -> int:
        return self.db.execute(f'SELECT COUNT(*) FROM "{self.t}__dead" WHERE label = ANY(?)',
                               (list(labels),)).fetchone()[0]

    def _rows_of_labels(self, labels: Any) -> dict[int, tuple]:
        """As the sqlite store: one statement, the labels as one array parameter."""
        return {r[1]: r for r in self.db.execute(
            f"SELECT id, label, flags, text, tags, doc FROM {self._qt} WHERE label = ANY(?)",
            (list(labels),))}

    # --- writes ------------------------------------------------------------------------------
    def _insert_rows(self, params: Any) -> None:
        """New rows with one ``COPY`` (several times faster than an INSERT per row)."""
        with self.db.raw.cursor().copy(f"COPY {self._qt} ({self._insert_cols()}) FROM STDIN") as cp:
            write = cp.write_row
            for p in params:
                write(p)

    # --- the vector column ----------------------------------------------------------------
    def _column_path(self, epoch: int) -> str:
        return f"pg:{self.t}:{epoch}"

    def _new_column(self, path: str, dim: int | None, rows: int, writable: bool = True) -> Any:
        return PgColumn(self.db, self.t, path, dim, rows, writable=writable)

    def _drop_column(self, path: str) -> None:
        self.db.execute(f'DELETE FROM "{self.t}__vec" WHERE epoch=?', (int(path.rsplit(":", 1)[1]),))

    def _index_dir(self) -> str:
        if self.config.index_path:
            return super()._index_dir()
        return default_index_dir(self._url, self.t)

    # --- transactions -----------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        if self._tx is not None:
            show_pending_rows(self)
            return self._tx
        m = self._read_meta()
        self._sync_column(m)
        return m

    def _filter_snapshot(self) -> None:
        """Filter results are not kept: PostgreSQL offers no cheap "changed since" counter
        that covers other sessions' commits (see SqliteStore._filter_snapshot)."""
        return None

    #: A snapshot for every statement of read_snapshot (READ COMMITTED takes one each).
    _SNAPSHOT_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def _begin(self) -> None:
        import psycopg  # noqa: PLC0415

        ms = max(1, int(float(self.config.timeout) * 1000))
        self.db.execute("BEGIN")
        try:
            self.db.execute(f"SET LOCAL lock_timeout = '{ms}ms'")
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_key,))
        except psycopg.Error as exc:
            self.db.execute("ROLLBACK")
            raise self._translate(exc) from exc

    def _committed(self, m: dict[str, Any]) -> None:
        self._sync_column(m)

    def _compact(self) -> None:
        epoch = self._meta()["epoch"]
        self.db.execute(f'DELETE FROM "{self.t}__vec" WHERE epoch <> ?', (epoch,))
        for name in (self.t, f"{self.t}__vec", f"{self.t}__dead"):
            self.db.execute(f'VACUUM "{name}"')


#: PostgreSQL's longest identifier (NAMEDATALEN - 1 bytes).
_MAX_IDENTIFIER = 63


def _check_identifiers(cfg: SqliteConfig) -> None:
    """InvalidConfigError for a table_name (or hot column) whose tables and indexes would
    exceed PostgreSQL's identifier length (``<table>__label``, ``<table>__c_<tag>``)."""
    suffixes = ["__label", *(f"__c_{k}" for k in dict(cfg.columns))]
    longest = max(suffixes, key=len)
    if len(cfg.table_name.encode()) + len(longest.encode()) > _MAX_IDENTIFIER:
        room = _MAX_IDENTIFIER - len(longest.encode())
        raise InvalidConfigError(
            f"table_name {cfg.table_name!r} is too long for PostgreSQL: its "
            f"{cfg.table_name + longest!r} would pass {_MAX_IDENTIFIER} bytes; use at most "
            f"{room} characters")
