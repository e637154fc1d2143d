"""Multimodal dataclasses: ``@dataclass class Page: title: Text; cover: Image``.

``Document(page)`` turns an instance into a Document whose chunks carry one field each
(with ``modality`` set: text, image, json, audio, blob...); ``Page(doc)`` or
``Page.from_document(doc)`` turns it back. Fields of plain types (int, str, float,
bool, list, dict without a shoal.typing annotation) are kept in the Document's tags.
The field-to-chunk map lives in ``doc.tags['_multimodal']``.
"""
from __future__ import annotations

import base64
import dataclasses
import types
import typing
from typing import Any, Callable

import numpy as np

from shoal.errors import BadInputError
from shoal.typing import MODALITY

from shoal.document.document import Document

__all__ = ["dataclass", "field", "is_multimodal", "to_document", "from_document",
           "get_multi_modal_attribute", "has_schema"]

_SCHEMA_TAG = "_multimodal"
_MARK = "__shoal_multimodal__"


def field(*, setter: Callable[[Any], Document] | None = None,
          getter: Callable[[Document], Any] | None = None, **kwargs: Any) -> Any:
    """A dataclass field with an optional custom ``setter(value) -> Document`` and
    ``getter(Document) -> value``; other keywords go to :func:`dataclasses.field`."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata.update(shoal_setter=setter, shoal_getter=getter)
    return dataclasses.field(metadata=metadata, **kwargs)


def dataclass(cls: type | None = None, **kwargs: Any) -> Any:
    """Like :func:`dataclasses.dataclass`, and marks the class as multimodal.

    The class also accepts a Document: ``Page(doc)`` is ``Page.from_document(doc)``.
    """
    def wrap(c: type) -> type:
        dc = dataclasses.dataclass(c, **kwargs)
        setattr(dc, _MARK, True)
        original_init = dc.__init__

        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            if len(args) == 1 and not kw and isinstance(args[0], Document):
                other = from_document(type(self), args[0])
                for f in dataclasses.fields(dc):
                    object.__setattr__(self, f.name, getattr(other, f.name))
                return
            original_init(self, *args, **kw)

        dc.__init__ = __init__
        dc.from_document = classmethod(lambda klass, doc: from_document(klass, doc))
        return dc

    return wrap if cls is None else wrap(cls)


def is_multimodal(obj: Any) -> bool:
    """True for an instance (or class) made with :func:`dataclass`."""
    return getattr(obj, _MARK, False) is True


def _modality(tp: Any) -> str | None:
    return MODALITY.get(_unoptional(tp))


def _unoptional(tp: Any) -> Any:
    """``Optional[Text]`` -> ``Text`` (a field that may be None keeps its modality)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # Optional[X], X | None
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _list_item_type(tp: Any) -> Any:
    tp = _unoptional(tp)
    if typing.get_origin(tp) in (list, typing.List):
        args = typing.get_args(tp)
        return args[0] if args else None
    return None


def _chunk_for(value: Any, tp: Any, modality: str | None) -> Document:
    if is_multimodal(value):
        chunk = to_document(value)
        return chunk
    if modality == "image" and type(value).__module__.startswith("PIL."):  # a PIL image
        return Document(tensor=np.asarray(value), modality=modality)
    if modality in ("image", "audio", "video", "mesh", "tabular") and isinstance(value, str):
        chunk = Document(uri=value, modality=modality)  # the uri gives the mime_type
        if modality == "image":
            chunk.load_uri_to_image_tensor()
        elif modality == "audio" and value.lower().endswith(".wav"):
            chunk.load_uri_to_audio_tensor()  # as DocArray: the samples as a tensor
        elif modality == "tabular":  # as DocArray: one chunk per CSV row
            from shoal.document.array import DocumentArray  # noqa: PLC0415

            chunk.chunks.extend(DocumentArray.from_csv(value))
        else:
            chunk.load_uri_to_blob()
        return chunk
    chunk = Document(modality=modality)
    if modality == "text":
        chunk.text = value
    elif modality == "json":
        chunk.tags = value
    elif modality == "blob":
        chunk.blob = value
    elif isinstance(value, np.ndarray) or hasattr(value, "shape"):
        chunk.tensor = value
    else:
        raise BadInputError(
            f"cannot store {type(value).__name__} as modality {modality!r}; give a path or "
            "URI string, an ndarray" + (" or a PIL image" if modality == "image" else ""))
    return chunk


