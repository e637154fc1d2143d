"""How a Document becomes a stored row, and back.

A row keeps the parts that filters and the vector column read outside the codec bytes:

- ``text`` and ``tags`` (JSON) as their own values, so SQL / a tag scan can read them
  without decoding the Document;
- ``attrs``: JSON of the other filterable scalar fields that are set (mostly None);
- ``vector``: a 1-D float32 copy of the embedding for the vector column;
- ``blob``: shoal's codec bytes of the rest. A 1-D float32 embedding lives only in the
  vector column (``in_blob`` False); any other embedding (float64, 2-D...) stays in the
  blob too, so it reads back exactly as it was written.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

import json

from shoal.document.codec import doc_from_bytes, doc_to_bytes, dumps_json, loads_json
from shoal.document.codec.jsontext import json_encode
from shoal.document import accel
from shoal.document.document import Document
from shoal.errors import BadInputError, CorruptStoreError, DimensionMismatchError, MalformedDataError

__all__ = ["Row", "column_vector", "encode", "encode_many", "decode", "decode_rows", "plain_document",
           "stored_tags", "set_embeddings", "tags_from_json", "stack_vectors", "attrs_dict",
           "ATTR_FIELDS", "IN_BLOB"]

#: filterable scalar fields kept in the ``attrs`` JSON (text and id have their own column)
ATTR_FIELDS = ("mime_type", "modality", "uri", "parent_id", "weight", "granularity",
               "adjacency", "offset")
_ZERO_DEFAULT = ("granularity", "adjacency")
#: row flag: the embedding is kept in the codec bytes (not float32 1-D), the column has a copy
IN_BLOB = 1
_F32 = np.dtype(np.float32)


# the codec's compact numpy-aware encoder, raw (TypeError / ValueError): once per row
_TAGS_JSON = json_encode


_SCAN = json.JSONDecoder().scan_once  # the C scanner: stored tags are compact JSON objects


def tags_from_json(text: str) -> Any:
    """The tags dict of a row's tags JSON (MalformedDataError with the position if damaged)."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        end = -1
    if end != len(text):
        return loads_json(text)  # raises MalformedDataError with the position
    return value


def _tags_json(d: Document, tags: dict) -> str:
    try:
        return _TAGS_JSON(tags)
    except (TypeError, ValueError):
        return dumps_json(tags, f"tags of Document {d._id}")  # raises the codec's BadInputError


class Row(NamedTuple):
    id: str
    text: str | None
    tags: str | None
    attrs: str | None
    blob: bytes
    vector: np.ndarray | None
    in_blob: bool


def column_vector(emb: Any) -> tuple[np.ndarray | None, bool]:
    """(the float32 vector an embedding puts in the vector column or None, whether the
    embedding itself is also kept in the blob: any other dtype or shape). An embedding
    that is not real numbers (strings, objects, complex, sparse) is a BadInputError."""
    if emb is None:
        return None, False
    if type(emb) is np.ndarray and emb.dtype == _F32 and emb.ndim == 1:
        return emb, False
    try:
        arr = np.asarray(emb)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"an embedding must be an array of numbers, got {type(emb).__name__}: {exc}") from exc
    if arr.dtype.kind not in "biuf":  # strings, objects, complex: not a vector to search
        raise BadInputError(
            f"an embedding must be an array of real numbers, got dtype {arr.dtype} "
            f"({type(emb).__name__}); convert it (e.g. np.asarray(x, dtype=np.float32))")
    return arr.astype(np.float32).reshape(-1), True


def encode(d: Document) -> Row:
    """Split ``d`` into a :class:`Row` (the Document is left as it was)."""
    text, tags, emb = d._text, d._tags, d._embedding
    vector, in_blob = column_vector(emb)
    attrs = None
    if (d.mime_type is not None or d.modality is not None or d.uri is not None
            or d.parent_id is not None or d.weight is not None or d.granularity
            or d.adjacency or d.offset is not None):
        attrs = dumps_json({k: v for k in ATTR_FIELDS if (v := getattr(d, k)) is not None
                            and not (k in _ZERO_DEFAULT and v == 0)}, "Document fields")
    if not in_blob and _only_columns(d):
        # nothing left for the codec: every field set has its own column
        return Row(d._id, text, _tags_json(d, tags) if tags else None, attrs, b"", vector, False)
    # the codec writes what is set: take text / tags / a column embedding out for the
    # duration of the call (the Document is restored before returning)
    d._text = None
    d._tags = None
    if not in_blob:
        d._embedding = None
    try:
        blob = doc_to_bytes(d)
    finally:
        d._text, d._tags, d._embedding = text, tags, emb
    return Row(d._id, text, _tags_json(d, tags) if tags else None, attrs, blob, vector, in_blob)


