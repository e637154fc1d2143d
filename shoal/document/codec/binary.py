"""The binary forms of Documents and arrays: protobuf messages, bytes and base64.

Bytes are protobuf, optionally compressed. Pickle is used only when the caller passes
``protocol='pickle'`` explicitly. Bytes DocArray 0.21 wrote as protobuf (any layout or
compression) are recognised and read too (:mod:`docarray_format`); its pickles are refused.
"""
from __future__ import annotations

import base64
import binascii
import pickle
from typing import Any, Iterable

from shoal.document.codec import docarray_format
from shoal.document.codec.compression import compress_bytes, decompress_bytes
from shoal.document.codec.docarray_sniff import names_docarray, stream_payloads
from shoal.document.codec.proto_decode import _decode_array_bytes, _decode_views, _parse
from shoal.document.codec.proto_encode import _encode_doc, _encode_docs, _guarded
from shoal.document.document import Document
from shoal.errors import BadInputError, MalformedDataError
from shoal.proto import shoal_pb2 as pb2

__all__ = [
    "PROTOCOLS", "doc_to_proto", "doc_from_proto", "doc_to_bytes", "doc_from_bytes",
    "docs_to_bytes", "docs_from_bytes", "docs_to_protobuf", "docs_from_protobuf",
    "docs_to_base64", "docs_from_base64",
]

PROTOCOLS = ("protobuf", "pickle")
_PROTOCOL_ALIASES = {"protobuf": "protobuf", "protobuf-array": "protobuf",
                     "pickle": "pickle", "pickle-array": "pickle"}


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
    """The inverse of :func:`doc_to_bytes`; DocArray's ``to_bytes(protocol='protobuf')`` too."""
    raw, doc = docarray_format.read_doc(data, compress)
    if doc is not None:
        return doc
    view = _parse(pb2.DocumentViewProto(), raw, "a Document")
    return _decode_views([view])[0]


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
    """The inverse of :func:`docs_to_bytes`. ``protocol='pickle'`` unpickles: trusted data only.

    DocArray 0.21's protobuf bytes (``'protobuf'`` / ``'protobuf-array'``) are read whatever
    ``protocol`` says; a DocArray pickle is refused even with ``protocol='pickle'``.
    """
    proto = _protocol(protocol)
    if proto == "pickle":
        if stream_payloads(data) is not None:  # DocArray's streamed layout: not unpickled
            return docarray_format.read_array(data, compress)[1] or []
        raw = decompress_bytes(data, compress)
        if names_docarray(raw):
            docarray_format.refuse_pickle(raw)
        return _unpickle_docs(raw)
    raw, docs = docarray_format.read_array(data, compress)
    return docs if docs is not None else _decode_array_bytes(raw)


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