def to_document(obj: Any) -> Document:
    """The Document for a multimodal dataclass instance."""
    if not is_multimodal(obj) or isinstance(obj, type):
        raise BadInputError(f"{obj!r} is not an instance of a shoal @dataclass")
    hints = typing.get_type_hints(type(obj))
    doc = Document()
    schema: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        tp = hints.get(f.name, f.type)
        setter = f.metadata.get("shoal_setter")
        item_tp = _list_item_type(tp)
        modality = _modality(tp)
        if value is None:
            schema[f.name] = {"kind": "none"}
        elif setter is not None:
            chunk = setter(value)
            schema[f.name] = {"kind": "chunk", "position": len(doc.chunks), "custom": True}
            doc.chunks.append(chunk)
        elif modality is not None or is_multimodal(value):
            chunk = _chunk_for(value, tp, modality)
            schema[f.name] = {"kind": "chunk", "position": len(doc.chunks),
                              "modality": modality or "nested"}
            doc.chunks.append(chunk)
        elif item_tp is not None and (_modality(item_tp) or dataclasses.is_dataclass(item_tp)):
            holder = Document(modality="list")
            holder.chunks.extend(_chunk_for(v, item_tp, _modality(item_tp)) for v in value)
            schema[f.name] = {"kind": "list", "position": len(doc.chunks),
                              "modality": _modality(item_tp) or "nested"}
            doc.chunks.append(holder)
        elif isinstance(value, (bytes, bytearray)):  # as DocArray: base64 text in the tags
            doc.tags[f.name] = base64.b64encode(bytes(value)).decode("ascii")
            schema[f.name] = {"kind": "tag", "type": "bytes"}
        else:
            doc.tags[f.name] = value
            schema[f.name] = {"kind": "tag"}
    doc.tags[_SCHEMA_TAG] = {"class": type(obj).__name__, "fields": schema}
    return doc


def _value_of(chunk: Document, modality: str | None, tp: Any) -> Any:
    if modality == "nested":
        return from_document(_unoptional(tp), chunk)
    if modality == "text":
        return chunk.text
    if modality == "json":
        return dict(chunk.tags)
    if modality == "blob":
        return chunk.blob
    if chunk.tensor is not None:
        return chunk.tensor if chunk.uri is None else chunk.uri
    return chunk.uri


def from_document(cls: type, doc: Document) -> Any:
    """The dataclass instance ``cls`` described by ``doc`` (made by :func:`to_document`)."""
    schema = (doc.tags.get(_SCHEMA_TAG) or {}).get("fields")
    if schema is None:
        raise BadInputError(
            f"Document {doc.id!r} was not made from a multimodal dataclass (no "
            f"tags[{_SCHEMA_TAG!r}]); build it with Document({cls.__name__}(...))"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        spec = schema.get(f.name, {"kind": "none"})
        kind = spec["kind"]
        tp = hints.get(f.name, f.type)
        if kind == "none":
            values[f.name] = None
        elif kind == "tag":
            value = doc.tags.get(f.name)
            if spec.get("type") == "bytes" and isinstance(value, str):
                value = base64.b64decode(value)
            values[f.name] = value
        elif kind == "chunk":
            chunk = doc.chunks[spec["position"]]
            getter = f.metadata.get("shoal_getter")
            values[f.name] = getter(chunk) if getter else _value_of(chunk, spec.get("modality"), tp)
        else:
            item_tp = _list_item_type(tp)
            holder = doc.chunks[spec["position"]]
            values[f.name] = [_value_of(c, spec.get("modality"), item_tp) for c in holder.chunks]
    obj = cls.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


def get_multi_modal_attribute(doc: Document, name: str) -> Any:
    """The Documents holding field ``name`` of a multimodal Document, as DocArray: a
    DocumentArray of its one chunk, or of a list field's items."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    schema = (doc.tags.get(_SCHEMA_TAG) or {}).get("fields") or {}
    spec = schema.get(name)
    if spec is None or spec["kind"] not in ("chunk", "list"):
        raise BadInputError(
            f"Document {doc.id!r} has no multimodal field {name!r} held in chunks; fields: "
            f"{sorted(schema)}")
    chunk = doc.chunks[spec["position"]]
    return chunk.chunks if spec["kind"] == "list" else DocumentArray([chunk])


def has_schema(doc: Document) -> bool:
    """Whether ``doc`` was made from a multimodal dataclass (DocArray's ``is_multimodal``)."""
    tags = doc._tags  # noqa: SLF001 - no tags dict created for the question
    return bool(tags) and isinstance(tags.get(_SCHEMA_TAG), dict)
