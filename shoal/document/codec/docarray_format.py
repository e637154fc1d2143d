"""DocArray 0.21's protobuf formats, read into shoal Documents (and written back).

Read: ``DocumentProto`` / ``DocumentArrayProto`` bytes (``protocol='protobuf-array'``),
the streamed ``save_binary`` layout (``protocol='protobuf'``, each Document compressed on
its own), any ``compress=``, and protobuf-JSON (``to_json(protocol='protobuf')``:
camelCase keys, base64 buffers). :mod:`docarray_sniff` tells these from shoal's bytes;
pickle is refused, never loaded. Mapping choices (DocArray's schema has no presence):

* an empty string / zero number is "not set", as DocArray reads it; a score without a
  value reads as ``0.0`` (proto3 cannot tell it from a 0.0 cosine distance);
* float32 fields (weight, offset, location, score values) are read as their shortest
  decimal (``0.1``, not ``0.10000000149011612``), as the JSON form writes them;
* tags come back as DocArray returns them (``google.protobuf.Struct``: numbers are floats);
* tensors / embeddings become numpy arrays whatever ``cls_name`` says (torch, list ...),
  in their stored byte order; sparse ones are densified; ``_metadata`` (multimodal
  schema) lands in ``tags['_docarray_metadata']``.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Iterable

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from shoal.document.codec.compression import compress_bytes, decompress_bytes
from shoal.document.codec.docarray_sniff import (
    array_is_docarray, compression_of, doc_is_docarray, is_pickle, names_docarray,
    stream_payloads,
)
from shoal.document.codec.ndarray import _ALLOWED_KINDS, checked_dtype
from shoal.document.codec.proto_decode import _set_children
from shoal.document.codec.proto_encode import _varint, gc_paused
from shoal.document.codec.docarray_schema import (
    SHOAL_SCHEMA_TAG, from_docarray_schema, to_docarray_schema,
)
from shoal.document.document import Document
from shoal.document.score import NamedScore
from shoal.errors import BadInputError, MalformedDataError
from shoal.proto import docarray021_pb2 as dpb

__all__ = ["METADATA_TAG", "read_array", "read_doc", "refuse_pickle",
           "docs_from_docarray_bytes", "doc_from_docarray_bytes", "is_docarray_dict",
           "docarray_dict_to_shoal", "docs_to_docarray_bytes", "doc_to_docarray_bytes"]

#: the tag that holds a DocArray Document's ``_metadata`` (its multimodal schema)
METADATA_TAG = "_docarray_metadata"
_FD_NAMES = {fd: name for name, fd in dpb.DocumentProto.DESCRIPTOR.fields_by_name.items()}
_SCALARS = {"id", "text", "blob", "granularity", "adjacency", "parent_id", "uri",
            "modality", "mime_type"}
_F32 = {"weight", "offset"}
_MAX_DENSE = 1 << 28  # elements a sparse array may densify to
_RESAVE = ("re-save it with DocArray 0.21 as protobuf, e.g. DocumentArray.load_binary(path)"
           ".save_binary(new_path, protocol='protobuf') or .to_bytes(protocol='protobuf'), "
           "and load that")


# --- errors -------------------------------------------------------------------------------

def refuse_pickle(raw: bytes) -> None:
    """Raise the error for pickled bytes that shoal is not asked to unpickle."""
    if names_docarray(raw):
        raise BadInputError(
            "this is a DocArray pickle (protocol 'pickle' / 'pickle-array', DocArray's "
            f"default); shoal never unpickles DocArray data: {_RESAVE}")
    raise MalformedDataError(
        "this is pickled data; pass protocol='pickle' to read it, and only if it is shoal "
        "data you trust")


# --- arrays -------------------------------------------------------------------------------

def _f32(v: float) -> float:
    return float(str(np.float32(v)))


def _dtype(name: str) -> np.dtype:
    return checked_dtype(name, "DocArray array")


def _dense(buf: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """DocArray's dense array: ``dtype.str`` byte order kept, returned native and writable."""
    if not buf and not shape:
        return None
    dt = _dtype(dtype) if dtype or buf else np.dtype(np.float64)
    count = 1
    for n in shape:
        count *= n
    if count * dt.itemsize != len(buf):
        raise MalformedDataError(
            f"DocArray array of dtype {dtype} and shape {list(shape)} needs "
            f"{count * dt.itemsize} bytes, got {len(buf)}")
    arr = np.frombuffer(bytearray(buf), dt).reshape(shape)
    return arr if dt.isnative or dt.itemsize == 1 else arr.astype(dt.newbyteorder("="))


