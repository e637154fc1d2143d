"""Vector indexes behind one protocol: ``'exact'``, ``'hnsw'`` (hnswlib), ``'faiss'``.

>>> from shoal.indexes import create_index
>>> index = create_index("hnsw", dim=128, metric="cosine", M=16)   # doctest: +SKIP
>>> index.add(labels, vectors); scores, labels = index.search(queries, k=10)  # doctest: +SKIP

hnswlib and faiss are imported only when an index of that kind is built.
"""
from __future__ import annotations

from shoal.indexes.base import VectorIndex
from shoal.indexes.exact import ExactConfig, ExactIndex, exact_search_blocks
from shoal.indexes.faiss_index import FaissConfig, FaissIndex
from shoal.indexes.hnsw import HnswConfig, HnswIndex
from shoal.indexes.persist import FORMAT_VERSION, read_meta
from shoal.indexes.refine import VectorSource, rerank
from shoal.indexes.registry import (
    ENTRY_POINT_GROUP, available_indexes, create_index, get_index_class, load_index,
    register_index, search_keywords,
)

__all__ = [
    "VectorIndex", "VectorSource",
    "create_index", "load_index", "register_index", "available_indexes", "get_index_class",
    "search_keywords",
    "ENTRY_POINT_GROUP", "FORMAT_VERSION", "read_meta",
    "ExactIndex", "ExactConfig", "exact_search_blocks",
    "HnswIndex", "HnswConfig",
    "FaissIndex", "FaissConfig",
    "rerank",
]
