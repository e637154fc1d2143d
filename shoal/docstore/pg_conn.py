"""PostgreSQL connections for the store: URL checks and a DBAPI wrapper taking ``?`` params.

The SQL of :class:`~shoal.docstore.sqlite.SqliteStore` is written with ``?`` placeholders
(sqlite3's style); :class:`PgDB` runs the same statements on a psycopg 3 connection by
rewriting them to psycopg's ``%s`` once per distinct statement.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from typing import Any, Iterable, Sequence

from sqlalchemy import make_url
from sqlalchemy.engine import URL

from shoal.errors import InvalidConfigError, MissingExtraError

__all__ = ["PgDB", "is_postgres_url", "pg_url", "lock_key", "default_index_dir"]


def is_postgres_url(connection: Any) -> bool:
    """True for ``postgresql://...`` / ``postgresql+psycopg://...`` (and ``postgres://``)."""
    if not isinstance(connection, str) or "://" not in connection:
        return False
    scheme = connection.split("://", 1)[0].lower()
    return scheme.split("+", 1)[0] in ("postgresql", "postgres")


def pg_url(connection: str) -> URL:
    """The SQLAlchemy URL with the psycopg (3) driver; MissingExtraError without psycopg."""
    if connection.lower().startswith("postgres://"):
        connection = "postgresql://" + connection.split("://", 1)[1]
    try:
        url = make_url(connection)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError
        raise InvalidConfigError(f"cannot parse the connection URL: {exc}") from exc
    driver = url.get_driver_name()
    if url.drivername == "postgresql" or driver in ("psycopg", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    elif driver != "psycopg":
        raise InvalidConfigError(
            f"PostgreSQL stores use the psycopg 3 driver; write the URL as "
            f"postgresql+psycopg://..., got driver {driver!r}")
    try:
        import psycopg  # noqa: F401, PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "a PostgreSQL store needs psycopg 3; pip install 'shoal[postgres]' "
            "(psycopg[binary])") from exc
    if not url.database:
        raise InvalidConfigError("the PostgreSQL URL names no database (postgresql+psycopg://host/DBNAME)")
    return url


def lock_key(url: URL, table: str) -> int:
    """A signed 64-bit advisory-lock key for one array of one database."""
    raw = hashlib.sha1(f"{url.database}\0{table}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


def default_index_dir(url: URL, table: str) -> str:
    """Where the ANN index of a PostgreSQL array is saved when ``index_path`` is not set:
    a directory per server / database / array under the system temp dir."""
    where = f"{url.host}:{url.port}/{url.database}/{table}"
    digest = hashlib.sha1(where.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), "shoal-pg-index", f"{table}-{digest}")


@functools.lru_cache(maxsize=1024)
def _pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgCursor:
    """A psycopg cursor that takes ``?`` statements."""

    __slots__ = ("_cur",)

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(_pyformat(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self._cur.executemany(_pyformat(sql), rows)


class PgDB:
    """The raw psycopg connection with sqlite3's ``execute`` / ``executemany`` surface."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.cursor().execute(_pyformat(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        PgCursor(self.raw.cursor()).executemany(sql, rows)

    def cursor(self) -> PgCursor:
        return PgCursor(self.raw.cursor())
