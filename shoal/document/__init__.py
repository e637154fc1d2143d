"""Documents and arrays of Documents: the data structure everything in shoal passes around."""
from shoal.document.array import ChunkArray, DocumentArray, MatchArray
from shoal.document.dataclass import dataclass, field
from shoal.document.document import Document
from shoal.document.request import DataRequest
from shoal.document.score import NamedScore
from shoal.document.store import DocStore, register_storage

__all__ = ["Document", "DocumentArray", "ChunkArray", "MatchArray", "NamedScore",
           "DataRequest", "DocStore", "register_storage", "dataclass", "field"]
