"""Serialization of Documents, arrays of Documents and requests.

Wire format: ``shoal.proto`` (``DocumentProto``, ``DocumentArrayProto``, ``RequestProto``).
Documents are *encoded* by hand straight into protobuf wire bytes (one pass, cached
ndarray headers, no intermediate message objects) and *decoded* with the C protobuf
parser plus ``ListFields`` (only the fields that are set are touched). Embeddings of
the same dtype / shape in one array are decoded into one matrix whose rows the
Documents share as views.

Dict / JSON form: ndarrays as ``{"dtype": "float32", "shape": [...], "data": "<base64>"}``
(a plain list is accepted when reading, as Jina's HTTP JSON sends it); ``blob`` as
base64 text. Tags and request parameters travel as JSON text, so int vs float, bool and
null survive every round trip.

Pickle is used only when the caller passes ``protocol='pickle'`` explicitly; nothing
read by ``request_from_*`` is ever unpickled. Bad input raises
:class:`~shoal.errors.MalformedDataError` saying what was wrong.
"""
from __future__ import annotations

import base64
import binascii
import gc
import json
import math
import pickle
import struct
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np
from google.protobuf.message import DecodeError

from shoal.document.document import Document
from shoal.document.score import NamedScore, NamedScoreMap
from shoal.errors import BadInputError, MalformedDataError, MissingExtraError
from shoal.proto import shoal_pb2 as pb2

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = [
    "COMPRESSIONS", "PROTOCOLS", "gc_paused", "compress_bytes", "decompress_bytes", "loads_json",
    "dumps_json", "ndarray_to_dict", "ndarray_from_dict",
    "doc_to_dict", "doc_from_dict", "doc_to_bytes", "doc_from_bytes", "doc_to_proto",
    "doc_from_proto", "docs_to_bytes", "docs_from_bytes", "docs_to_json", "docs_from_json",
    "docs_to_dicts", "docs_from_dicts", "docs_to_base64", "docs_from_base64",
    "docs_to_protobuf", "docs_from_protobuf", "request_to_proto", "request_from_proto",
    "request_to_bytes", "request_from_bytes", "request_to_json_dict",
    "request_from_json_dict",
]

COMPRESSIONS = (None, "zlib", "gzip", "bz2", "lzma", "lz4")
PROTOCOLS = ("protobuf", "pickle")
_PROTOCOL_ALIASES = {"protobuf": "protobuf", "protobuf-array": "protobuf",
                     "pickle": "pickle", "pickle-array": "pickle"}

# ----------------------------------------------------------------------------------
# compression
# ----------------------------------------------------------------------------------


def _codec_module(name: str) -> Any:
    if name == "zlib":
        import zlib as mod  # noqa: PLC0415
    elif name == "gzip":
        import gzip as mod  # noqa: PLC0415
    elif name == "bz2":
        import bz2 as mod  # noqa: PLC0415
    elif name == "lzma":
        import lzma as mod  # noqa: PLC0415
    elif name == "lz4":
        try:
            import lz4.frame as mod  # noqa: PLC0415
        except ImportError as exc:
            raise MissingExtraError(
                "compress='lz4' needs the lz4 package: pip install lz4") from exc
    else:
        raise BadInputError(
            f"unknown compression {name!r}; use one of None, 'zlib', 'gzip', 'bz2', "
            "'lzma', 'lz4'")
    return mod


def compress_bytes(data: bytes, compress: str | None) -> bytes:
    """``data`` compressed with ``compress`` (None returns it unchanged)."""
    if not compress:
        return data
    mod = _codec_module(compress)
    if compress == "gzip":
        return mod.compress(data, mtime=0)
    return mod.compress(data)


def decompress_bytes(data: bytes, compress: str | None) -> bytes:
    """Undo :func:`compress_bytes`; corrupt input raises MalformedDataError."""
    if not compress:
        return data
    mod = _codec_module(compress)
    try:
        return mod.decompress(data)
    except Exception as exc:  # zlib.error, OSError, EOFError, LZMAError, RuntimeError
        raise MalformedDataError(
            f"cannot decompress data as {compress!r}: {exc}; was it written with "
            f"compress={compress!r}?") from exc


