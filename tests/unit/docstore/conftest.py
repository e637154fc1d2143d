"""Fixtures for the backend contract suite: a fresh array per storage, and a way to reopen it."""
from __future__ import annotations

import itertools
import os

import pytest

from shoal.docstore import pg_testing
from shoal.document.array import DocumentArray

#: 'postgres' runs only with SHOAL_TEST_POSTGRES=1 (a local server is started for the session)
BACKENDS = ["memory", "sqlite", "lmdb", "postgres"]
DISK = ["sqlite", "lmdb", "postgres"]
_n = itertools.count()
_run = os.getpid()


def postgres_url() -> str:
    """The session's local PostgreSQL server URL, or a skip saying why there is none."""
    reason = pg_testing.unavailable()
    if reason:
        pytest.skip(reason)
    return pg_testing.shared_server().url


def disk_config(storage: str, tmp_path, **extra) -> dict:
    n = next(_n)
    if storage == "postgres":
        return {"connection": postgres_url(), "table_name": f"c{_run}_{n}",
                "index_path": str(tmp_path / f"pgindex{n}"), **extra}
    if storage == "sqlite":
        return {"connection": str(tmp_path / f"s{n}.db"), "table_name": f"t{n}", **extra}
    return {"path": str(tmp_path / f"l{n}"), "name": f"a{n}", **extra}


class Opener:
    """Opens arrays of one storage; ``reopen(da)`` closes and opens the same store again."""

    def __init__(self, storage: str, tmp_path) -> None:
        self.storage = storage
        self.tmp_path = tmp_path
        self.opened: list[DocumentArray] = []
        self.configs: dict[int, dict] = {}

    def __call__(self, docs=None, **extra) -> DocumentArray:
        if self.storage == "memory":
            da = DocumentArray(docs, config={"on_duplicate": extra.pop("on_duplicate", "error")})
        else:
            cfg = disk_config(self.storage, self.tmp_path, **extra)
            da = DocumentArray(docs, storage=self.storage, config=cfg)
            self.configs[id(da)] = cfg
        self.opened.append(da)
        return da

    def config(self, da: DocumentArray) -> dict:
        return self.configs[id(da)]

    def reopen(self, da: DocumentArray) -> DocumentArray:
        if self.storage == "memory":
            return da
        cfg = self.configs[id(da)]
        da.close()
        new = DocumentArray(storage=self.storage, config=cfg)
        self.configs[id(new)] = cfg
        self.opened.append(new)
        return new

    def close_all(self) -> None:
        for da in self.opened:
            try:
                da.close()
            except Exception:  # noqa: BLE001 - a test may have closed or broken it on purpose
                pass


@pytest.fixture(params=BACKENDS)
def opener(request, tmp_path):
    if request.param == "postgres":
        postgres_url()
    o = Opener(request.param, tmp_path)
    yield o
    o.close_all()


@pytest.fixture(params=DISK)
def disk(request, tmp_path):
    if request.param == "postgres":
        postgres_url()
    o = Opener(request.param, tmp_path)
    yield o
    o.close_all()


@pytest.fixture
def make_config(tmp_path):
    """``make_config(storage, **extra)`` -> a fresh disk config in tmp_path."""
    return lambda storage, **extra: disk_config(storage, tmp_path, **extra)
