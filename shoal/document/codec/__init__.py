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
read by ``request_from_*`` is ever unpickled. What DocArray 0.21 saved as protobuf (bytes,
base64, ``save_binary`` files, protobuf-JSON) is recognised and read by the same
functions; DocArray's pickles are refused with a hint to re-save them as protobuf, and
``docarray_format.docs_to_docarray_bytes`` writes bytes DocArray 0.21 reads. Bad input
raises :class:`~shoal.errors.MalformedDataError` saying what was wrong.

This package only re-exports; each module has one job:

================  ======================================================================
compression       ``compress=``: zlib / gzip / bz2 / lzma / lz4
jsontext          compact, numpy-aware JSON text (tags, parameters)
ndarray           wire dtypes and the ``{"dtype", "shape", "data"}`` dict form
proto_encode      Document -> protobuf wire bytes, by hand (the encode hot path)
proto_decode      protobuf wire bytes -> Documents (the decode hot path)
binary            public protobuf / bytes / base64 forms (pickle only when asked)
docarray_sniff    telling DocArray 0.21's bytes (layout, pickle, compression) from shoal's
docarray_format   DocArray 0.21's protobuf bytes / files / JSON -> Documents, and back
dicts             Documents as JSON-ready dicts and JSON text
request_wire      DataRequest as ``RequestProto`` and as Jina's HTTP JSON
================  ======================================================================
"""
from __future__ import annotations

from shoal.document.codec.binary import (
    PROTOCOLS, doc_from_bytes, doc_from_proto, doc_to_bytes, doc_to_proto,
    docs_from_base64, docs_from_bytes, docs_from_protobuf, docs_to_base64, docs_to_bytes,
    docs_to_protobuf,
)
from shoal.document.codec.compression import (
    COMPRESSIONS, compress_bytes, decompress_bytes,
)
from shoal.document.codec.dicts import (
    doc_from_dict, doc_to_dict, docs_from_dicts, docs_from_json, docs_to_dicts, docs_to_json,
)
from shoal.document.codec.jsontext import dumps_json, loads_json
from shoal.document.codec.ndarray import ndarray_from_dict, ndarray_to_dict
from shoal.document.codec.proto_encode import gc_paused
from shoal.document.codec.request_wire import (
    request_from_bytes, request_from_json_dict, request_from_proto, request_to_bytes,
    request_to_json_dict, request_to_proto,
)

# read by shoal.document.fileio as codec._protocol / codec._codec_module
from shoal.document.codec.binary import _protocol as _protocol
from shoal.document.codec.compression import _codec_module as _codec_module

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