def encode_many(docs: Sequence[Document]) -> list[Row]:
    """:func:`encode` for each Document."""
    return [encode(d) for d in docs]


def _only_columns(d: Document) -> bool:
    """True when ``d`` sets no field besides id, text, tags and embedding."""
    return (d._blob is None and d._tensor is None and d.parent_id is None and not d.granularity
            and not d.adjacency and d.uri is None and d.mime_type is None and d.modality is None
            and d.offset is None and d.location is None and d.weight is None and not d._chunks
            and not d._matches and not d._scores and not d._evaluations)


def decode(blob: bytes, text: str | None, tags: str | None, doc_id: str | None = None) -> Document:
    """The Document of a row, without its column embedding (the caller sets that).

    An empty ``blob`` is a Document of id / text / tags / embedding only (``doc_id`` given).
    """
    if not blob:
        return plain_document(doc_id, text, tags)
    try:
        d = doc_from_bytes(bytes(blob))
    except MalformedDataError as exc:
        raise _damaged(exc) from exc
    if text is not None:
        d._text = text
    if tags is not None:
        d._tags = stored_tags(tags)
    return d


def _damaged(exc: Exception) -> CorruptStoreError:
    return CorruptStoreError(
        f"a stored Document cannot be decoded ({exc}); the store file is damaged - "
        "restore it from a backup or re-index the data")


def stored_tags(text: str) -> Any:
    """The tags dict of a stored row's tags JSON; damaged JSON is a CorruptStoreError."""
    try:
        return tags_from_json(text)
    except MalformedDataError as exc:
        raise _damaged(exc) from exc


def decode_rows(rows: Iterable[tuple]) -> tuple[list[Document], list[int], list[int]]:
    """New (untracked) Documents of stored rows ``(id, label, flags, text, tags, blob)``.

    Returns the Documents, each row's vector label (-1: none), and the indexes of the
    Documents whose embedding is to be read from the vector column (see
    :func:`set_embeddings`)."""
    docs: list[Document] = []
    labels: list[int] = []
    want: list[int] = []
    plain = plain_document
    for i, (doc_id, label, flags, text, tags, blob) in enumerate(rows):
        docs.append(decode(blob, text, tags, doc_id) if blob else plain(doc_id, text, tags))
        labels.append(-1 if label is None else label)
        if label is not None and not flags & IN_BLOB:
            want.append(i)
    return docs, labels, want


def set_embeddings(docs: list[Document], want: list[int], rows: Any) -> None:
    """``docs[want[j]]._embedding = rows[j]`` (rows of a matrix read from the column)."""
    if accel.fast is not None:
        accel.fast.set_embeddings(docs, want, rows)
        return
    for i, v in zip(want, rows):
        docs[i]._embedding = v


def plain_document(doc_id: str, text: str | None, tags: str | None,
                   _new: Any = Document.__new__) -> Document:
    """The Document of a row with an empty blob: id, text and tags (JSON) only.

    Slots are set one by one (no keyword parsing): this runs once per Document read."""
    d = _new(Document)
    d._id = doc_id
    d._text = text
    d._tags = None if tags is None else stored_tags(tags)
    d.parent_id = d._blob = d._tensor = d._embedding = d.uri = d.mime_type = None
    d.modality = d.offset = d.location = d.weight = None
    d._chunks = d._matches = d._scores = d._evaluations = None
    d.granularity = d.adjacency = 0
    return d


def stack_vectors(rows: Sequence[Row], dim: int | None) -> tuple[np.ndarray | None, list[int]]:
    """The (k, D) float32 matrix of the rows' vectors and the row indexes that have one.

    Raises DimensionMismatchError when a vector's length differs from ``dim`` (or from
    the first vector's when ``dim`` is None).
    """
    idx = [i for i, r in enumerate(rows) if r.vector is not None]
    if not idx:
        return None, idx
    vecs = [rows[i].vector for i in idx]
    want = dim if dim is not None else vecs[0].shape[0]
    for i, v in zip(idx, vecs):
        if v.shape[0] != want:
            raise DimensionMismatchError(
                f"Document {rows[i].id!r} has an embedding of dimension {v.shape[0]} but this "
                f"store holds {want}-d embeddings; embed all Documents with the same model "
                "(nothing of this batch was written)")
    m = np.stack(vecs).astype(np.float32, copy=False)
    if not np.isfinite(m).all():
        from shoal.errors import BadInputError  # noqa: PLC0415

        raise BadInputError("embeddings contain NaN or infinite values; clean them first "
                            "(nothing of this batch was written)")
    return m, idx


def attrs_dict(attrs: str | None) -> dict[str, Any]:
    """The ``attrs`` JSON as a dict ({} for None)."""
    return loads_json(attrs) if attrs else {}

