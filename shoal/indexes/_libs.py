"""Lazy imports of the heavy index libraries, with an error that says what to install."""
from __future__ import annotations

from types import ModuleType

from shoal.errors import MissingExtraError

__all__ = ["import_hnswlib", "import_faiss"]


def import_hnswlib() -> ModuleType:
    try:
        import hnswlib  # noqa: PLC0415 - lazy on purpose
    except ImportError as exc:
        raise MissingExtraError(
            "the 'hnsw' index needs hnswlib: pip install hnswlib (or pip install 'shoal[all]')"
        ) from exc
    return hnswlib


def import_faiss() -> ModuleType:
    try:
        import faiss  # noqa: PLC0415 - lazy on purpose
    except ImportError as exc:
        raise MissingExtraError(
            "the 'faiss' index needs faiss: pip install faiss-cpu (or pip install 'shoal[all]')"
        ) from exc
    return faiss
