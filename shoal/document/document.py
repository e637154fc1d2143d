"""Document: one piece of data of any modality, with the DocArray 0.21 schema."""
from __future__ import annotations

import copy as _copy
import os
import weakref
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from shoal.document.score import NamedScoreMap, score_map

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["Document", "FIELDS", "new_id"]

#: Every field of the schema, in wire order.
FIELDS = (
    "id", "parent_id", "granularity", "adjacency", "text", "blob", "tensor", "embedding",
    "uri", "mime_type", "tags", "modality", "offset", "location", "weight",
    "chunks", "matches", "scores", "evaluations",
)
_SCALARS = ("parent_id", "granularity", "adjacency", "uri", "mime_type", "modality",
            "offset", "location", "weight")
_CONTENT = ("text", "blob", "tensor")


def new_id() -> str:
    """A random 32-character hex id."""
    return os.urandom(16).hex()


def _track(doc: Document) -> None:
    """Let the cyclic GC see ``doc`` again. A search may hand out match Documents the
    collector does not track (those holding only atomic values: see ``score_matches`` in
    ``_fast.c``); every property that hands out or takes a container calls this first, so
    a cycle made through it is collected. The C speedups replace this no-op."""


def _is_tensor(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "dtype"))


class Document:
    """One document: content (text, blob or tensor), an embedding, tags, and nested
    chunks / matches. Construct with keyword fields::

        Document(text='hello'), Document(content=b'...'), Document(uri='cat.png')
        Document(embedding=np.zeros(128), tags={'price': 3})

    Keywords that are not fields (``Document(color='red')``) land in ``tags``, as in
    DocArray. ``Document(other)`` makes a shallow copy, ``Document(other, copy=True)`` a
    deep one; ``Document(dict)`` reads a dict produced by :meth:`to_dict`.
    """

    __slots__ = ("_id", "parent_id", "granularity", "adjacency", "_text", "_blob",
                 "_tensor", "_embedding", "uri", "mime_type", "_tags", "modality", "offset",
                 "location", "weight", "_chunks", "_matches", "_scores", "_evaluations",
                 "__weakref__")

    def __init__(self, _obj: Any = None, *, copy: bool = False, id: str | None = None,
                 parent_id: str | None = None, granularity: int = 0, adjacency: int = 0,
                 text: str | None = None, blob: bytes | None = None, tensor: Any = None,
                 embedding: Any = None, uri: str | None = None, mime_type: str | None = None,
                 tags: dict | None = None, modality: str | None = None,
                 offset: float | None = None, location: list | None = None,
                 weight: float | None = None, chunks: Any = None, matches: Any = None,
                 scores: dict | None = None, evaluations: dict | None = None,
                 content: Any = None, **unknown: Any) -> None:
        self._id = id if id is not None else os.urandom(16).hex()
        self.parent_id = parent_id
        self.granularity = granularity
        self.adjacency = adjacency
        self._text = text
        self._blob = blob
        self._tensor = tensor
        self._embedding = None if embedding is None else _as_array(embedding)
        self.uri = uri
        self.mime_type = mime_type
        self._tags = tags
        self.modality = modality
        self.offset = offset
        self.location = location
        self.weight = weight
        self._chunks = None
        self._matches = None
        self._scores = None
        self._evaluations = None
        if chunks is not None:
            self.chunks = chunks
        if matches is not None:
            self.matches = matches
        if scores:
            self.scores = scores
        if evaluations:
            self.evaluations = evaluations
        if content is not None:
            self.content = content
        if unknown:
            self.tags.update(unknown)
        if _obj is not None:
            self._init_from(_obj, copy)

    def _init_from(self, obj: Any, deep: bool) -> None:
        if isinstance(obj, Document):
            src = _copy.deepcopy(obj) if deep else obj
            for name in self.__slots__[:-1]:
                setattr(self, name, getattr(src, name))
            if not deep:  # shallow copy still gets its own containers
                self._tags = dict(obj._tags) if obj._tags is not None else None
        elif isinstance(obj, dict):
            from shoal.document.codec import doc_from_dict  # noqa: PLC0415

            other = doc_from_dict(obj)
            for name in self.__slots__[:-1]:
                setattr(self, name, getattr(other, name))
        elif isinstance(obj, (str, bytes)) or _is_tensor(obj):
            self.content = obj
        elif getattr(obj, "__shoal_multimodal__", False):
            from shoal.document.dataclass import to_document  # noqa: PLC0415

            other = to_document(obj)
            for name in self.__slots__[:-1]:
                setattr(self, name, getattr(other, name))
            for chunk in self._chunks or ():
                chunk.parent_id = self._id
            self._chunks._owner = weakref.ref(self)
        else:
            from shoal.errors import BadInputError  # noqa: PLC0415

            raise BadInputError(
                f"cannot build a Document from {type(obj).__name__}; pass a Document, a dict, "
                "a str, bytes or an ndarray, or use keyword fields"
            )

    # --- identity -----------------------------------------------------------------
    @property
    def id(self) -> str:
        """The Document's id (a random 32-hex string unless given)."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        _track(self)
        self._id = str(value)
        for child in (self._chunks or ()):
            child.parent_id = self._id

    # --- content ------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The text content; ``''`` when unset, as in DocArray (so ``d.text += 'x'`` works)."""
        return self._text if self._text is not None else ""

    @text.setter
    def text(self, value: str | None) -> None:
        _track(self)
        self._text = value

    @property
    def blob(self) -> bytes | None:
        return self._blob

    @blob.setter
    def blob(self, value: bytes | None) -> None:
        _track(self)
        self._blob = value

    @property
    def tensor(self) -> Any:
        return self._tensor

    @tensor.setter
    def tensor(self, value: Any) -> None:
        _track(self)
        self._tensor = value

    @property
    def content(self) -> Any:
        """Whichever of text, blob, tensor is set (they are mutually exclusive content)."""
        if self._text is not None:
            return self._text
        if self._blob is not None:
            return self._blob
        return self._tensor

    @content.setter
    def content(self, value: Any) -> None:
        _track(self)
        self._text = self._blob = self._tensor = None
        if value is None:
            return
        if isinstance(value, str):
            self._text = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._blob = bytes(value)
        elif _is_tensor(value) or isinstance(value, (list, tuple)):
            self._tensor = _as_array(value) if isinstance(value, (list, tuple)) else value
        else:
            from shoal.errors import BadInputError  # noqa: PLC0415

            raise BadInputError(
                f"content must be str, bytes or an array, got {type(value).__name__}"
            )

    @property
    def content_type(self) -> str | None:
        """``'text'``, ``'blob'``, ``'tensor'`` or None."""
        for name in _CONTENT:
            if getattr(self, "_" + name) is not None:
                return name
        return None

    @property
    def embedding(self) -> np.ndarray | None:
        return self._embedding

    @embedding.setter
    def embedding(self, value: Any) -> None:
        _track(self)
        self._embedding = None if value is None else _as_array(value)

    # --- containers (created on first access, so construction stays cheap) --------
    @property
    def tags(self) -> dict[str, Any]:
        _track(self)
        if self._tags is None:
            self._tags = {}
        return self._tags

    @tags.setter
    def tags(self, value: dict | None) -> None:
        _track(self)
        self._tags = dict(value) if value is not None else None

    @property
    def scores(self) -> NamedScoreMap:
        _track(self)
        s = self._scores
        if type(s) is not NamedScoreMap:  # None, or the pending (name, value) of a search
            s = self._scores = score_map(s) if s is not None else NamedScoreMap()
        return s

    @scores.setter
    def scores(self, value: dict | None) -> None:
        _track(self)
        self._scores = NamedScoreMap()
        for k, v in (value or {}).items():
            self._scores[k] = v

    @property
    def evaluations(self) -> NamedScoreMap:
        _track(self)
        if self._evaluations is None:
            self._evaluations = NamedScoreMap()
        return self._evaluations

    @evaluations.setter
    def evaluations(self, value: dict | None) -> None:
        _track(self)
        self._evaluations = NamedScoreMap()
        for k, v in (value or {}).items():
            self._evaluations[k] = v

    @property
    def chunks(self) -> DocumentArray:
        """Sub-documents; each gets ``parent_id`` = this id, granularity + 1."""
        _track(self)
        if self._chunks is None:
            from shoal.document.array import ChunkArray  # noqa: PLC0415

            self._chunks = ChunkArray(owner=self)
        return self._chunks

    @chunks.setter
    def chunks(self, value: Any) -> None:
        _track(self)
        from shoal.document.array import ChunkArray  # noqa: PLC0415

        self._chunks = ChunkArray(value, owner=self)

    @property
    def matches(self) -> DocumentArray:
        """Results of a search; each gets adjacency + 1."""
        _track(self)
        if self._matches is None:
            from shoal.document.array import MatchArray  # noqa: PLC0415

            self._matches = MatchArray(owner=self)
        return self._matches

    @matches.setter
    def matches(self, value: Any) -> None:
        _track(self)
        from shoal.document.array import MatchArray  # noqa: PLC0415

        self._matches = MatchArray(value, owner=self)

    @property
    def has_chunks(self) -> bool:
        return bool(self._chunks)

    @property
    def has_matches(self) -> bool:
        return bool(self._matches)

    # --- loading content from a URI -----------------------------------------------
    def load_uri_to_text(self, encoding: str = "utf-8") -> Document:
        """Read ``uri`` (local path or data URI) into ``text``."""
        from shoal.document.uri import read_uri  # noqa: PLC0415

        self.text = read_uri(self.uri).decode(encoding)
        return self

    def load_uri_to_blob(self) -> Document:
        """Read ``uri`` (local path or data URI) into ``blob``."""
        from shoal.document.uri import read_uri  # noqa: PLC0415

        self.blob = read_uri(self.uri)
        return self

    def load_uri_to_image_tensor(self, width: int | None = None, height: int | None = None,
                                 channel_axis: int = -1) -> Document:
        """Decode the image at ``uri`` into an (H, W, 3) uint8 ``tensor`` (Pillow)."""
        from shoal.document.uri import decode_image, read_uri  # noqa: PLC0415

        self.tensor = decode_image(read_uri(self.uri), width, height, channel_axis)
        return self

    def convert_blob_to_image_tensor(self, width: int | None = None,
                                     height: int | None = None,
                                     channel_axis: int = -1) -> Document:
        """Decode ``blob`` as an image into ``tensor``."""
        from shoal.document.uri import decode_image  # noqa: PLC0415

        self.tensor = decode_image(self.blob, width, height, channel_axis)
        return self

    def load_uri_to_data_uri(self) -> str:
        """``uri`` as a base64 data URI string."""
        from shoal.document.uri import to_data_uri  # noqa: PLC0415

        return to_data_uri(self.uri, self.mime_type)

    # --- compute ------------------------------------------------------------------
    def embed(self, model: Any, **kwargs: Any) -> Document:
        """Fill ``embedding`` with ``model``; see :meth:`DocumentArray.embed`."""
        from shoal.document.array import DocumentArray  # noqa: PLC0415

        DocumentArray([self]).embed(model, **kwargs)
        return self

    def match(self, darray: DocumentArray, **kwargs: Any) -> Document:
        """Fill ``matches`` from ``darray``; see :meth:`DocumentArray.match`."""
        from shoal.document.array import DocumentArray  # noqa: PLC0415

        DocumentArray([self]).match(darray, **kwargs)
        return self

    # --- serialization ------------------------------------------------------------
    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """A JSON-ready dict (ndarrays as {'dtype','shape','data' base64})."""
        from shoal.document.codec import doc_to_dict  # noqa: PLC0415

        return doc_to_dict(self, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        from shoal.document.codec import doc_from_dict  # noqa: PLC0415

        return doc_from_dict(data)

    def to_json(self) -> str:
        import json  # noqa: PLC0415

        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str | bytes) -> Document:
        from shoal.document.codec import loads_json  # noqa: PLC0415

        return doc_from_json_obj(loads_json(data))

    def to_bytes(self, compress: str | None = None) -> bytes:
        """Protobuf bytes, optionally compressed (``'zlib'``, ``'lz4'``, ``'gzip'``...)."""
        from shoal.document.codec import doc_to_bytes  # noqa: PLC0415

        return doc_to_bytes(self, compress)

    @classmethod
    def from_bytes(cls, data: bytes, compress: str | None = None) -> Document:
        from shoal.document.codec import doc_from_bytes  # noqa: PLC0415

        return doc_from_bytes(data, compress)

    def to_protobuf(self) -> Any:
        from shoal.document.codec import doc_to_proto  # noqa: PLC0415

        return doc_to_proto(self)

    @classmethod
    def from_protobuf(cls, pb: Any) -> Document:
        from shoal.document.codec import doc_from_proto  # noqa: PLC0415

        return doc_from_proto(pb)

    def to_base64(self, compress: str | None = None) -> str:
        import base64  # noqa: PLC0415

        return base64.b64encode(self.to_bytes(compress)).decode()

    @classmethod
    def from_base64(cls, data: str, compress: str | None = None) -> Document:
        import base64  # noqa: PLC0415

        return cls.from_bytes(base64.b64decode(data), compress)

    # --- python protocol ----------------------------------------------------------
    @property
    def non_empty_fields(self) -> tuple[str, ...]:
        """Names of the fields that hold a value (a property, as in DocArray)."""
        out = []
        for name in FIELDS:
            value = getattr(self, "_" + name, None) if name in _PRIVATE else getattr(self, name)
            if value is None or (name in ("granularity", "adjacency") and value == 0):
                continue
            if name in _CONTAINERS and not value:
                continue
            out.append(name)
        return tuple(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        if self is other:
            return True
        for name in FIELDS:
            a, b = _field_value(self, name), _field_value(other, name)
            if _is_tensor(a) or _is_tensor(b):
                if not (_is_tensor(a) and _is_tensor(b)) or not np.array_equal(np.asarray(a), np.asarray(b)):
                    return False
            elif name in ("chunks", "matches"):
                if len(a) != len(b) or any(x != y for x, y in zip(a, b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # mutable

    def copy(self) -> Document:
        """A deep copy."""
        return _copy.deepcopy(self)

    def __copy__(self) -> Document:
        return Document(self)

    def __deepcopy__(self, memo: dict) -> Document:
        new = Document.__new__(Document)
        memo[id(self)] = new
        for name in self.__slots__[:-1]:
            setattr(new, name, _copy.deepcopy(getattr(self, name), memo))
        new._reown()
        return new

    def _reown(self) -> None:
        """Point this Document's chunk / match arrays back at it (after a copy or unpickle)."""
        for children in (self._chunks, self._matches):
            if children is not None:
                children._owner = weakref.ref(self)

    def get_multi_modal_attribute(self, name: str) -> Document:
        """The chunk holding field ``name`` of a Document built from a multimodal dataclass."""
        from shoal.document.dataclass import get_multi_modal_attribute  # noqa: PLC0415

        return get_multi_modal_attribute(self, name)

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__[:-1]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._reown()

    def __repr__(self) -> str:
        parts = [f"id={self._id!r}"]
        for name in self.non_empty_fields:
            if name == "id":
                continue
            value = getattr(self, name)
            if _is_tensor(value):
                parts.append(f"{name}: {type(value).__name__}{tuple(value.shape)}")
            elif name in _CONTAINERS:
                parts.append(f"{name}: {len(value)}")
            else:
                text = repr(value)
                parts.append(f"{name}={text if len(text) < 40 else text[:37] + '...'}")
        return f"<Document {', '.join(parts)}>"

    def summary(self) -> str:
        """A tree-shaped text summary of this Document and its chunks / matches; also printed."""
        text = "\n".join(_summary_lines(self, 0))
        print(text)
        return text

    def __iter__(self) -> Iterator[Document]:  # a Document is not iterable; avoid surprises
        raise TypeError("Document is not iterable; iterate over .chunks or .matches")


_PRIVATE = {"id", "text", "blob", "tensor", "embedding", "tags", "chunks", "matches",
            "scores", "evaluations"}
_CONTAINERS = {"tags", "chunks", "matches", "scores", "evaluations"}


def _field_value(doc: Document, name: str) -> Any:
    """A field's value for comparison, without creating empty containers on the way."""
    if name in _CONTAINERS:
        value = getattr(doc, "_" + name)
        if name == "scores":
            value = score_map(value)
        return value if value is not None else (() if name in ("chunks", "matches") else {})
    return getattr(doc, name)


def _as_array(value: Any) -> Any:
    if isinstance(value, np.ndarray) or _is_tensor(value):
        return value
    return np.asarray(value)


def doc_from_json_obj(obj: Any) -> Document:
    from shoal.document.codec import doc_from_dict  # noqa: PLC0415

    return doc_from_dict(obj)


def _summary_lines(doc: Document, depth: int) -> list[str]:
    pad = "    " * depth
    lines = [f"{pad}{doc!r}"]
    for name in ("chunks", "matches"):
        children = getattr(doc, "_" + name)
        if children:
            lines.append(f"{pad}  └─ {name} ({len(children)})")
            for child in children:
                lines.extend(_summary_lines(child, depth + 1))
    return lines