# ----------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
_DECODER = json.JSONDecoder()


def dumps_json(obj: Any, what: str = "value") -> str:
    """Compact JSON; numpy scalars / arrays become numbers / lists."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadInputError(f"{what} cannot be written as JSON: {exc}") from exc


def loads_json(data: str | bytes | bytearray) -> Any:
    """Parse JSON text; bad JSON raises MalformedDataError with the position."""
    try:
        return _DECODER.decode(data) if type(data) is str else json.loads(data)
    except json.JSONDecodeError as exc:
        raise MalformedDataError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except (UnicodeDecodeError, TypeError) as exc:
        raise MalformedDataError(f"invalid JSON input: {exc}") from exc
    except RecursionError as exc:
        raise MalformedDataError("JSON input is nested too deeply") from exc


# ----------------------------------------------------------------------------------
# ndarrays
# ----------------------------------------------------------------------------------

_ALLOWED_KINDS = frozenset("biufcUSMm")
_ENC_DTYPES: dict[np.dtype, tuple[str, np.dtype | None]] = {}
_DEC_DTYPES: dict[str, np.dtype] = {}


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch, without importing it
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"cannot convert {type(x).__name__} to an array: {exc}") from exc


def _enc_dtype(dt: np.dtype) -> tuple[str, np.dtype | None]:
    """(wire name, dtype to convert to first or None) for an array dtype."""
    hit = _ENC_DTYPES.get(dt)
    if hit is not None:
        return hit
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise BadInputError(
            f"cannot serialize an array of dtype {dt} without pickle; use a numeric, "
            "bool, string or datetime dtype")
    little = dt.newbyteorder("<")
    convert = None if dt.byteorder in ("<", "|") or (dt.byteorder == "=" and np.little_endian) \
        else little
    name = dt.name if dt.kind in "biufc" else little.str
    hit = _ENC_DTYPES[dt] = (name, convert)
    return hit


def _dec_dtype(name: str) -> np.dtype:
    dt = _DEC_DTYPES.get(name)
    if dt is not None:
        return dt
    try:
        dt = np.dtype(name)
    except (TypeError, ValueError, SyntaxError) as exc:
        raise MalformedDataError(f"unknown array dtype {name!r}") from exc
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise MalformedDataError(f"array dtype {name!r} is not allowed on the wire")
    dt = dt.newbyteorder("<")
    if len(_DEC_DTYPES) < 512:
        _DEC_DTYPES[name] = dt
    return dt


def _make_array(buf: bytes | bytearray, dtype_name: str, shape: tuple[int, ...]) -> np.ndarray:
    dt = _dec_dtype(dtype_name)
    count = 1
    for n in shape:
        if n < 0:
            raise MalformedDataError(f"array shape {shape} has a negative dimension")
        count *= n
    if count * dt.itemsize != len(buf):
        raise MalformedDataError(
            f"array of dtype {dtype_name} and shape {list(shape)} needs "
            f"{count * dt.itemsize} bytes, got {len(buf)}")
    if not isinstance(buf, bytearray):  # a writable copy: users edit arrays in place
        buf = bytearray(buf)
    arr = np.frombuffer(buf, dtype=dt).reshape(shape)
    return arr if dt.isnative or dt.itemsize == 1 else arr.astype(dt.newbyteorder("="))


def ndarray_to_dict(x: Any) -> dict[str, Any]:
    """``{"dtype", "shape", "data": base64}`` for an array (numpy or torch)."""
    arr = _to_numpy(x)
    name, convert = _enc_dtype(arr.dtype)
    if convert is not None:
        arr = arr.astype(convert)
    return {"dtype": name, "shape": list(arr.shape),
            "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def ndarray_from_dict(obj: Any, what: str = "array") -> np.ndarray:
    """The inverse of :func:`ndarray_to_dict`; a plain (nested) list is accepted too."""
    if isinstance(obj, dict):
        try:
            data, dtype, shape = obj["data"], obj["dtype"], obj["shape"]
        except KeyError as exc:
            raise MalformedDataError(
                f"{what}: an array dict needs 'dtype', 'shape' and 'data', missing {exc}"
            ) from None
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in shape):
            raise MalformedDataError(f"{what}: 'dtype' must be a string and 'shape' a list "
                                     "of ints")
        try:
            buf = base64.b64decode(data, validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise MalformedDataError(f"{what}: 'data' is not valid base64: {exc}") from exc
        return _make_array(buf, dtype, tuple(shape))
    if isinstance(obj, (list, tuple, int, float)) and not isinstance(obj, bool):
        try:
            arr = np.asarray(obj)
        except ValueError as exc:
            raise MalformedDataError(f"{what}: ragged or invalid list: {exc}") from exc
        if arr.dtype.kind not in "iuf":
            raise MalformedDataError(f"{what}: a list must hold only numbers")
        return arr
    if isinstance(obj, np.ndarray):
        return obj
    raise MalformedDataError(
        f"{what}: expected an array dict or a list of numbers, got {type(obj).__name__}")


# ----------------------------------------------------------------------------------
# Document -> protobuf wire bytes (hand-written encoder)
# ----------------------------------------------------------------------------------

_VARINT1 = [bytes((i,)) for i in range(128)]
_pack_d = struct.Struct("<d").pack
_ND_HEADERS: dict[tuple, tuple[bytes, np.dtype | None]] = {}


def _varint(n: int) -> bytes:
    if n < 128:
        if n >= 0:
            return _VARINT1[n]
        n += 1 << 64  # negative int32/int64: ten-byte two's complement
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field."""
    n = len(payload)
    return tag + (_VARINT1[n] if n < 128 else _varint(n)) + payload


