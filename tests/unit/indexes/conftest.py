"""Fixtures for the vector-index contract suite: small clustered data, every backend."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from index_helpers import DIM, N, clustered
from shoal.indexes import create_index


@pytest.fixture(scope="session")
def data() -> np.ndarray:
    return clustered(N, DIM, seed=1)


@pytest.fixture(scope="session")
def labels() -> np.ndarray:
    return np.arange(N, dtype=np.int64) * 7 + 3  # sparse, not 0..N-1


@pytest.fixture(scope="session")
def queries() -> np.ndarray:
    return clustered(40, DIM, seed=2)


BACKENDS: dict[str, tuple[str, dict]] = {
    "exact": ("exact", {}),
    "hnsw": ("hnsw", {"M": 12, "ef_construction": 100, "ef": 64, "capacity": 64}),
    "faiss-flat": ("faiss", {"factory": "Flat"}),
    "faiss-ivf": ("faiss", {"factory": "IVF8,Flat", "nprobe": 4}),
    "faiss-hnsw": ("faiss", {"factory": "HNSW32", "ef_search": 64}),
}
ANN = {"hnsw", "faiss-ivf", "faiss-hnsw"}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make(backend: str, data: np.ndarray) -> Callable[..., object]:
    """``make(metric='cosine', **overrides)`` -> a new empty (trained) index of ``backend``."""
    def build(metric: str = "cosine", dim: int = DIM, **overrides: object):
        name, params = BACKENDS[backend]
        index = create_index(name, dim, metric, **{**params, **overrides})
        if not index.is_trained:
            index.train(data if dim == DIM else clustered(N, dim))
        return index
    return build
