"""Document: one piece of data of any modality, with the DocArray 0.21 schema."""
from __future__ import annotations

import copy as _copy
import mimetypes
import os
import weakref
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from shoal.document.score import NamedScoreMap, score_map

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["Document", "FIELDS", "new_id", "guess_mime_type", "normalize_mime_type", "set_uri",
           "resolve_fields"]

#: Every field of the schema, in wire order.
FIELDS = (
    "id", "parent_id", "granularity", "adjacency", "text", "blob", "tensor", "embedding",
    "uri", "mime_type", "tags", "modality", "offset", "location", "weight",
    "chunks", "matches", "scores", "evaluations",
)
_SCALARS = ("parent_id", "granularity", "adjacency", "uri", "mime_type", "modality",
            "offset", "location", "weight")
_CONTENT = ("text", "tensor", "blob")  # content_type's order, as DocArray


#: What ``Document(...)`` takes as a field name (``field_resolver`` may map onto these).
_KEYWORDS = frozenset(FIELDS) | {"content"}
#: DocArray fields shoal does not keep: ``unknown_fields_handler`` lets them pass.
_DOCARRAY_ONLY = frozenset({"_metadata"})
#: The order ``Document(obj, **fields)`` sets fields in: content, uri, mime_type late (as DocArray).
_APPLY_ORDER = ("id", "parent_id", "granularity", "adjacency", "embedding", "tags", "modality",
                "offset", "location", "weight", "scores", "evaluations", "text", "blob",
                "tensor", "content", "uri", "mime_type", "chunks", "matches")
_HANDLERS = ("catch", "drop", "raise")


def guess_mime_type(uri: str) -> str | None:
    """The MIME type ``mimetypes`` guesses from ``uri`` (a path, URL or data URI), or None."""
    try:
        return mimetypes.guess_type(uri)[0]
    except (TypeError, ValueError):  # not a str / path
        return None


def normalize_mime_type(value: str) -> str:
    """``'jpg'`` -> ``'image/jpeg'``: a value that is not ``type/subtype`` is read as a file
    extension when ``mimetypes`` knows it (DocArray's best guess), else kept."""
    if value and isinstance(value, str) and "/" not in value:
        return mimetypes.guess_type(f"*.{value}")[0] or value
    return value


def set_uri(doc: Document, uri: str | None) -> None:
    """Set ``doc.uri`` and, when one can be guessed from it, ``doc.mime_type`` (DocArray's
    ``uri`` setter). Plain ``doc.uri = x`` sets the uri only."""
    doc.uri = uri
    if uri:
        mime = guess_mime_type(uri)
        if mime:
            doc.mime_type = mime


def _check_handler(handler: str) -> None:
    if handler not in _HANDLERS:
        from shoal.errors import BadInputError  # noqa: PLC0415

        raise BadInputError(
            f"unknown_fields_handler must be one of {', '.join(_HANDLERS)}, got {handler!r}")