def _str_field(tag: bytes, value: Any, name: str) -> bytes:
    try:
        raw = value.encode()
    except AttributeError:
        raise BadInputError(f"Document.{name} must be a str, got {type(value).__name__}"
                            ) from None
    except UnicodeEncodeError as exc:
        raise BadInputError(f"Document.{name} is not valid unicode: {exc}") from exc
    n = len(raw)
    return tag + (_VARINT1[n] if n < 128 else _varint(n)) + raw


def _nd_field(tag: bytes, x: Any) -> tuple[bytes, bytes]:
    """(prefix, raw) of an NdArrayProto field; the field is ``prefix + raw``."""
    arr = x if type(x) is np.ndarray else _to_numpy(x)
    key = (tag, arr.dtype, arr.shape)
    hdr = _ND_HEADERS.get(key)
    if hdr is None:
        name, convert = _enc_dtype(arr.dtype)
        shape = b"".join(_varint(n) for n in arr.shape)
        inner = (_ld(b"\x12", shape) if shape else b"") + _ld(b"\x1a", name.encode())
        nbytes = arr.size * arr.dtype.itemsize
        inner += b"\x0a" + _varint(nbytes)
        hdr = (tag + _varint(len(inner) + nbytes) + inner, convert)
        if len(_ND_HEADERS) < 4096:
            _ND_HEADERS[key] = hdr
    if hdr[1] is not None:
        arr = arr.astype(hdr[1])
    return hdr[0], arr.tobytes()


def _score_entries(tag: bytes, scores: dict) -> list[bytes]:
    out = []
    for key, s in scores.items():
        parts = []
        if s.value is not None:
            parts.append(b"\x09" + _pack_d(s.value))
        if s.op_type is not None:
            parts.append(_str_field(b"\x12", s.op_type, "scores.op_type"))
        if s.description is not None:
            parts.append(_str_field(b"\x1a", s.description, "scores.description"))
        if s.ref_id is not None:
            parts.append(_str_field(b"\x22", s.ref_id, "scores.ref_id"))
        entry = _str_field(b"\x0a", key, "scores key") + _ld(b"\x12", b"".join(parts))
        out.append(_ld(tag, entry))
    return out


