"""Protobuf wire bytes -> Documents.

Decoded with the C protobuf parser plus ``ListFields`` (only the fields that are set are
touched). Embeddings of the same dtype / shape in one array are decoded into one matrix
whose rows the Documents share as views.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from google.protobuf.message import DecodeError

from shoal.document.codec.jsontext import loads_json
from shoal.document.codec.ndarray import _make_array
from shoal.document.codec.proto_encode import _ld, _varint, gc_paused
from shoal.document.document import Document
from shoal.document.score import NamedScore, NamedScoreMap
from shoal.errors import MalformedDataError
from shoal.proto import shoal_pb2 as pb2

__all__: list[str] = []

_new_doc = Document.__new__
_new_score = NamedScore.__new__
_VIEW_FIELDS = pb2.DocumentViewProto.DESCRIPTOR.fields_by_name
_FD_ID, _FD_TEXT, _FD_EMB = _VIEW_FIELDS["id"], _VIEW_FIELDS["text"], _VIEW_FIELDS["embedding"]
_FD_NAMES = {fd: name for name, fd in _VIEW_FIELDS.items()}  # fd.name is slow on upb
_SCALAR_SLOTS = {"parent_id": "parent_id", "granularity": "granularity",
                 "adjacency": "adjacency", "blob": "_blob", "uri": "uri",
                 "mime_type": "mime_type", "modality": "modality", "offset": "offset",
                 "weight": "weight"}
_SCORE_ATTRS = (None, "value", "op_type", "description", "ref_id")


def _decode_scores(entries: Any) -> NamedScoreMap:
    """Score map entries, in wire order (a repeated key keeps its first place, last value)."""
    out = NamedScoreMap()
    for entry in entries:
        ns = _new_score(NamedScore)
        ns.value = ns.op_type = ns.description = ns.ref_id = None
        for fd, v in entry.value.ListFields():
            setattr(ns, _SCORE_ATTRS[fd.number], v)
        dict.__setitem__(out, entry.key, ns)
    return out


def _nd_from_bytes(raw: bytes) -> np.ndarray:
    nd = _parse(pb2.NdArrayProto(), raw, "an array")
    return _make_array(nd.buffer, nd.dtype, tuple(nd.shape))


class _EmbeddingGroup:
    """Serialized NdArrayProtos of one dtype / shape, decoded together at the end.

    Every member is ``prefix + buffer + suffix`` with the same prefix and suffix (shoal
    writes shape, dtype, buffer; other writers buffer, shape, dtype), so one numpy slice
    of the joined bytes cuts out all buffers.
    """

    __slots__ = ("prefix", "suffix", "total", "dtype", "shape", "docs", "raws", "first")

    def __init__(self, prefix: bytes, suffix: bytes, first: np.ndarray) -> None:
        self.prefix, self.suffix = prefix, suffix
        self.total = len(prefix) + first.nbytes + len(suffix)
        self.dtype, self.shape, self.first = first.dtype, first.shape, first
        self.docs: list[Document] = []
        self.raws: list[bytes] = []

    def flush(self) -> None:
        n = len(self.docs)
        if n == 1:
            self.docs[0]._embedding = self.first
            return
        start, end = len(self.prefix), self.total - len(self.suffix)
        rows = np.frombuffer(b"".join(self.raws), np.uint8).reshape(n, self.total)
        # members were picked by length only: check every header at once
        ok = np.ones(n, dtype=bool)
        if start:
            ok &= (rows[:, :start] == np.frombuffer(self.prefix, np.uint8)).all(axis=1)
        if end < self.total:
            ok &= (rows[:, end:] == np.frombuffer(self.suffix, np.uint8)).all(axis=1)
        mat = np.array(rows[:, start:end])  # one aligned, writable copy
        mat = mat.view(self.dtype).reshape((n, *self.shape))
        for d, row in zip(self.docs, mat, strict=True):
            d._embedding = row
        if not ok.all():  # same length, other dtype / shape: decode those one by one
            for i in np.flatnonzero(~ok):
                self.docs[i]._embedding = _nd_from_bytes(self.raws[i])


class _Pending:
    """Embeddings waiting to be decoded in bulk, grouped by their wire header."""

    __slots__ = ("last", "groups")

    def __init__(self) -> None:
        self.last: _EmbeddingGroup | None = None
        self.groups: dict[tuple[bytes, bytes], _EmbeddingGroup] = {}

    def add_new(self, d: Document, raw: bytes) -> None:
        """``raw`` did not fit the last group: find or make its group."""
        nd = _parse(pb2.NdArrayProto(), raw, "an array")
        buf, shape = nd.buffer, tuple(nd.shape)
        arr = _make_array(buf, nd.dtype, shape)
        if arr.ndim == 0:
            d._embedding = arr
            return
        tail = _ld(b"\x12", b"".join(_varint(n) for n in shape)) + _ld(b"\x1a", nd.dtype.encode())
        head = b"\x0a" + _varint(len(buf))
        if raw == tail + head + buf:  # shoal's layout (buffer last, always written)
            prefix, suffix = tail + head, b""
        elif raw == (head if buf else b"") + buf + tail:  # field order (upb, C++, Go ...)
            prefix, suffix = (head if buf else b""), tail
        else:
            d._embedding = arr
            return
        g = self.groups.get((prefix, suffix))
        if g is None:
            g = self.groups[(prefix, suffix)] = _EmbeddingGroup(prefix, suffix, arr)
        self.last = g
        g.docs.append(d)
        g.raws.append(raw)

    def flush(self) -> None:
        for g in self.groups.values():
            g.flush()


def _decode_doc(p: Any, pending: _Pending, _new: Any = _new_doc, _cls: type = Document,
                _fd_id: Any = _FD_ID, _fd_text: Any = _FD_TEXT, _fd_emb: Any = _FD_EMB,
                ) -> Document:
    """A Document from a DocumentViewProto; its embedding goes to ``pending``.

    The hot loop of every decode: defaults bind globals as locals, the three common
    fields are matched by descriptor identity, slots are set directly.
    """
    d = _new(_cls)
    d.parent_id = d._text = d._blob = d._tensor = d._embedding = d.uri = None
    d.mime_type = d._tags = d.modality = d.offset = d.location = d.weight = None
    d._chunks = d._matches = d._scores = d._evaluations = None
    d.granularity = d.adjacency = 0
    d._id = ""
    for fd, v in p.ListFields():
        if fd is _fd_id:
            d._id = v
        elif fd is _fd_text:
            d._text = v
        elif fd is _fd_emb:
            g = pending.last
            if g is not None and len(v) == g.total:  # headers are checked in bulk later
                g.docs.append(d)
                g.raws.append(v)
            else:
                pending.add_new(d, v)
        else:
            _decode_rare_field(d, _FD_NAMES[fd], v, pending)
    return d


def _decode_rare_field(d: Document, name: str, v: Any, pending: _Pending) -> None:
    if name in _SCALAR_SLOTS:
        setattr(d, _SCALAR_SLOTS[name], v)
    elif name == "tensor":
        d._tensor = _nd_from_bytes(v)
    elif name == "tags_json":
        tags = loads_json(v)
        if not isinstance(tags, dict):
            raise MalformedDataError(f"tags of Document {d._id!r} are not a JSON object")
        d._tags = tags
    elif name == "location":
        d.location = list(v)
    elif name == "chunks" or name == "matches":
        _set_children(d, name, [_decode_doc(c, pending) for c in v])
    elif name == "scores":
        d._scores = _decode_scores(v)
    elif name == "evaluations":
        d._evaluations = _decode_scores(v)


def _set_children(d: Document, name: str, kids: list[Document]) -> None:
    """Set chunks / matches keeping each child's stored parent_id, granularity, adjacency."""
    saved = [(k.parent_id, k.granularity, k.adjacency) for k in kids]
    setattr(d, name, kids)
    for k, (parent_id, granularity, adjacency) in zip(kids, saved, strict=True):
        k.parent_id, k.granularity, k.adjacency = parent_id, granularity, adjacency


def _decode_views(views: Iterable[Any]) -> list[Document]:
    """Documents from DocumentViewProtos (all embeddings decoded in bulk)."""
    pending = _Pending()
    try:
        with gc_paused():
            out = [_decode_doc(p, pending) for p in views]
            pending.flush()
    except MalformedDataError:
        raise
    except (ValueError, TypeError) as exc:
        raise MalformedDataError(f"cannot decode documents: {exc}") from exc
    return out


def _decode_array_bytes(data: bytes) -> list[Document]:
    """Documents from DocumentArrayProto bytes."""
    return _decode_views(_parse(pb2.DocumentArrayViewProto(), data, "a DocumentArray").docs)


def _parse(message: Any, data: bytes, what: str) -> Any:
    try:
        message.ParseFromString(data)
    except (DecodeError, TypeError, ValueError, RuntimeError) as exc:
        raise MalformedDataError(
            f"cannot parse {what} from {len(data)} bytes: {exc}; the data is truncated, "
            "corrupt, compressed differently, or not shoal protobuf") from exc
    return message
