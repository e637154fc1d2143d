"""Search matches that hold only atomic values leave the cyclic GC (the C read path), and
every Document property that hands out or takes a container brings them back: a cycle
made through one is collected, on the C path and on the pure-Python one."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.document import accel, document

needs_c = pytest.mark.skipif(accel.fast is None, reason="shoal.document._fast is not built")


def _found(tmp_path, storage: str) -> list[Document]:
    rng = np.random.default_rng(0)
    if storage == "lmdb":
        da = DocumentArray(storage="lmdb", config={"path": str(tmp_path / "s"), "n_dim": 4,
                                                   "metric": "cosine"})
    else:
        da = DocumentArray()
    da.extend(Document(id=f"d{i}", text=f"t{i}", tags={"n": i, "s": "x"},
                       embedding=rng.random(4, dtype=np.float32)) for i in range(20))
    found = list(da.find(rng.random(4, dtype=np.float32), limit=5, metric="cosine"))
    if storage == "lmdb":
        da.close()
    return found


@needs_c
@pytest.mark.parametrize("storage", ["lmdb", "memory"])
def test_atomic_matches_are_untracked_until_a_container_is_handed_out(tmp_path, storage):
    found = _found(tmp_path, storage)
    assert len(found) == 5
    assert not any(gc.is_tracked(m) for m in found)
    m = found[0]
    assert m.text.startswith("t") and m.embedding.shape == (4,)  # atomic reads keep it out
    assert not gc.is_tracked(m)
    assert m.tags["s"] == "x"
    assert gc.is_tracked(m)


@needs_c
def test_a_match_holding_a_tracked_container_stays_tracked():
    m = Document(id="a", embedding=np.ones(4, dtype=np.float32))
    m.chunks.append(Document(text="c"))
    (match,), = accel.fast.score_matches([[1.0]], [[0]], [0], [m], None, "cosine",
                                         lambda d: d)
    assert match is m and gc.is_tracked(match)


@needs_c
def test_track_ignores_what_is_not_a_document():
    for x in (1, "s", [1], {"a": 1}, None):
        assert accel.fast.track(x) is None
    d = Document()
    accel.fast.track(d)
    assert gc.is_tracked(d)


class _TensorLike:
    """Something with a shape and a dtype (a framework tensor) that holds a reference."""
    shape, dtype = (1,), "float32"

    def __init__(self, held: object) -> None:
        self.held = held


MAKE_CYCLE = {
    "tags item": lambda m: m.tags.__setitem__("self", m),
    "tags set": lambda m: setattr(m, "tags", {"self": m}),
    "score ref_id": lambda m: setattr(m.scores["cosine"], "ref_id", m),
    "evaluation ref_id": lambda m: setattr(m.evaluations["x"], "ref_id", m),
    "chunk": lambda m: m.chunks.append(Document(tags={"parent": m})),
    "match": lambda m: m.matches.append(Document(tags={"query": m})),
    "chunks set": lambda m: setattr(m, "chunks", [Document(tags={"parent": m})]),
    "matches set": lambda m: setattr(m, "matches", [Document(tags={"query": m})]),
    "tensor": lambda m: setattr(m, "tensor", [m]),
    "text": lambda m: setattr(m, "text", [m]),
    "blob": lambda m: setattr(m, "blob", [m]),
    "content": lambda m: setattr(m, "content", _TensorLike(m)),
}


@pytest.mark.parametrize("make_cycle", MAKE_CYCLE.values(), ids=MAKE_CYCLE.keys())
def test_a_cycle_made_through_a_property_is_collected(tmp_path, read_path, make_cycle):
    found = _found(tmp_path, "lmdb")
    m = found[0]
    make_cycle(m)
    ref = weakref.ref(m)
    del m, found
    gc.collect()
    assert ref() is None


@needs_c
def test_without_the_hooks_such_a_cycle_would_leak(tmp_path, monkeypatch):
    """Pins that the matches really leave the GC (so the hooks above are what collects)."""
    found = _found(tmp_path, "lmdb")
    m = found[0]
    monkeypatch.setattr(document, "_track", lambda d: None)
    m.tags["self"] = m
    ref = weakref.ref(m)
    del m, found
    gc.collect()
    leaked = ref()
    assert leaked is not None
    accel.fast.track(leaked)  # hand it back to the collector, so the test does not leak
    del leaked
    gc.collect()
    assert ref() is None
