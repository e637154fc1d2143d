"""Document -> protobuf wire bytes, written by hand.

One pass straight into ``DocumentProto`` / ``DocumentArrayProto`` bytes: cached ndarray
headers, no intermediate message objects, fields written only when set.
"""
from __future__ import annotations

import gc
import struct
from typing import Any, Iterable

import numpy as np

from shoal.document.codec.jsontext import dumps_json
from shoal.document.codec.ndarray import _enc_dtype, _to_numpy
from shoal.document.document import Document
from shoal.document.score import score_map
from shoal.errors import BadInputError

__all__ = ["gc_paused"]

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
    v = score_map(d._scores)
    if v:
        parts.extend(_score_entries(b"\x92\x01", v))
    v = d._evaluations
    if v:
        parts.extend(_score_entries(b"\x9a\x01", v))
    return parts


class gc_paused:  # noqa: N801 - a context manager used like a function
    """Pause the cyclic garbage collector for a bulk (de)serialization.

    Creating 100k Documents makes the collector walk every live object again and again
    (half the time of a large decode); serialization creates no cycles, so nothing is
    lost. The previous state is restored afterwards. (A class, not a generator: it is
    entered once per search too, where a generator's frames cost a few µs.)
    """

    __slots__ = ("_was_on",)

    def __enter__(self) -> None:
        self._was_on = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was_on:
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