def _encode_doc(d: Document) -> bytes:
    """DocumentProto wire bytes of ``d`` (fields written only when set)."""
    v = d._id
    try:
        raw = v.encode()
    except (AttributeError, UnicodeEncodeError):
        return b"".join(_encode_doc_parts(d))
    n = len(raw)
    head = b"\x0a" + (_VARINT1[n] if n < 128 else _varint(n)) + raw
    # fast path: id / text / embedding only
    if (d._blob is None and d._tensor is None and d._tags is None and d.parent_id is None
            and not d.granularity and not d.adjacency and d.uri is None
            and d.mime_type is None and d.modality is None and d.offset is None
            and d.location is None and d.weight is None and not d._chunks
            and not d._matches and not d._scores and not d._evaluations):
        t = d._text
        e = d._embedding
        if t is not None:
            try:
                raw = t.encode()
            except (AttributeError, UnicodeEncodeError):
                return b"".join(_encode_doc_parts(d))
            n = len(raw)
            head += b"\x2a" + (_VARINT1[n] if n < 128 else _varint(n)) + raw
        if e is None:
            return head
        prefix, buf = _nd_field(b"\x42", e)
        return head + prefix + buf
    return b"".join(_encode_doc_parts(d))


def _encode_doc_parts(d: Document) -> list[bytes]:
    parts = [_str_field(b"\x0a", d._id, "id")]
    add = parts.append
    v = d.parent_id
    if v is not None:
        add(_str_field(b"\x12", v, "parent_id"))
    if d.granularity:
        add(b"\x18" + _varint(int(d.granularity)))
    if d.adjacency:
        add(b"\x20" + _varint(int(d.adjacency)))
    v = d._text
    if v is not None:
        add(_str_field(b"\x2a", v, "text"))
    v = d._blob
    if v is not None:
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise BadInputError(f"Document.blob must be bytes, got {type(v).__name__}")
        add(_ld(b"\x32", bytes(v)))
    v = d._tensor
    if v is not None:
        parts.extend(_nd_field(b"\x3a", v))
    v = d._embedding
    if v is not None:
        parts.extend(_nd_field(b"\x42", v))
    v = d.uri
    if v is not None:
        add(_str_field(b"\x4a", v, "uri"))
    v = d.mime_type
    if v is not None:
        add(_str_field(b"\x52", v, "mime_type"))
    v = d._tags
    if v:
        add(_ld(b"\x5a", dumps_json(v, f"tags of Document {d._id}").encode()))
    v = d.modality
    if v is not None:
        add(_str_field(b"\x62", v, "modality"))
    v = d.offset
    if v is not None:
        add(b"\x69" + _pack_d(v))
    v = d.location
    if v is not None and len(v):
        add(_ld(b"\x72", struct.pack(f"<{len(v)}d", *v)))
    v = d.weight
    if v is not None:
        add(b"\x79" + _pack_d(v))
    for tag, children in ((b"\x82\x01", d._chunks), (b"\x8a\x01", d._matches)):
        if children:
            for child in children:
                add(_ld(tag, _encode_doc(child)))
    v = d._scores
    if v:
        parts.extend(_score_entries(b"\x92\x01", v))
    v = d._evaluations
    if v:
        parts.extend(_score_entries(b"\x9a\x01", v))
    return parts


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk (de)serialization.

    Creating 100k Documents makes the collector walk every live object again and again
    (half the time of a large decode); serialization creates no cycles, so nothing is
    lost. The previous state is restored afterwards.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _guarded(encode: Any, arg: Any) -> bytes:
    """``encode(arg)`` with stray low-level errors turned into BadInputError."""
    try:
        with gc_paused():
            return encode(arg)
    except BadInputError:
        raise
    except (struct.error, TypeError, ValueError, OverflowError) as exc:
        raise BadInputError(f"cannot serialize a Document: {exc}") from exc


