"""Documents as JSON-ready dicts and JSON text (DocArray / Jina-style JSON accepted).

ndarrays as ``{"dtype", "shape", "data"}`` (or nested lists), ``blob`` as base64 text.
DocArray 0.21's protobuf-JSON (``to_json(protocol='protobuf')``) is recognised and read too.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Iterable

from shoal.document.codec import docarray_format
from shoal.document.codec.jsontext import _plain, dumps_json, loads_json
from shoal.document.codec.ndarray import _to_numpy, ndarray_from_dict, ndarray_to_dict
from shoal.document.codec.proto_decode import _set_children
from shoal.document.document import Document
from shoal.document.score import NamedScore
from shoal.errors import BadInputError, MalformedDataError

__all__ = [
    "doc_to_dict", "doc_from_dict", "docs_to_dicts", "docs_from_dicts", "docs_to_json",
    "docs_from_json",
]


def _score_dict(scores: dict) -> dict[str, dict[str, Any]]:
    return {k: s.to_dict() for k, s in scores.items()}


def doc_to_dict(doc: Document, *, array_format: str | None = None,
                protocol: str | None = None, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-ready dict of the non-empty fields (``id`` always).

    ``array_format='base64'`` (default) writes tensors / embeddings as
    ``{"dtype", "shape", "data"}``; ``'list'`` (or DocArray's ``protocol='jsonschema'``)
    writes nested lists. ``exclude`` drops fields by name.
    """
    if array_format is None:
        array_format = "list" if protocol == "jsonschema" else "base64"
    if array_format not in ("base64", "list"):
        raise BadInputError(f"array_format must be 'base64' or 'list', got {array_format!r}")
    as_list = array_format == "list"
    skip = set(exclude)
    out: dict[str, Any] = {"id": doc._id}
    for name in doc.non_empty_fields:
        if name in skip or name == "id":
            continue
        v = getattr(doc, name)
        if name in ("tensor", "embedding"):
            arr = _to_numpy(v) if as_list else None
            # plain lists only for real numbers (JSON has no complex or date values)
            out[name] = arr.tolist() if arr is not None and arr.dtype.kind in "biuf" \
                else ndarray_to_dict(v)
        elif name == "blob":
            out[name] = base64.b64encode(v).decode("ascii")
        elif name == "tags":
            out[name] = _plain(v)
        elif name in ("chunks", "matches"):
            out[name] = [doc_to_dict(c, array_format=array_format, exclude=skip) for c in v]
        elif name in ("scores", "evaluations"):
            out[name] = _plain(_score_dict(v))
        else:
            out[name] = _plain(v)
    return out


_STR_FIELDS = ("parent_id", "text", "uri", "mime_type", "modality")
_NUM_FIELDS = ("offset", "weight")


def _scores_from_dict(obj: Any, where: str) -> dict[str, NamedScore]:
    if not isinstance(obj, dict):
        raise MalformedDataError(f"{where} must be an object of name -> score")
    out = {}
    for key, s in obj.items():
        if isinstance(s, (int, float)) and not isinstance(s, bool) or s is None:
            out[key] = NamedScore(value=s)
            continue
        if not isinstance(s, dict):
            raise MalformedDataError(f"{where}[{key!r}] must be a number or an object")
        value = s.get("value")
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, float))):
            raise MalformedDataError(f"{where}[{key!r}].value must be a number")
        out[key] = NamedScore(value=value, op_type=s.get("op_type"),
                              description=s.get("description"), ref_id=s.get("ref_id"))
    return out


def doc_from_dict(d: Any) -> Document:
    """A Document from a dict made by :func:`doc_to_dict` or from Jina-style JSON.

    Keys that are not fields land in ``tags`` (as ``Document(color='red')`` does);
    ``embedding`` / ``tensor`` may be array dicts or plain lists of numbers.
    """
    if not isinstance(d, dict):
        raise MalformedDataError(f"a Document must be a JSON object, got {type(d).__name__}")
    if docarray_format.is_docarray_dict(d):
        d = docarray_format.docarray_dict_to_shoal(d)
    kw: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    children: dict[str, list[Document]] = {}
    for key, v in d.items():
        if v is None:
            continue
        where = f"Document field {key!r}"
        if key == "id":
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                raise MalformedDataError(f"{where} must be a string")
            kw["id"] = str(v)
        elif key in _STR_FIELDS:
            if not isinstance(v, str):
                raise MalformedDataError(f"{where} must be a string, got {type(v).__name__}")
            kw[key] = v
        elif key in ("granularity", "adjacency"):
            if not isinstance(v, int) or isinstance(v, bool):
                raise MalformedDataError(f"{where} must be an integer")
            kw[key] = v
        elif key in _NUM_FIELDS:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise MalformedDataError(f"{where} must be a number")
            kw[key] = v
        elif key == "blob":
            if isinstance(v, (bytes, bytearray)):
                kw[key] = bytes(v)
            else:
                try:
                    kw[key] = base64.b64decode(v, validate=True)
                except (binascii.Error, TypeError, ValueError) as exc:
                    raise MalformedDataError(f"{where} must be base64 text: {exc}") from exc
        elif key in ("tensor", "embedding"):
            kw[key] = ndarray_from_dict(v, where)
        elif key == "tags":
            if not isinstance(v, dict):
                raise MalformedDataError(f"{where} must be an object")
            kw[key] = dict(v)
        elif key == "location":
            if not isinstance(v, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                raise MalformedDataError(f"{where} must be a list of numbers")
            kw[key] = v
        elif key in ("chunks", "matches"):
            if not isinstance(v, list):
                raise MalformedDataError(f"{where} must be a list of Documents")
            children[key] = [doc_from_dict(c) for c in v]
        elif key in ("scores", "evaluations"):
            kw[key] = _scores_from_dict(v, where)
        elif key == "content":
            kw[key] = v
        else:
            extra[key] = v
    if extra:
        kw["tags"] = {**kw.get("tags", {}), **extra}
    doc = Document(**kw)
    for key, kids in children.items():
        _set_children(doc, key, kids)
    return doc


def docs_to_dicts(docs: Iterable[Document], **kwargs: Any) -> list[dict[str, Any]]:
    """A list of :func:`doc_to_dict` dicts."""
    return [doc_to_dict(d, **kwargs) for d in docs]


def docs_from_dicts(items: Any) -> list[Document]:
    """Documents from a list of dicts (Jina-style ``{"text": ...}`` accepted; so is the
    ``{"docs": [...]}`` of a protobuf-JSON ``DocumentArrayProto``)."""
    if isinstance(items, dict) and len(items) == 1 and isinstance(items.get("docs"), list):
        items = items["docs"]
    if not isinstance(items, list):
        raise MalformedDataError(
            f"documents must be a JSON list, got {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(doc_from_dict(item))
        except MalformedDataError as exc:
            raise MalformedDataError(f"document {i}: {exc}") from exc
    return out


def docs_to_json(docs: Iterable[Document], **kwargs: Any) -> str:
    """A JSON list of Document dicts (see :func:`doc_to_dict` for ``kwargs``)."""
    return dumps_json(docs_to_dicts(docs, **kwargs), "documents")


def docs_from_json(data: str | bytes) -> list[Document]:
    """Documents from JSON text made by :func:`docs_to_json` (or a Jina-style list)."""
    return docs_from_dicts(loads_json(data))
