"""The LMDB record of one Document and the view filters evaluate over it.

A record is ``header (label, flags, lengths) + id + text + tags JSON + attrs JSON + codec
bytes``: a filter scan reads the header and the small JSON parts, never the codec bytes
or the embedding (which lives in the vector column).
"""
from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from shoal.errors import CorruptStoreError

from shoal.document import accel
from shoal.document.document import Document
from shoal.docstore.rows import IN_BLOB, Row, decode, decode_rows, stored_tags

__all__ = ["pack", "unpack", "documents", "keys_of", "get_many", "FilterView", "fields_of", "Q", "QQ", "key"]

_HEAD = struct.Struct("<qBIIII")  # label (-1: none), flags, len id / text / tags / attrs
_NONE = 0xFFFFFFFF
Q = struct.Struct(">q")
QQ = struct.Struct(">qq")


def key(i: int) -> bytes:
    """The big-endian key of an int (sorts like the int)."""
    return Q.pack(i)


def keys_of(ints: Any) -> list[bytes]:
    """:func:`key` of many ints at once (a sequence or an integer array)."""
    return np.asarray(ints, dtype=">i8").view("V8").tolist()


def get_many(cursor: Any, keys: Any) -> list[Any]:
    """The value of each key (None where absent), in order.

    One ``cursor.get`` per key: py-lmdb answers those about twice as fast as ``getmulti``,
    which builds a (key, value) tuple per hit."""
    return list(map(cursor.get, keys))


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


def record_id(rec: bytes) -> str:
    """Only the Document id of a record (no text, tags or blob decoded)."""
    li = _HEAD_UNPACK(rec)[2]
    return bytes(rec[_HEAD_SIZE:_HEAD_SIZE + li]).decode()


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


def documents(recs: list[bytes]) -> tuple[list[Document], list[int], list[int]]:
    """New (untracked) Documents of records, for the read path of search results: what
    ``rows.decode_rows`` returns for them (in one C pass when the speedups are built). A
    damaged record raises CorruptStoreError."""
    if accel.fast is None:
        return decode_rows((i, lab, f, t, g, b) for i, lab, f, t, g, _, b in map(unpack, recs))
    try:
        docs, labels, want, tagged, rest = accel.fast.documents(recs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptStoreError(f"a stored LMDB record cannot be read ({exc}); the store is damaged") from exc
    for i in tagged:  # the C pass leaves the tags JSON text for the JSON parser
        d = docs[i]
        d._tags = stored_tags(d._tags)
    for i in rest:  # records with codec bytes
        doc_id, _, _, text, tags, _, blob = unpack(recs[i])
        docs[i] = decode(blob, text, tags, doc_id)
    return docs, labels, want


_SCAN = json.JSONDecoder().scan_once
_ATTRS = ("mime_type", "modality", "uri", "parent_id", "weight", "offset")


def _json(text: str) -> Any:
    try:
        return _SCAN(text, 0)[0]
    except (StopIteration, ValueError) as exc:
        raise CorruptStoreError(f"a stored LMDB record has damaged JSON ({exc})") from exc


class FilterView:
    """The filterable fields of a record, as ``compile_filter`` reads them from a Document.

    Tags and the other scalar fields are parsed only when the filter reads them
    (``need_tags`` / ``need_attrs``).
    """

    __slots__ = ("id", "_text", "mime_type", "modality", "uri", "parent_id", "weight",
                 "granularity", "adjacency", "offset", "_tags")

    def __init__(self, doc_id: str, text: str | None, tags: str | None, attrs: str | None,
                 need_tags: bool = True, need_attrs: bool = True) -> None:
        self.id, self._text = doc_id, text
        self._tags = _json(tags) if tags and need_tags else None
        if attrs and need_attrs:
            a = _json(attrs)
            for k in _ATTRS:
                setattr(self, k, a.get(k))
            self.granularity = a.get("granularity", 0)
            self.adjacency = a.get("adjacency", 0)
        else:
            self.mime_type = self.modality = self.uri = self.parent_id = None
            self.weight = self.offset = None
            self.granularity = self.adjacency = 0


def fields_of(node: Any) -> set[str]:
    """The first path element of every condition in a parsed filter."""
    items = getattr(node, "items", None)
    if items is not None:
        return set().union(*(fields_of(n) for n in items))
    inner = getattr(node, "item", None)
    if inner is not None:
        return fields_of(inner)
    return {node.path[0]}