def resolve_fields(data: dict[str, Any], resolver: dict[str, str] | None = None,
                   handler: str = "catch") -> dict[str, Any]:
    """``data`` with keys renamed by ``resolver`` and its non-field keys kept (``'catch'``:
    they land in tags), dropped (``'drop'``) or refused (``'raise'``)."""
    _check_handler(handler)
    if resolver:
        if not isinstance(resolver, dict):
            from shoal.errors import BadInputError  # noqa: PLC0415

            raise BadInputError(
                f"field_resolver must be a dict of name -> field, got {type(resolver).__name__}")
        data = {resolver.get(k, k): v for k, v in data.items()}
    if handler == "catch":
        return data
    extra = [k for k in data if k not in _KEYWORDS]
    if extra and handler == "raise":
        from shoal.errors import BadInputError  # noqa: PLC0415

        raise BadInputError(
            f"unknown Document fields {sorted(map(str, extra))}; map them with field_resolver= "
            "or pass unknown_fields_handler='catch' (to tags) or 'drop'")
    return {k: v for k, v in data.items() if k not in extra}


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

    As in DocArray: text, blob and tensor are one content (setting one clears the others;
    given together, the last of text, blob, tensor, content wins); a ``uri`` without a
    ``mime_type`` sets the type guessed from it; keywords that are not fields
    (``Document(color='red')``) land in ``tags`` (``unknown_fields_handler='drop'`` /
    ``'raise'`` otherwise, ``field_resolver={'key': 'field'}`` renames them).

    ``Document(other, **fields)`` copies ``other`` then sets ``fields`` on top: ``copy=True``
    deep-copies, the default shares ``other``'s tags, chunks, matches and scores (DocArray
    shares the whole Document; shoal copies its scalar fields). ``Document(dict)`` reads a
    dict produced by :meth:`to_dict` (its keys win over keyword fields, as in DocArray).
    """

    __slots__ = ("_id", "parent_id", "granularity", "adjacency", "_text", "_blob",
                 "_tensor", "_embedding", "uri", "mime_type", "_tags", "modality", "offset",
                 "location", "weight", "_chunks", "_matches", "_scores", "_evaluations",
                 "__weakref__")

    def __init__(self, _obj: Any = None, *, copy: bool = False,
                 field_resolver: dict[str, str] | None = None,
                 unknown_fields_handler: str = "catch", id: str | None = None,
                 parent_id: str | None = None, granularity: int | None = None,
                 adjacency: int | None = None, text: str | None = None,
                 blob: bytes | None = None, tensor: Any = None, embedding: Any = None,
                 uri: str | None = None, mime_type: str | None = None,
                 tags: dict | None = None, modality: str | None = None,
                 offset: float | None = None, location: list | None = None,
                 weight: float | None = None, chunks: Any = None, matches: Any = None,
                 scores: dict | None = None, evaluations: dict | None = None,
                 content: Any = None, **unknown: Any) -> None:
        if _obj is not None or unknown:
            given = {k: v for k, v in (
                ("id", id), ("parent_id", parent_id), ("granularity", granularity),
                ("adjacency", adjacency), ("text", text), ("blob", blob), ("tensor", tensor),
                ("embedding", embedding), ("uri", uri), ("mime_type", mime_type),
                ("tags", tags), ("modality", modality), ("offset", offset),
                ("location", location), ("weight", weight), ("chunks", chunks),
                ("matches", matches), ("scores", scores), ("evaluations", evaluations),
                ("content", content)) if v is not None}
            self._init_slow(_obj, copy, field_resolver, unknown_fields_handler, given, unknown)
            return
        # the fast path: keyword fields only
        if blob is not None or tensor is not None:  # one content field: the last of
            text = None                              # text, blob, tensor wins (DocArray)
            if tensor is not None:
                blob = None
        self._id = id if id is not None else os.urandom(16).hex()
        self.parent_id = parent_id
        self.granularity = granularity if granularity is not None else 0
        self.adjacency = adjacency if adjacency is not None else 0
        self._text = text
        self._blob = blob
        self._tensor = tensor
        self._embedding = None if embedding is None else _as_array(embedding)
        self.uri = uri
        if mime_type:
            mime_type = normalize_mime_type(mime_type)
        elif mime_type is None and uri:
            mime_type = guess_mime_type(uri)
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

    def _reset(self) -> None:
        """Every slot at its empty value (the id too: callers set one)."""
        for name in self.__slots__[:-1]:
            setattr(self, name, None)
        self.granularity = self.adjacency = 0

    def _take_slots(self, other: Document) -> None:
        for name in self.__slots__[:-1]:
            setattr(self, name, getattr(other, name))

    def _init_slow(self, obj: Any, copy: bool, resolver: dict[str, str] | None,
                   handler: str, given: dict[str, Any], unknown: dict[str, Any]) -> None:
        """``Document(obj, **fields)``: build from ``obj``, then apply ``fields`` on top."""
        _check_handler(handler)
        self._reset()
        self._id = os.urandom(16).hex()
        if obj is None:
            pass
        elif isinstance(obj, Document):
            self._init_from_document(obj, copy)
        elif isinstance(obj, dict):
            data = resolve_fields(obj, resolver, handler)
            self._init_from_dict(data)
            given = {k: v for k, v in given.items() if k not in data}  # the dict wins
        elif isinstance(obj, (str, bytes)) or _is_tensor(obj):
            self.content = obj
        elif getattr(obj, "__shoal_multimodal__", False):
            self._init_from_dataclass(obj)
        else:
            from shoal.errors import BadInputError  # noqa: PLC0415

            raise BadInputError(
                f"cannot build a Document from {type(obj).__name__}; pass a Document, a dict, "
                "a str, bytes or an ndarray, or use keyword fields"
            )
        if unknown:
            unknown = resolve_fields(unknown, resolver, handler)
            for key in [k for k in unknown if k in _KEYWORDS]:  # resolved onto a field
                given.setdefault(key, unknown.pop(key))
        self._apply(given, unknown)

    def _init_from_document(self, obj: Document, deep: bool) -> None:
        """A deep copy, or (``copy=False``, as DocArray) one sharing tags, chunks, matches,
        scores and evaluations with ``obj``."""
        if deep:
            self._take_slots(_copy.deepcopy(obj))
            self._reown()
            return
        if obj._scores is not None:
            obj.scores  # noqa: B018 -- a search's pending score becomes a shared map
        self._take_slots(obj)

    def _init_from_dict(self, data: dict[str, Any]) -> None:
        from shoal.document.codec import doc_from_dict  # noqa: PLC0415

        self._take_slots(doc_from_dict(data))
        self._reown()

    def _init_from_dataclass(self, obj: Any) -> None:
        from shoal.document.dataclass import to_document  # noqa: PLC0415

        self._take_slots(to_document(obj))
        for chunk in self._chunks or ():
            chunk.parent_id = self._id
        self._reown()

    def _apply(self, given: dict[str, Any], unknown: dict[str, Any]) -> None:
        """Set ``given`` fields in DocArray's order (content fields last, so the last of
        text / blob / tensor / content wins; ``tags`` and unknown keywords merge into tags)."""
        for name in _APPLY_ORDER:
            if name not in given:
                continue
            value = given[name]
            if name == "tags":
                self.tags.update(value)
            elif name == "uri":
                set_uri(self, value)
            elif name == "mime_type":
                self.mime_type = normalize_mime_type(value)
            elif name in ("scores", "evaluations"):
                if value:
                    setattr(self, name, value)
            else:
                setattr(self, name, value)
        if unknown:
            self.tags.update(unknown)

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
        if value is not None:  # text, blob and tensor are one content (a oneof, as DocArray)
            self._blob = self._tensor = None
        self._text = value

    @property
    def blob(self) -> bytes | None:
        return self._blob

    @blob.setter
    def blob(self, value: bytes | None) -> None:
        _track(self)
        if value is not None:
            self._text = self._tensor = None
        self._blob = value

    @property
    def tensor(self) -> Any:
        return self._tensor

    @tensor.setter
    def tensor(self, value: Any) -> None:
        _track(self)
        if value is not None:
            self._text = self._blob = None
        self._tensor = value

    @property
    def content(self) -> Any:
        """Whichever of text, tensor, blob is set; setting one clears the others."""
        if self._text is not None:
            return self._text
        if self._tensor is not None:
            return self._tensor
        return self._blob

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
        """``'text'``, ``'tensor'``, ``'blob'`` or None."""
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
    def load_uri_to_text(self, encoding: str = "utf-8", *, charset: str | None = None,
                         timeout: float = 10.0) -> Document:
        """Read ``uri`` (local path or data URI) into ``text``; ``charset`` is DocArray's
        name for ``encoding``."""
        from shoal.document.uri import read_uri  # noqa: PLC0415

        data, encoding = read_uri(self.uri, timeout=timeout), charset or encoding
        try:
            self.text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            from shoal.errors import MalformedDataError  # noqa: PLC0415

            raise MalformedDataError(f"cannot decode {self.uri!r} as {encoding}: {exc}") from exc
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

        self.tensor = decode_image(read_uri(self.uri), width, height, channel_axis,
                                   source=_uri_label(self.uri))
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

    # --- conversions (shoal.document.conversions; DocArray's names and return values) ---
    def convert_text_to_datauri(self, charset: str = "utf-8", base64: bool = False) -> Document:
        """``text`` as a data URI in ``uri``."""
        return _conv().convert_text_to_datauri(self, charset, base64)

    def convert_blob_to_datauri(self, charset: str = "utf-8", base64: bool = False) -> Document:
        """``blob`` as a data URI in ``uri`` (needs ``mime_type``)."""
        return _conv().convert_blob_to_datauri(self, charset, base64)

    def convert_uri_to_datauri(self, charset: str = "utf-8", base64: bool = False) -> Document:
        """The content behind ``uri`` as a data URI in ``uri``."""
        return _conv().convert_uri_to_datauri(self, charset, base64)

    def convert_content_to_datauri(self) -> Document:
        """``text`` or ``blob`` as a data URI in ``uri``."""
        return _conv().convert_content_to_datauri(self)

    def get_vocabulary(self, text_attrs: tuple[str, ...] = ("text",)) -> dict[str, int]:
        """Word -> count over ``text_attrs`` (DocArray's tokenizer)."""
        return _conv().get_vocabulary(self, text_attrs)

    def convert_text_to_tensor(self, vocab: dict[str, int], max_length: int | None = None,
                               dtype: str = "int64") -> Document:
        """``text`` as a tensor of word indices from ``vocab`` (0 pads, 1 is unknown)."""
        return _conv().convert_text_to_tensor(self, vocab, max_length, dtype)

    def convert_tensor_to_text(self, vocab: dict, delimiter: str = " ") -> Document:
        """A tensor of word indices back to ``text``."""
        return _conv().convert_tensor_to_text(self, vocab, delimiter)

    def convert_blob_to_tensor(self, dtype: str | None = None, count: int = -1,
                               offset: int = 0) -> Document:
        """``blob`` as a raw ndarray buffer into ``tensor``."""
        return _conv().convert_blob_to_tensor(self, dtype, count, offset)

    def convert_tensor_to_blob(self) -> Document:
        """``tensor``'s raw bytes into ``blob``."""
        return _conv().convert_tensor_to_blob(self)

    def save_uri_to_file(self, file: Any) -> Document:
        """Write the content behind ``uri`` to a path or binary file object."""
        return _conv().save_uri_to_file(self, file)

    def save_blob_to_file(self, file: Any) -> Document:
        """Write ``blob`` to a path or binary file object."""
        return _conv().save_blob_to_file(self, file)

    def embed_feature_hashing(self, n_dim: int = 256, sparse: bool = False,
                              fields: tuple[str, ...] = ("text", "tags"),
                              max_value: int = 1_000_000) -> Document:
        """A fixed-size ``embedding`` from ``fields`` by the hashing trick (DocArray's)."""
        return _conv().embed_feature_hashing(self, n_dim, sparse, fields, max_value)

    def convert_image_tensor_to_uri(self, channel_axis: int = -1,
                                    image_format: str = "png") -> Document:
        """The image ``tensor`` as a base64 data ``uri`` (PNG / JPEG)."""
        return _conv().convert_image_tensor_to_uri(self, channel_axis, image_format)

    def convert_image_tensor_to_blob(self, channel_axis: int = -1,
                                     image_format: str = "png") -> Document:
        """The image ``tensor`` encoded into ``blob`` (PNG / JPEG)."""
        return _conv().convert_image_tensor_to_blob(self, channel_axis, image_format)

    def save_image_tensor_to_file(self, file: Any, channel_axis: int = -1,
                                  image_format: str = "png") -> Document:
        """Write the image ``tensor`` to a file (PNG / JPEG)."""
        return _conv().save_image_tensor_to_file(self, file, channel_axis, image_format)

    def convert_image_tensor_to_sliding_windows(self, window_shape: tuple[int, int] = (64, 64),
                                                strides: tuple[int, int] | None = None,
                                                padding: bool = False, channel_axis: int = -1,
                                                as_chunks: bool = False) -> Document:
        """The image ``tensor`` cut into ``window_shape`` patches (``tensor`` (n, h, w, c),
        or one chunk per patch with its ``location``); see shoal.document.media."""
        from shoal.document import media  # noqa: PLC0415

        return media.convert_image_tensor_to_sliding_windows(
            self, window_shape, strides, padding, channel_axis, as_chunks)

    def load_uri_to_audio_tensor(self) -> Document:
        """The WAV file at ``uri`` as a float32 ``tensor`` in [-1, 1) (mono 1-D, else
        (frames, channels))."""
        from shoal.document import media  # noqa: PLC0415

        return media.load_uri_to_audio_tensor(self)

    def save_audio_tensor_to_file(self, file: Any, sample_rate: int = 44100,
                                  sample_width: int = 2) -> Document:
        """Write the float audio ``tensor`` as a WAV file (path or binary file object)."""
        from shoal.document import media  # noqa: PLC0415

        return media.save_audio_tensor_to_file(self, file, sample_rate, sample_width)

    def set_image_tensor_channel_axis(self, original_channel_axis: int,
                                      new_channel_axis: int) -> Document:
        """Move the channel axis of the image ``tensor``."""
        return _conv().set_image_tensor_channel_axis(self, original_channel_axis,
                                                     new_channel_axis)

    def set_image_tensor_shape(self, shape: tuple[int, int], channel_axis: int = -1) -> Document:
        """Resize the image ``tensor`` to (H, W) by nearest neighbour."""
        return _conv().set_image_tensor_shape(self, shape, channel_axis)

    def set_image_tensor_resample(self, ratio: float, channel_axis: int = -1) -> Document:
        """Scale the image ``tensor`` by ``ratio``."""
        return _conv().set_image_tensor_resample(self, ratio, channel_axis)

    def set_image_tensor_normalization(self, channel_axis: int = -1,
                                       img_mean: tuple[float, ...] = (0.485, 0.456, 0.406),
                                       img_std: tuple[float, ...] = (0.229, 0.224, 0.225),
                                       ) -> Document:
        """A uint8 image ``tensor`` to a standardized float32 one."""
        return _conv().set_image_tensor_normalization(self, channel_axis, img_mean, img_std)

    def set_image_tensor_inv_normalization(self, channel_axis: int = -1,
                                           img_mean: tuple[float, ...] = (0.485, 0.456, 0.406),
                                           img_std: tuple[float, ...] = (0.229, 0.224, 0.225),
                                           ) -> Document:
        """Undo :meth:`set_image_tensor_normalization` (back to uint8)."""
        return _conv().set_image_tensor_inv_normalization(self, channel_axis, img_mean, img_std)

    @property
    def content_hash(self) -> int:
        """A hash of every field but tensor and embedding (the id included, as DocArray);
        stable across processes."""
        return _conv().content_hash(self)

    @property
    def nbytes(self) -> int:
        """The size of this Document's protobuf bytes."""
        return len(self.to_bytes())

    def display(self, from_: str | None = None) -> None:
        """DocArray plots images in a notebook; shoal prints :meth:`summary` instead."""
        self.summary()

    # --- clearing fields ----------------------------------------------------------
    def pop(self, *fields: str) -> None:
        """Reset ``fields`` to their defaults (``None`` / 0 / empty). The id stays: a shoal
        Document always has one."""
        for name in fields:
            self._pop(name)

    def clear(self) -> None:
        """Reset every field but the id to its default."""
        self.pop(*(n for n in self.non_empty_fields if n != "id"))

    def _pop(self, name: str) -> None:
        if name in ("granularity", "adjacency"):
            setattr(self, name, 0)
        elif name == "content":
            self.content = None
        elif name in _PRIVATE:
            if name != "id":
                setattr(self, "_" + name, None)
        elif name in _KEYWORDS:
            setattr(self, name, None)
        elif name not in _DOCARRAY_ONLY:
            from shoal.errors import BadInputError  # noqa: PLC0415

            raise BadInputError(f"{name!r} is not a Document field; fields are {', '.join(FIELDS)}")

    # --- compute ------------------------------------------------------------------
    def embed(self, embed_model: Any, *args: Any, **kwargs: Any) -> Document:
        """Fill ``embedding`` with ``embed_model``; see :meth:`DocumentArray.embed`."""
        from shoal.document.array import DocumentArray  # noqa: PLC0415

        DocumentArray([self]).embed(embed_model, *args, **kwargs)
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
    def from_dict(cls, data: dict[str, Any], field_resolver: dict[str, str] | None = None,
                  unknown_fields_handler: str = "catch") -> Document:
        """A Document from a dict (see :meth:`to_dict`); ``field_resolver`` renames keys onto
        fields, ``unknown_fields_handler`` catches other keys into tags, drops or refuses them."""
        from shoal.document.codec import doc_from_dict  # noqa: PLC0415

        if isinstance(data, dict):
            data = resolve_fields(data, field_resolver, unknown_fields_handler)
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

    def get_multi_modal_attribute(self, name: str) -> Any:
        """The Documents holding field ``name`` of a multimodal Document (made from a
        :func:`shoal.dataclass`): a DocumentArray of its chunk, or of a list field's items."""
        from shoal.document.dataclass import get_multi_modal_attribute  # noqa: PLC0415

        return get_multi_modal_attribute(self, name)

    @property
    def is_multimodal(self) -> bool:
        """Whether this Document was made from a multimodal dataclass (DocArray's)."""
        from shoal.document.dataclass import has_schema  # noqa: PLC0415

        return has_schema(self)

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

    def summary(self) -> None:
        """Print a tree-shaped summary of this Document and its chunks / matches (as
        DocArray: nothing returned)."""
        print("\n".join(_summary_lines(self, 0)))

    def __iter__(self) -> Iterator[Document]:  # a Document is not iterable; avoid surprises
        raise TypeError("Document is not iterable; iterate over .chunks or .matches")


def _uri_label(uri: str | None) -> str:
    """How an error names the file an image came from (a data URI: not its bytes)."""
    if not uri:
        return ""
    return "from a data URI" if uri.startswith("data:") else repr(uri)


_PRIVATE = {"id", "text", "blob", "tensor", "embedding", "tags", "chunks", "matches",
            "scores", "evaluations"}
_CONTAINERS = {"tags", "chunks", "matches", "scores", "evaluations"}


def _conv() -> Any:
    from shoal.document import conversions  # noqa: PLC0415

    return conversions


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
