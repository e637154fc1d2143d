"""Reads that pair positions with rows see one snapshot: another process deleting
Documents between a filter's evaluation and the fetch of its rows (or between two pages
of an iteration) no longer yields Documents failing the filter, another Document's
score, a DocumentNotFoundError, or skipped Documents."""
from __future__ import annotations

import subprocess
import sys
import uuid

import numpy as np
import pytest

from shoal import Document, DocumentArray

pytestmark = pytest.mark.timeout(120)


def _config(storage: str, tmp_path) -> dict:
    if storage == "postgres":
        from shoal.docstore import pg_testing

        if pg_testing.unavailable() is not None:
            pytest.skip(str(pg_testing.unavailable()))
        return {"connection": pg_testing.shared_server().url,
                "table_name": f"snap_{uuid.uuid4().hex[:12]}"}
    if storage == "sqlite":
        return {"connection": str(tmp_path / "s.db")}
    return {"path": str(tmp_path / "l")}


def _delete_elsewhere(storage: str, config: dict, ids: list[str]) -> None:
    """Delete ``ids`` from another process (it commits before this returns)."""
    code = (f"from shoal import DocumentArray\n"
            f"da = DocumentArray(storage={storage!r}, config={config!r})\n"
            f"del da[{ids!r}]\nda.close()\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _vec(i: int) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[i % 8], v[(i // 8) % 8] = 1.0, 0.5
    return v


@pytest.fixture(params=["sqlite", "lmdb", "postgres"])
def shared(request, tmp_path):
    storage = request.param
    config = _config(storage, tmp_path)
    da = DocumentArray(storage=storage, config=config)
    da.extend(Document(id=f"f{i}", embedding=_vec(i), tags={"k": "filler"}) for i in range(40))
    da.extend(Document(id=f"t{i}", embedding=_vec(i), tags={"k": "target"}) for i in range(8))
    da.extend(Document(id=f"g{i}", embedding=_vec(i), tags={"k": "filler"}) for i in range(40))
    da.sync()
    yield storage, config, da
    da.close()


def test_filtered_find_pairs_positions_and_rows_from_one_snapshot(shared, monkeypatch):
    storage, config, da = shared
    store = da._store  # noqa: SLF001
    original = store._filtered  # noqa: SLF001
    fillers = [f"f{i}" for i in range(20)]

    def filtered_then_deleted_elsewhere(filter):
        rows = original(filter)
        if fillers:  # once: rows before the targets go while this search is under way
            _delete_elsewhere(storage, config, fillers)
            fillers.clear()
        return rows

    monkeypatch.setattr(store, "_filtered", filtered_then_deleted_elsewhere)
    target = {"tags__k": {"$eq": "target"}}
    found = da.find(_vec(3), limit=3, filter=target)
    assert found[0].id == "t3" and found[0].scores["cosine"].value == pytest.approx(0, abs=1e-6)
    assert all(m.tags["k"] == "target" for m in found)
    monkeypatch.setattr(store, "_filtered", original)
    assert len(da) == 88 - 20  # the other process' delete did land
    assert [d.id for d in da.find(filter=target, limit=50)] == [f"t{i}" for i in range(8)]


def test_filter_only_find_reads_the_rows_it_filtered(shared, monkeypatch):
    storage, config, da = shared
    store = da._store  # noqa: SLF001
    original = store.filter_positions
    fillers = [f"f{i}" for i in range(20)]

    def positions_then_deleted_elsewhere(filter):
        positions = original(filter)
        if fillers:
            _delete_elsewhere(storage, config, fillers)
            fillers.clear()
        return positions

    monkeypatch.setattr(store, "filter_positions", positions_then_deleted_elsewhere)
    found = da.find(filter={"tags__k": {"$eq": "target"}}, limit=50)
    assert [d.id for d in found] == [f"t{i}" for i in range(8)]


def test_iteration_skips_nothing_when_documents_before_it_are_deleted_elsewhere(shared):
    storage, config, da = shared
    seen = []
    for i, d in enumerate(da._store.iter_docs(block=10)):  # noqa: SLF001
        seen.append(d.id)
        if i == 25:  # in the third page: the first 20 rows go in another process
            _delete_elsewhere(storage, config, [f"f{j}" for j in range(20)])
    expected = ([f"f{i}" for i in range(40)] + [f"t{i}" for i in range(8)]
                + [f"g{i}" for i in range(40)])
    assert seen == expected
