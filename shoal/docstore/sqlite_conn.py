"""SQLite connections for the store: a path or URL resolved, pragmas, the regexp function."""
from __future__ import annotations

import functools
import os
import re
import sqlite3
from typing import Any

from sqlalchemy import make_url

from shoal.errors import InvalidConfigError, StoreNotWritableError

__all__ = ["on_connect", "resolve"]


def on_connect(dbapi_conn: sqlite3.Connection, _record: Any, journal: str = "WAL",
               synchronous: str = "NORMAL") -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA journal_mode={journal}")
    cur.execute(f"PRAGMA synchronous={synchronous}")  # (validated by SqliteConfig)
    cur.execute("PRAGMA mmap_size=1073741824")  # reads from the page cache without read() calls
    cur.close()
    dbapi_conn.create_function("regexp", 2, _regexp, deterministic=True)


@functools.lru_cache(maxsize=256)
def _pattern(p: str) -> re.Pattern:
    return re.compile(p)


def _regexp(pattern: str, value: Any) -> int:
    return int(isinstance(value, str) and _pattern(pattern).search(value) is not None)


def resolve(connection: str) -> tuple[str, str]:
    """(file path, SQLAlchemy URL) of a path or a sqlite URL; creates the parent directory."""
    if "://" in connection:
        url = make_url(connection)
        if url.get_backend_name() != "sqlite":
            raise InvalidConfigError(
                f"storage 'sqlite' takes a file path or a sqlite:/// URL, got {url.get_backend_name()!r};"
                " other databases are not supported by this version")
        path = url.database or ""
    else:
        path = connection
    if not path or path == ":memory:":
        raise InvalidConfigError("the sqlite store needs a file path (':memory:' cannot hold the vector column)")
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreNotWritableError(f"cannot create the directory {parent}: {exc}") from exc
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise StoreNotWritableError(
            f"{path} is not writable; choose a path you can write or fix its permissions")
    return path, f"sqlite:///{path}"
