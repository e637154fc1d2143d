"""Shared fixtures: a DocumentArray factory parametrized over every storage backend."""
from __future__ import annotations

import itertools
import os

import pytest

from shoal import DocumentArray

STORAGES = ["memory", "sqlite", "lmdb", "postgres"]
_counter = itertools.count()


def _disk_config(storage: str, tmp_path) -> dict:
    n = next(_counter)
    if storage == "postgres":
        from shoal.docstore import pg_testing

        return {"connection": pg_testing.shared_server().url,
                "table_name": f"docs{os.getpid()}_{n}", "index_path": str(tmp_path / f"pgindex{n}")}
    if storage == "sqlite":
        return {"connection": str(tmp_path / f"store{n}.db"), "table_name": f"docs{n}"}
    return {"path": str(tmp_path / f"lmdb{n}"), "name": f"docs{n}"}


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    name = request.param
    if name != "memory":
        try:
            from shoal.document.store import open_store  # noqa: F401
            import shoal.docstore  # noqa: F401
            from shoal.document.store import _REGISTRY
        except ImportError as exc:  # pragma: no cover - until the backend lands
            pytest.skip(f"storage {name!r} not available: {exc}")
        if name not in _REGISTRY:
            pytest.skip(f"storage {name!r} is not registered")
        if name == "postgres":
            from shoal.docstore import pg_testing

            reason = pg_testing.unavailable()
            if reason:
                pytest.skip(reason)
    return name


@pytest.fixture
def make_da(storage, tmp_path):
    """``make_da(docs=None)`` -> a fresh DocumentArray on the parametrized storage."""
    opened = []

    def make(docs=None, **config):
        if storage == "memory":
            da = DocumentArray(docs, config=config or None)
        else:
            da = DocumentArray(docs, storage=storage, config={**_disk_config(storage, tmp_path), **config})
        opened.append(da)
        return da

    yield make
    for da in opened:
        try:
            da.close()
        except Exception:  # noqa: BLE001 - a test may have closed it already
            pass


@pytest.fixture(params=["c", "python"])
def read_path(request, monkeypatch) -> str:
    """The C speedups of the search read path (when built), then pure Python."""
    from shoal.document import accel

    if request.param == "c" and accel.fast is None:
        pytest.skip("shoal.document._fast is not built")
    if request.param == "python":
        monkeypatch.setattr(accel, "fast", None)
    return request.param