def _sparse(indices: np.ndarray | None, values: np.ndarray | None, shape: tuple[int, ...],
            cls_name: str) -> np.ndarray:
    """A dense array from COO indices and values (duplicates summed). Indices are
    (nnz, ndim) as scipy / tensorflow write them, (ndim, nnz) for torch."""
    count = 1
    for n in shape:
        count *= n
    if count > _MAX_DENSE:
        raise BadInputError(f"DocArray sparse array of shape {list(shape)} is too big to "
                            f"densify ({count} > {_MAX_DENSE} elements)")
    if values is None or indices is None:
        return np.zeros(shape)
    out = np.zeros(shape, values.dtype)
    try:
        idx = indices if cls_name == "torch" else indices.T
        np.add.at(out, tuple(idx.reshape(len(shape), -1)), values.reshape(-1))
    except (IndexError, ValueError) as exc:
        raise MalformedDataError(f"DocArray sparse array does not fit shape {shape}") from exc
    return out


def _nd_from_proto(nd: Any) -> np.ndarray | None:
    if nd.WhichOneof("content") == "sparse":
        sp = nd.sparse
        ind, val = (_dense(m.buffer, m.dtype, tuple(m.shape)) for m in (sp.indices, sp.values))
        return _sparse(ind, val, tuple(sp.shape), nd.cls_name)
    d = nd.dense
    return _dense(d.buffer, d.dtype, tuple(d.shape))


class _Embeddings:
    """Dense embeddings grouped by (dtype, shape), decoded in one numpy call per group."""

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: dict[tuple[str, tuple[int, ...]], tuple[list[Document], list[bytes]]] = {}

    def add(self, d: Document, nd: Any) -> None:
        dense = nd.dense
        if nd.WhichOneof("content") != "dense" or not dense.buffer:
            d.embedding = _nd_from_proto(nd)
            return
        docs, bufs = self.groups.setdefault((dense.dtype, tuple(dense.shape)), ([], []))
        docs.append(d)
        bufs.append(dense.buffer)

    def flush(self) -> None:
        for (dtype, shape), (docs, bufs) in self.groups.items():
            mat = _dense(b"".join(bufs), dtype, (len(docs), *shape))
            for d, row in zip(docs, mat, strict=True):
                d.embedding = row


def _with_metadata(tags: dict[str, Any], metadata: Any) -> dict[str, Any]:
    """``tags`` plus DocArray's ``_metadata`` as it was, and its multimodal schema as
    shoal's (so ``MyDataclass(doc)`` and ``.[field]`` paths work on DocArray's Documents)."""
    out = {**tags, METADATA_TAG: metadata}
    schema = from_docarray_schema(metadata) if isinstance(metadata, dict) else None
    if schema is not None and SHOAL_SCHEMA_TAG not in out:
        out[SHOAL_SCHEMA_TAG] = schema
    return out


def _scores(entries: Any) -> dict[str, NamedScore]:
    return {k: NamedScore(value=_f32(s.value), op_type=s.op_name or None,
                          description=s.description or None, ref_id=s.ref_id or None)
            for k, s in entries.items()}


