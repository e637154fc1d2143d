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
            "the 'hnsw' index needs hnswlib (a shoal dependency) which is not installed: "
            "pip install 'hnswlib>=0.8,<0.9'"
        ) from exc
    return hnswlib


def import_faiss() -> ModuleType:
    try:
        import faiss  # noqa: PLC0415 - lazy on purpose
    except ImportError as exc:
        raise MissingExtraError(
            "the 'faiss' index needs faiss (a shoal dependency) which is not installed: "
            "pip install faiss-cpu (or faiss-gpu)"
        ) from exc
    return faiss