def _encode_docs(docs: Iterable[Document]) -> bytes:
    """DocumentArrayProto wire bytes."""
    out: list[bytes] = []
    add = out.append
    enc = _encode_doc
    v1 = _VARINT1
    for d in docs:
        b = enc(d)
        n = len(b)
        add(b"\x0a" + v1[n] if n < 128 else b"\x0a" + _varint(n))
        add(b)
    return b"".join(out)


# ----------------------------------------------------------------------------------
# protobuf -> Document
# ----------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------
# Document: public API
# ----------------------------------------------------------------------------------


def doc_to_proto(doc: Document) -> Any:
    """``doc`` as a ``shoal_pb2.DocumentProto``."""
    return pb2.DocumentProto.FromString(_guarded(_encode_doc, doc))


def doc_from_proto(pb: Any) -> Document:
    """A Document from a ``shoal_pb2.DocumentProto``."""
    return _decode_views([pb2.DocumentViewProto.FromString(pb.SerializeToString())])[0]


def doc_to_bytes(doc: Document, compress: str | None = None) -> bytes:
    """``DocumentProto`` bytes of ``doc``, optionally compressed."""
    return compress_bytes(_guarded(_encode_doc, doc), compress)


def doc_from_bytes(data: bytes, compress: str | None = None) -> Document:
    """The inverse of :func:`doc_to_bytes`."""
    view = _parse(pb2.DocumentViewProto(), decompress_bytes(data, compress), "a Document")
    return _decode_views([view])[0]


def _score_dict(scores: dict) -> dict[str, dict[str, Any]]:
    return {k: s.to_dict() for k, s in scores.items()}


def _plain(x: Any) -> Any:
    """A JSON-ready deep copy of a value (numpy scalars / arrays made plain)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.generic, np.ndarray)):
        return x.tolist() if isinstance(x, np.ndarray) else x.item()
    return x


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
            out[name] = _to_numpy(v).tolist() if as_list else ndarray_to_dict(v)
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


# ----------------------------------------------------------------------------------
# arrays of Documents
# ----------------------------------------------------------------------------------


def _protocol(protocol: str) -> str:
    try:
        return _PROTOCOL_ALIASES[protocol]
    except (KeyError, TypeError):
        raise BadInputError(
            f"unknown protocol {protocol!r}; use 'protobuf' or (for trusted local data "
            "only) 'pickle'") from None


def docs_to_bytes(docs: Iterable[Document], protocol: str = "protobuf",
                  compress: str | None = None) -> bytes:
    """``DocumentArrayProto`` bytes (or pickle, only when asked), optionally compressed."""
    if _protocol(protocol) == "pickle":
        data = pickle.dumps(list(docs), protocol=pickle.HIGHEST_PROTOCOL)
    else:
        data = _guarded(_encode_docs, docs)
    return compress_bytes(data, compress)


def docs_from_bytes(data: bytes, protocol: str = "protobuf",
                    compress: str | None = None) -> list[Document]:
    """The inverse of :func:`docs_to_bytes`. ``protocol='pickle'`` unpickles: trusted data only."""
    proto = _protocol(protocol)
    raw = decompress_bytes(data, compress)
    if proto == "pickle":
        return _unpickle_docs(raw)
    return _decode_array_bytes(raw)


def _unpickle_docs(raw: bytes) -> list[Document]:
    try:
        obj = pickle.loads(raw)  # noqa: S301 -- only on explicit protocol='pickle'
    except Exception as exc:
        raise MalformedDataError(f"cannot unpickle documents: {exc}") from exc
    docs = list(obj) if not isinstance(obj, Document) else [obj]
    for d in docs:
        if not isinstance(d, Document):
            raise MalformedDataError(
                f"pickled data holds a {type(d).__name__}, not Documents")
    return docs


def docs_to_protobuf(docs: Iterable[Document]) -> Any:
    """A ``shoal_pb2.DocumentArrayProto``."""
    return pb2.DocumentArrayProto.FromString(_guarded(_encode_docs, docs))


def docs_from_protobuf(pb: Any) -> list[Document]:
    """Documents from a ``shoal_pb2.DocumentArrayProto``."""
    return _decode_array_bytes(pb.SerializeToString())


def docs_to_dicts(docs: Iterable[Document], **kwargs: Any) -> list[dict[str, Any]]:
    """A list of :func:`doc_to_dict` dicts."""
    return [doc_to_dict(d, **kwargs) for d in docs]


def docs_from_dicts(items: Any) -> list[Document]:
    """Documents from a list of dicts (Jina-style ``{"text": ...}`` accepted)."""
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


def docs_to_base64(docs: Iterable[Document], protocol: str = "protobuf",
                   compress: str | None = None) -> str:
    """:func:`docs_to_bytes` as base64 text."""
    return base64.b64encode(docs_to_bytes(docs, protocol, compress)).decode("ascii")


def docs_from_base64(data: str | bytes, protocol: str = "protobuf",
                     compress: str | None = None) -> list[Document]:
    """The inverse of :func:`docs_to_base64`."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise MalformedDataError(f"invalid base64 data: {exc}") from exc
    return docs_from_bytes(raw, protocol, compress)


