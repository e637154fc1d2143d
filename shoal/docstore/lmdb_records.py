"""The LMDB record of one Document and the view filters evaluate over it.

A record is ``header (label, flags, lengths) + id + text + tags JSON + attrs JSON + codec
bytes``: a filter scan reads the header and the small JSON parts, never the codec bytes
or the embedding (which lives in the vector column).
"""
from __future__ import annotations

import json
import struct
from typing import Any

from shoal.errors import CorruptStoreError

from shoal.docstore.rows import IN_BLOB, Row

__all__ = ["pack", "unpack", "FilterView", "Q", "QQ", "key"]

_HEAD = struct.Struct("<qBIIII")  # label (-1: none), flags, len id / text / tags / attrs
_NONE = 0xFFFFFFFF
Q = struct.Struct(">q")
QQ = struct.Struct(">qq")


def key(i: int) -> bytes:
    """The big-endian key of an int (sorts like the int)."""
    return Q.pack(i)


def pack(r: Row, label: int | None, _head: Any = _HEAD.pack) -> bytes:
    doc_id, text, tags, attrs, blob, _, in_blob = r
    idb = doc_id.encode()
    if text is None:
        t, lt = b"", _NONE
    else:
        t = text.encode()
        lt = len(t)
    if tags is None:
        g, lg = b"", _NONE
    else:
        g = tags.encode()
        lg = len(g)
    if attrs is None:
        a, la = b"", _NONE
    else:
        a = attrs.encode()
        la = len(a)
    head = _head(-1 if label is None else label, IN_BLOB if in_blob else 0, len(idb), lt, lg, la)
    return b"".join((head, idb, t, g, a, blob))


def unpack(rec: bytes) -> tuple[str, int | None, int, str | None, str | None, str | None, bytes]:
    """(id, label, flags, text, tags, attrs, blob) of a record."""
    try:
        label, flags, li, lt, lg, la = _HEAD_UNPACK(rec)
        o = _HEAD_SIZE + li
        doc_id = rec[_HEAD_SIZE:o].decode()
        if lt == _NONE:
            text = None
        else:
            text = rec[o:o + lt].decode()
            o += lt
        if lg == _NONE:
            tags = None
        else:
            tags = rec[o:o + lg].decode()
            o += lg
        if la == _NONE:
            attrs = None
        else:
            attrs = rec[o:o + la].decode()
            o += la
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptStoreError(f"a stored LMDB record cannot be read ({exc}); the store is damaged") from exc
    return doc_id, (None if label < 0 else label), flags, text, tags, attrs, rec[o:]


_HEAD_UNPACK = _HEAD.unpack_from
_HEAD_SIZE = _HEAD.size


class FilterView:
    """The filterable fields of a record, as ``compile_filter`` reads them from a Document."""

    __slots__ = ("id", "text", "mime_type", "modality", "uri", "parent_id", "weight",
                 "granularity", "adjacency", "offset", "_tags")

    def __init__(self, doc_id: str, text: str | None, tags: str | None, attrs: str | None) -> None:
        self.id, self.text = doc_id, text
        self._tags = json.loads(tags) if tags else None
        a = json.loads(attrs) if attrs else {}
        self.mime_type = a.get("mime_type")
        self.modality = a.get("modality")
        self.uri = a.get("uri")
        self.parent_id = a.get("parent_id")
        self.weight = a.get("weight")
        self.offset = a.get("offset")
        self.granularity = a.get("granularity", 0)
        self.adjacency = a.get("adjacency", 0)