def _doc_from_proto(p: Any, emb: _Embeddings) -> Document:
    kw: dict[str, Any] = {}
    kids: dict[str, list[Document]] = {}
    embedding = metadata = None
    for fd, v in p.ListFields():
        name = _FD_NAMES[fd]
        if name in _SCALARS:
            kw[name] = v
        elif name in _F32:
            kw[name] = _f32(v)
        elif name == "location":
            kw[name] = [_f32(x) for x in v]
        elif name == "tensor":
            kw[name] = _nd_from_proto(v)
        elif name == "embedding":
            embedding = v
        elif name == "tags":
            kw[name] = json_format.MessageToDict(v)
        elif name == "_metadata":
            metadata = json_format.MessageToDict(v)
        elif name in ("chunks", "matches"):
            kids[name] = [_doc_from_proto(c, emb) for c in v]
        elif name in ("scores", "evaluations"):
            kw[name] = _scores(v)
    if metadata:
        kw["tags"] = _with_metadata(kw.get("tags", {}), metadata)
    d = Document(**kw)
    if embedding is not None:
        emb.add(d, embedding)
    for name, children in kids.items():
        _set_children(d, name, children)
    return d


def _decode(protos: Iterable[Any]) -> list[Document]:
    emb = _Embeddings()
    try:
        with gc_paused():
            out = [_doc_from_proto(p, emb) for p in protos]
            emb.flush()
    except (MalformedDataError, BadInputError):
        raise
    except (ValueError, TypeError) as exc:
        raise MalformedDataError(f"cannot decode DocArray documents: {exc}") from exc
    return out


def _parse(message: Any, data: bytes, what: str) -> Any:
    try:
        message.ParseFromString(data)
    except (DecodeError, TypeError, ValueError, RuntimeError) as exc:
        raise MalformedDataError(
            f"cannot parse a DocArray {what} from {len(data)} bytes: {exc}") from exc
    return message


def docs_from_docarray_bytes(raw: bytes) -> list[Document]:
    """Documents from DocArray ``DocumentArrayProto`` bytes (uncompressed)."""
    return _decode(_parse(dpb.DocumentArrayProto(), raw, "DocumentArray").docs)


def doc_from_docarray_bytes(raw: bytes) -> Document:
    """A Document from DocArray ``DocumentProto`` bytes (uncompressed)."""
    return _decode([_parse(dpb.DocumentProto(), raw, "Document")])[0]


# --- sniffing entry points (codec.binary) -------------------------------------------------

def _decompress(data: bytes, compress: str | None, fits: Any) -> bytes:
    """``data`` decompressed as given, else as its magic bytes say. DocArray writes
    ``'protobuf-array'`` / ``'pickle-array'`` with ``compress='zlib'`` uncompressed: such
    data (``fits`` it, or is pickle) is returned as is."""
    if not compress:
        found = compression_of(data)
        return decompress_bytes(data, found) if found else data
    try:
        return decompress_bytes(data, compress)
    except MalformedDataError:
        if compress == "zlib" and compression_of(data) is None and (is_pickle(data)
                                                                    or fits(data)):
            return data
        raise


def stream_documents(payloads: list[bytes]) -> list[Document]:
    """The Documents of payloads of DocArray's streamed layout (each compressed or not,
    as its magic bytes say; a pickle is refused)."""
    return _stream_docs(payloads, None)


def _stream_docs(payloads: list[bytes], compress: str | None) -> list[Document]:
    parts = []
    for p in payloads:
        p = decompress_bytes(p, compress or compression_of(p))
        if is_pickle(p):
            refuse_pickle(p)
        parts.append(b"\x0a" + _varint(len(p)) + p)
    return docs_from_docarray_bytes(b"".join(parts))


def read_array(data: bytes, compress: str | None) -> tuple[bytes, list[Document] | None]:
    """(the bytes decompressed, and their Documents if they are DocArray's, else None).

    DocArray pickle raises; None means the bytes are for shoal's own decoder.
    """
    payloads = stream_payloads(data)
    if payloads is not None:
        return b"", _stream_docs(payloads, compress)
    raw = _decompress(data, compress, array_is_docarray)
    if is_pickle(raw):
        refuse_pickle(raw)
    return (b"", docs_from_docarray_bytes(raw)) if array_is_docarray(raw) else (raw, None)


def read_doc(data: bytes, compress: str | None) -> tuple[bytes, Document | None]:
    """:func:`read_array` for one Document's bytes."""
    raw = _decompress(data, compress, doc_is_docarray)
    if is_pickle(raw):
        refuse_pickle(raw)
    return (b"", doc_from_docarray_bytes(raw)) if doc_is_docarray(raw) else (raw, None)