# ----------------------------------------------------------------------------------
# requests
# ----------------------------------------------------------------------------------

_STATUS_CODES = {"OK": pb2.StatusProto.OK, "ERROR": pb2.StatusProto.ERROR}


def _header_proto(req: DataRequest) -> Any:
    h = req.header
    hp = pb2.HeaderProto(request_id=h.request_id, exec_endpoint=h.exec_endpoint or "",
                         target_executor=h.target_executor or "",
                         timeout_ms=int(h.timeout_ms or 0))
    if h.status not in _STATUS_CODES:
        raise BadInputError(f"request status must be 'OK' or 'ERROR', got {h.status!r}")
    hp.status.code = _STATUS_CODES[h.status]
    hp.status.description = h.status
    if h.error is not None:
        e = hp.status.exception
        e.name, e.message = h.error.name or "", h.error.message or ""
        e.executor, e.traceback = h.error.executor or "", h.error.traceback or ""
    return hp


def request_to_bytes(req: DataRequest) -> bytes:
    """``RequestProto`` bytes of ``req`` (docs encoded by the fast path)."""
    parts = [_ld(b"\x0a", _header_proto(req).SerializeToString())]
    if req.parameters:
        parts.append(_ld(b"\x12", dumps_json(req.parameters, "parameters").encode()))
    if req._docs is not None and len(req._docs):
        parts.append(_ld(b"\x1a", _guarded(_encode_docs, req._docs)))
    for route in req.routes:
        parts.append(_str_field(b"\x22", route, "route"))
    return b"".join(parts)


def request_to_proto(req: DataRequest) -> Any:
    """``req`` as a ``shoal_pb2.RequestProto``."""
    return pb2.RequestProto.FromString(request_to_bytes(req))


def _build_request(pb: Any, docs_bytes: bytes | None) -> DataRequest:
    from shoal.document.request import DataRequest, ErrorInfo  # noqa: PLC0415

    h = pb.header
    params = {}
    if pb.parameters_json:
        params = loads_json(pb.parameters_json)
        if not isinstance(params, dict):
            raise MalformedDataError("request parameters are not a JSON object")
    req = DataRequest(endpoint=h.exec_endpoint, parameters=params,
                      target_executor=h.target_executor, request_id=h.request_id or None)
    req.header.timeout_ms = h.timeout_ms
    if h.status.code == pb2.StatusProto.ERROR:
        req.header.status = "ERROR"
        if h.status.HasField("exception"):
            e = h.status.exception
            req.header.error = ErrorInfo(name=e.name, message=e.message,
                                         executor=e.executor, traceback=e.traceback)
    elif h.status.code != pb2.StatusProto.OK:
        raise MalformedDataError(f"unknown request status code {h.status.code}")
    if docs_bytes:
        req.docs = _decode_array_bytes(docs_bytes)
    req.routes = list(pb.routes)
    return req


def request_from_proto(pb: Any) -> DataRequest:
    """A DataRequest from a ``shoal_pb2.RequestProto`` (never unpickles anything)."""
    return _build_request(pb, pb.data.SerializeToString() if pb.HasField("data") else None)


def request_from_bytes(data: bytes) -> DataRequest:
    """A DataRequest from ``RequestProto`` bytes; corrupt bytes raise MalformedDataError."""
    view = _parse(pb2.RequestViewProto(), data, "a request")
    return _build_request(view, view.data)


def request_to_json_dict(req: DataRequest, **kwargs: Any) -> dict[str, Any]:
    """Jina's HTTP JSON shape: ``{"header", "parameters", "routes", "data": [docs]}``.

    ``kwargs`` go to :func:`doc_to_dict` (e.g. ``array_format='list'``).
    """
    h = req.header
    status: dict[str, Any] = {"code": h.status, "description": h.status}
    if h.error is not None:
        status["exception"] = h.error.to_dict()
    header = {"request_id": h.request_id, "exec_endpoint": h.exec_endpoint,
              "target_executor": h.target_executor, "status": status,
              "timeout_ms": h.timeout_ms}
    docs = req._docs if req._docs is not None else ()
    return {"header": header, "parameters": _plain(req.parameters),
            "routes": list(req.routes), "data": docs_to_dicts(docs, **kwargs)}


def _json_docs(data: Any) -> list[Document]:
    if data is None:
        return []
    if isinstance(data, dict) and "docs" in data:  # {"data": {"docs": [...]}}
        data = data["docs"]
    if not isinstance(data, list):
        raise MalformedDataError(f"'data' must be a list of Documents, got "
                                 f"{type(data).__name__}")
    return docs_from_dicts([{"text": x} if isinstance(x, str) else x for x in data])


def request_from_json_dict(body: Any) -> DataRequest:
    """A DataRequest from a Jina-style HTTP body or a :func:`request_to_json_dict` dict.

    Body: ``{"data": [...], "parameters": {...}, "exec_endpoint": "/x",
    "target_executor": "..."}``; a ``"header"`` object (response shape) is read too.
    Strings in ``data`` become text Documents.
    """
    from shoal.document.request import DataRequest, ErrorInfo  # noqa: PLC0415

    if not isinstance(body, dict):
        raise MalformedDataError(f"a request must be a JSON object, got {type(body).__name__}")
    header = body.get("header") or {}
    if not isinstance(header, dict):
        raise MalformedDataError("'header' must be an object")

    def pick(*names: str, default: Any = "") -> Any:
        for src in (body, header):
            for name in names:
                if src.get(name) is not None:
                    return src[name]
        return default

    endpoint = pick("exec_endpoint", "execEndpoint", "endpoint", default="/")
    target = pick("target_executor", "targetExecutor")
    request_id = pick("request_id", "requestId")
    for name, value in (("exec_endpoint", endpoint), ("target_executor", target),
                        ("request_id", request_id)):
        if not isinstance(value, str):
            raise MalformedDataError(f"{name!r} must be a string")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise MalformedDataError("'parameters' must be an object")
    req = DataRequest(endpoint=endpoint, parameters=params, target_executor=target,
                      request_id=request_id or None)
    timeout = pick("timeout_ms", "timeoutMs", default=0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout < 0:
        raise MalformedDataError("'timeout_ms' must be a non-negative number")
    req.header.timeout_ms = int(timeout)
    status = header.get("status")
    if isinstance(status, dict):
        code = status.get("code", "OK")
        if code in ("ERROR", 1, pb2.StatusProto.ERROR):
            req.header.status = "ERROR"
            exc = status.get("exception")
            if isinstance(exc, dict):
                req.header.error = ErrorInfo(
                    name=str(exc.get("name", "")), message=str(exc.get("message", "")),
                    executor=str(exc.get("executor", "")),
                    traceback=str(exc.get("traceback", "")))
    docs = _json_docs(body.get("data"))
    if docs:
        req.docs = docs
    routes = body.get("routes") or []
    req.routes = [r if isinstance(r, str) else str(r.get("executor", ""))
                  for r in routes if isinstance(r, (str, dict))]
    return req