# --- protobuf-JSON (codec.dicts) ------------------------------------------------------------

_DA_KEYS = frozenset({"parentId", "mimeType", "Metadata", "_metadata"})
_DA_SCORE_KEYS = frozenset({"opName", "op_name", "refId"})
_RENAME = {"parentId": "parent_id", "mimeType": "mime_type"}


def is_docarray_dict(d: dict[str, Any]) -> bool:
    """True if a Document dict is DocArray protobuf-JSON (``MessageToDict`` output, with
    or without ``preserving_proto_field_name``) rather than shoal's dict form."""
    if not _DA_KEYS.isdisjoint(d):
        return True
    for key in ("embedding", "tensor"):
        v = d.get(key)
        if type(v) is dict and ("dense" in v or "sparse" in v):
            return True
    for key in ("scores", "evaluations"):
        v = d.get(key)
        if type(v) is dict and any(type(s) is dict and not _DA_SCORE_KEYS.isdisjoint(s)
                                   for s in v.values()):
            return True
    return False


def _num(v: Any, where: str) -> float:
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise MalformedDataError(f"{where} must be a number")
    return float(v)


def _b64(v: Any, where: str) -> bytes:
    if not isinstance(v, str):
        raise MalformedDataError(f"{where} must be base64 text")
    try:
        return base64.b64decode(v.replace("-", "+").replace("_", "/") + "=" * (-len(v) % 4),
                                validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedDataError(f"{where} is not valid base64: {exc}") from exc


def _shape(v: Any, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in (v or ()))  # uint64 / uint32 may arrive as strings
    except (TypeError, ValueError) as exc:
        raise MalformedDataError(f"{where}.shape must be a list of integers") from exc


def _dense_json(v: Any, where: str) -> np.ndarray | None:
    if not isinstance(v, dict):
        raise MalformedDataError(f"{where} must be an object")
    return _dense(_b64(v.get("buffer", ""), f"{where}.buffer"), v.get("dtype", ""),
                  _shape(v.get("shape"), where))


def _nd_json(v: Any, where: str) -> np.ndarray | None:
    if not isinstance(v, dict):
        raise MalformedDataError(f"{where} must be a DocArray NdArray object")
    if "sparse" in v:
        sp = v["sparse"]
        if not isinstance(sp, dict):
            raise MalformedDataError(f"{where}.sparse must be an object")
        return _sparse(_dense_json(sp.get("indices", {}), f"{where}.sparse.indices"),
                       _dense_json(sp.get("values", {}), f"{where}.sparse.values"),
                       _shape(sp.get("shape"), f"{where}.sparse"),
                       v.get("clsName", v.get("cls_name", "")))
    return _dense_json(v.get("dense", {}), f"{where}.dense")


def _scores_json(v: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(v, dict) or not all(isinstance(s, dict) for s in v.values()):
        raise MalformedDataError(f"{where} must be an object of name -> score object")
    return {k: {"value": _f32(_num(s.get("value", 0.0), f"{where}[{k!r}].value")),
                "op_type": s.get("opName", s.get("op_name")),
                "description": s.get("description"),
                "ref_id": s.get("refId", s.get("ref_id"))} for k, s in v.items()}


def docarray_dict_to_shoal(d: dict[str, Any]) -> dict[str, Any]:
    """A DocArray protobuf-JSON Document dict in shoal's dict form (children as they are:
    :func:`~shoal.document.codec.dicts.doc_from_dict` converts each in turn)."""
    out: dict[str, Any] = {}
    for key, v in d.items():
        where = f"DocArray Document field {key!r}"
        key = _RENAME.get(key, key)
        if key in ("tensor", "embedding"):
            out[key] = _nd_json(v, where)
        elif key == "blob":
            out[key] = _b64(v, where)
        elif key in _F32:
            out[key] = _f32(_num(v, where))
        elif key == "location":
            if not isinstance(v, list):
                raise MalformedDataError(f"{where} must be a list of numbers")
            out[key] = [_f32(_num(x, where)) for x in v]
        elif key in ("granularity", "adjacency"):
            out[key] = int(_num(v, where))
        elif key in ("scores", "evaluations"):
            out[key] = _scores_json(v, where)
        elif key in ("Metadata", "_metadata"):
            out["tags"] = _with_metadata(out.get("tags", {}), v)
        elif key == "tags":
            if not isinstance(v, dict):
                raise MalformedDataError(f"{where} must be an object")
            out["tags"] = {**v, **out.get("tags", {})}
        else:
            out[key] = v
    return out


# --- writing ------------------------------------------------------------------------------

def _set_nd(msg: Any, x: Any, what: str) -> None:
    arr = np.ascontiguousarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if arr.dtype.kind not in _ALLOWED_KINDS:
        raise BadInputError(f"{what} of dtype {arr.dtype} cannot be written for DocArray")
    msg.cls_name = "numpy"
    msg.dense.buffer = arr.tobytes()
    msg.dense.shape.extend(arr.shape)
    msg.dense.dtype = arr.dtype.str


def _to_proto(doc: Document, msg: Any) -> Any:
    present = doc.non_empty_fields
    msg.id = doc.id
    for name in ("text", "blob", "parent_id", "uri", "modality", "mime_type", "granularity",
                 "adjacency", "weight", "offset"):
        v = getattr(doc, name)
        if v:
            setattr(msg, name, v)
    if "location" in present:
        msg.location.extend(doc.location)
    if "tensor" in present:
        _set_nd(msg.tensor, doc.tensor, f"Document {doc.id!r} tensor")
    if "embedding" in present:
        _set_nd(msg.embedding, doc.embedding, f"Document {doc.id!r} embedding")
    tags = dict(doc.tags) if "tags" in present else {}
    meta = tags.pop(METADATA_TAG, None)
    schema = tags.pop(SHOAL_SCHEMA_TAG, None)  # a shoal dataclass: DocArray's own schema
    if meta is None and schema is not None:
        meta = to_docarray_schema(schema)
    try:
        if tags:
            msg.tags.update(tags)
        if meta:
            msg._metadata.update(meta)
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadInputError(f"tags of Document {doc.id!r} cannot be a protobuf Struct: "
                            f"{exc}") from exc
    for name in ("scores", "evaluations"):
        if name in present:
            for k, s in getattr(doc, name).items():
                entry = getattr(msg, name)[k]
                entry.value = s.value or 0.0
                entry.op_name = s.op_type or ""
                entry.description = s.description or ""
                entry.ref_id = s.ref_id or ""
    for name in ("chunks", "matches"):
        if name in present:
            for child in getattr(doc, name):
                _to_proto(child, getattr(msg, name).add())
    return msg


def doc_to_docarray_bytes(doc: Document, compress: str | None = None) -> bytes:
    """DocArray ``DocumentProto`` bytes (``Document.from_bytes(b, protocol='protobuf')``)."""
    return compress_bytes(_to_proto(doc, dpb.DocumentProto()).SerializeToString(), compress)


def docs_to_docarray_bytes(docs: Iterable[Document], protocol: str = "protobuf-array",
                           compress: str | None = None) -> bytes:
    """Bytes DocArray 0.21 reads with ``DocumentArray.from_bytes(b, protocol=protocol,
    compress=compress)`` (or ``load_binary``): ``'protobuf-array'`` or the streamed
    ``'protobuf'`` layout (each Document compressed on its own)."""
    if protocol == "protobuf-array":
        pb = dpb.DocumentArrayProto()
        for d in docs:
            _to_proto(d, pb.docs.add())
        if compress == "zlib":  # DocArray reads 'protobuf-array' + zlib uncompressed
            compress = None
        return compress_bytes(pb.SerializeToString(), compress)
    if protocol != "protobuf":
        raise BadInputError(f"DocArray protocol must be 'protobuf' or 'protobuf-array', "
                            f"got {protocol!r} (shoal does not write pickle for DocArray)")
    parts = [doc_to_docarray_bytes(d, compress) for d in docs]
    head = b"\x01" + len(parts).to_bytes(8, "big")
    return head + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
