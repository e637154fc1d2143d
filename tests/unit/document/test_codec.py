"""Round trips through protobuf, dict/JSON, base64, pickle and requests; attacks on them."""
from __future__ import annotations

import base64
import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.document import codec
from shoal.document.document import Document
from shoal.document.request import DataRequest, ErrorInfo
from shoal.errors import BadInputError, MalformedDataError
from shoal.proto import shoal_pb2

ARRAYS = [
    np.arange(12, dtype=np.float16).reshape(3, 4),
    np.linspace(0, 1, 7, dtype=np.float64),
    np.array([-128, 0, 127], dtype=np.int8),
    np.array([[0, 255]], dtype=np.uint8),
    np.array(3.5, dtype=np.float32),  # 0-d
    np.arange(24, dtype=np.int32).reshape(2, 3, 4),  # 3-D
    np.zeros((0, 5), dtype=np.float32),  # empty
    np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2],  # non-contiguous
    np.array([True, False]),
    np.array([1 + 2j], dtype=np.complex64),
    np.arange(3, dtype=">i4"),  # big-endian in, native out
    np.array(["ab", "c"]),
]
BYTES_CODECS = [
    (codec.doc_to_bytes, codec.doc_from_bytes),
    (lambda d: codec.doc_to_bytes(d, "zlib"), lambda b: codec.doc_from_bytes(b, "zlib")),
    (codec.doc_to_proto, codec.doc_from_proto),
    (codec.doc_to_dict, codec.doc_from_dict),
    (lambda d: json.dumps(codec.doc_to_dict(d)), lambda s: codec.doc_from_dict(json.loads(s))),
]
TAGS = {"int": 1, "float": 1.0, "neg": -3, "big": 2**62, "bool": True, "none": None,
        "str": "x", "nested": {"a": [1, 2.5, {"b": False}], "empty": {}}, "list": []}


def rich_doc() -> Document:
    d = Document(id="root", text="hello", embedding=np.arange(4, dtype=np.float32),
                 tags=dict(TAGS), uri="a.png", mime_type="image/png", modality="image",
                 weight=0.5, offset=2.0, location=[1.0, 2.0])
    chunk = Document(id="c1", tensor=np.ones((2, 2), dtype=np.uint8), blob=None)
    chunk.chunks.append(Document(id="c1.1", text="deep", tags={"k": 2}))
    d.chunks.append(chunk)
    for i in range(3):
        m = Document(id=f"m{i}", embedding=np.full(4, i, dtype=np.float32))
        m.scores["cosine"] = 0.1 * i
        m.scores["l2"].op_type = "euclidean"
        m.scores["l2"].ref_id = "root"
        d.matches.append(m)
    d.evaluations["precision"] = 1
    d.evaluations["precision"].description = "p@1"
    return d


def assert_same_array(a, b) -> None:
    a = np.asarray(a)
    assert isinstance(b, np.ndarray)
    assert b.dtype == a.dtype.newbyteorder("=") and b.shape == a.shape
    assert np.array_equal(a, b)


@pytest.mark.parametrize("arr", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
@pytest.mark.parametrize("enc,dec", BYTES_CODECS)
def test_ndarray_dtype_and_shape_survive(enc, dec, arr):
    d = dec(enc(Document(id="x", tensor=arr, embedding=arr)))
    assert_same_array(arr, d.tensor)
    assert_same_array(arr, d.embedding)
    assert d.embedding.flags.writeable


@pytest.mark.parametrize("enc,dec", BYTES_CODECS)
def test_rich_document_round_trip(enc, dec):
    d = rich_doc()
    back = dec(enc(d))
    assert back == d
    assert back.tags == TAGS
    assert type(back.tags["int"]) is int and type(back.tags["float"]) is float
    assert back.chunks[0].chunks[0].text == "deep"
    assert back.chunks[0].parent_id == "root"
    assert back.matches[2].scores["cosine"].value == pytest.approx(0.2)
    assert back.matches[1].scores["l2"].op_type == "euclidean"
    assert back.matches[1].scores["l2"].value is None
    assert back.evaluations["precision"].description == "p@1"


def test_none_and_empty_string_stay_distinct():
    d = codec.doc_from_bytes(codec.doc_to_bytes(Document(text="", blob=None, uri="")))
    assert d._text == "" and d.uri == "" and d.blob is None and d.mime_type is None
    d = codec.doc_from_bytes(codec.doc_to_bytes(Document(blob=b"")))
    assert d.blob == b"" and d._text is None and d.content_type == "blob"


def test_array_round_trip_shares_one_matrix_and_keeps_order():
    docs = [Document(text=f"t{i}", embedding=np.full(8, i, dtype=np.float32)) for i in range(50)]
    docs.insert(10, Document(text="odd", embedding=np.arange(3, dtype=np.int64)))
    docs.insert(20, Document(text="none"))
    back = codec.docs_from_bytes(codec.docs_to_bytes(docs))
    assert back == docs
    assert back[0].embedding.base is not None and back[0].embedding.base is back[1].embedding.base
    back[0].embedding[0] = 99  # writable, and rows do not alias each other
    assert back[1].embedding[0] == 1


def test_foreign_field_order_decodes_too():
    """Bytes written by the C++ / upb serializer (fields in number order) decode the same."""
    docs = [Document(id=str(i), embedding=np.full(3, i, dtype=np.float32)) for i in range(5)]
    pb = codec.docs_to_protobuf(docs)
    assert codec.docs_from_bytes(pb.SerializeToString()) == docs
    assert codec.docs_from_protobuf(pb) == docs


@pytest.mark.parametrize("compress", [None, "zlib", "gzip", "bz2", "lzma"])
@pytest.mark.parametrize("protocol", ["protobuf", "pickle"])
def test_docs_bytes_and_base64_variants(protocol, compress):
    docs = [rich_doc(), Document(text="plain")]
    data = codec.docs_to_bytes(docs, protocol=protocol, compress=compress)
    assert codec.docs_from_bytes(data, protocol=protocol, compress=compress) == docs
    text = codec.docs_to_base64(docs, protocol=protocol, compress=compress)
    assert codec.docs_from_base64(text, protocol=protocol, compress=compress) == docs


def test_lz4_is_optional():
    try:
        import lz4.frame  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="lz4"):
            codec.docs_to_bytes([Document()], compress="lz4")
    else:
        docs = [Document(text="x")]
        assert codec.docs_from_bytes(codec.docs_to_bytes(docs, compress="lz4"),
                                     compress="lz4") == docs


def test_default_protocol_is_never_pickle():
    data = pickle.dumps([Document(text="x")])
    with pytest.raises(MalformedDataError):
        codec.docs_from_bytes(data)
    assert codec.docs_from_bytes(data, protocol="pickle")[0].text == "x"
    assert codec.docs_to_bytes([Document(id="a")]) == b"\x0a\x03\x0a\x01a"


def test_unknown_protocol_and_compression():
    with pytest.raises(BadInputError, match="protocol"):
        codec.docs_to_bytes([], protocol="marshal")
    with pytest.raises(BadInputError, match="compression"):
        codec.docs_to_bytes([], compress="zstd-nope")


@pytest.mark.parametrize("data", [b"\xff\xff\xff\xff", b"not a protobuf at all",
                                  b"\x0a\x05abc"])
def test_garbage_bytes_raise_malformed(data):
    with pytest.raises(MalformedDataError):
        codec.docs_from_bytes(data)
    with pytest.raises(MalformedDataError):
        codec.doc_from_bytes(data)


def test_wrong_compression_and_truncation_raise_malformed():
    data = codec.docs_to_bytes([rich_doc()], compress="zlib")
    with pytest.raises(MalformedDataError, match="zlib"):
        codec.docs_from_bytes(data[:-5], compress="zlib")
    with pytest.raises(MalformedDataError):
        codec.docs_from_bytes(data, compress="bz2")
    raw = codec.docs_to_bytes([rich_doc()])
    with pytest.raises(MalformedDataError):
        codec.docs_from_bytes(raw[: len(raw) // 2])


def test_array_size_mismatch_is_caught():
    nd = shoal_pb2.NdArrayProto(buffer=b"\x00" * 7, shape=[2], dtype="float32")
    pb = shoal_pb2.DocumentProto(id="x", embedding=nd)
    with pytest.raises(MalformedDataError, match="needs 8 bytes"):
        codec.doc_from_proto(pb)
    pb = shoal_pb2.DocumentProto(id="x", tensor=shoal_pb2.NdArrayProto(dtype="O", shape=[1]))
    with pytest.raises(MalformedDataError, match="dtype"):
        codec.doc_from_proto(pb)


def test_unserializable_values_raise_bad_input():
    with pytest.raises(BadInputError):
        codec.doc_to_bytes(Document(tensor=np.array([object()])))
    with pytest.raises(BadInputError, match="tags"):
        codec.doc_to_bytes(Document(tags={"x": object()}))


def test_numpy_scalars_in_tags_become_plain():
    d = Document(tags={"f": np.float32(0.5), "i": np.int64(3), "a": np.arange(2)})
    for back in (codec.doc_from_bytes(codec.doc_to_bytes(d)),
                 codec.doc_from_dict(json.loads(json.dumps(codec.doc_to_dict(d))))):
        assert back.tags == {"f": 0.5, "i": 3, "a": [0, 1]}
        assert type(back.tags["i"]) is int


class FakeTorch:
    """Duck-typed torch tensor: codec must use .detach().cpu().numpy()."""

    def __init__(self, arr):
        self.arr, self.shape, self.dtype = arr, arr.shape, arr.dtype

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.arr


def test_torch_like_tensors_are_converted():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = codec.doc_from_bytes(codec.doc_to_bytes(Document(tensor=FakeTorch(arr))))
    assert_same_array(arr, back.tensor)
    assert codec.doc_to_dict(Document(embedding=FakeTorch(arr)))["embedding"]["shape"] == [2, 3]


def test_jina_style_json_with_plain_lists():
    docs = codec.docs_from_json('[{"text": "hi", "embedding": [1, 2, 3], "color": "red"},'
                                ' {"tensor": [[1.5, 2], [3, 4]]}]')
    assert docs[0].text == "hi" and docs[0].embedding.tolist() == [1, 2, 3]
    assert docs[0].tags == {"color": "red"}
    assert docs[1].tensor.shape == (2, 2)
    out = codec.doc_to_dict(docs[1], array_format="list")
    assert out["tensor"] == [[1.5, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("bad,match", [
    ("{not json", "invalid JSON"),
    ('{"text": 1}', "must be a JSON list"),
    ('[{"text": 1}]', "text"),
    ('[{"embedding": [1, [2]]}]', "embedding"),
    ('[{"embedding": {"dtype": "float32", "shape": [2], "data": "!!"}}]', "base64"),
    ('[{"chunks": 3}]', "chunks"),
    ('[{"scores": {"a": "high"}}]', "scores"),
    ('["just a string"]', "JSON object"),
])
def test_bad_json_raises_malformed_with_reason(bad, match):
    with pytest.raises(MalformedDataError, match=match):
        codec.docs_from_json(bad)


def test_loads_json_reports_position():
    with pytest.raises(MalformedDataError, match="line 1 column 2"):
        codec.loads_json("{,}")


def test_docs_to_json_round_trip():
    docs = [rich_doc(), Document(blob=b"\x00\xff")]
    assert codec.docs_from_json(codec.docs_to_json(docs)) == docs


# --- requests ---------------------------------------------------------------------------

def make_request() -> DataRequest:
    req = DataRequest([rich_doc(), Document(text="b")], endpoint="/search",
                      parameters={"top_k": 3, "ratio": 1.0, "flags": [True, None],
                                  "nested": {"x": 1}},
                      target_executor="enc.*")
    req.header.timeout_ms = 2500
    req.routes = ["gateway", "encoder"]
    return req


def assert_same_request(a: DataRequest, b: DataRequest) -> None:
    assert a.header == b.header
    assert a.parameters == b.parameters
    assert type(b.parameters["top_k"]) is int and type(b.parameters["ratio"]) is float
    assert list(a.docs) == list(b.docs)
    assert a.routes == b.routes


def test_request_proto_and_bytes_round_trip():
    req = make_request()
    assert_same_request(req, codec.request_from_bytes(codec.request_to_bytes(req)))
    pb = codec.request_to_proto(req)
    assert isinstance(pb, shoal_pb2.RequestProto)
    assert_same_request(req, codec.request_from_proto(pb))
    assert_same_request(req, codec.request_from_bytes(pb.SerializeToString()))


def test_error_request_round_trip():
    req = make_request()
    req.set_error(ErrorInfo(name="ValueError", message="boom", executor="enc",
                            traceback="Traceback..."))
    for back in (codec.request_from_bytes(codec.request_to_bytes(req)),
                 codec.request_from_json_dict(json.loads(json.dumps(
                     codec.request_to_json_dict(req))))):
        assert back.is_error and back.header.error == req.header.error


def test_request_json_round_trip_and_shape():
    req = make_request()
    body = json.loads(json.dumps(codec.request_to_json_dict(req)))
    assert set(body) == {"header", "parameters", "routes", "data"}
    assert body["header"]["exec_endpoint"] == "/search"
    assert_same_request(req, codec.request_from_json_dict(body))


def test_request_from_jina_http_body():
    req = codec.request_from_json_dict({
        "data": [{"text": "hi", "embedding": [1, 2, 3]}, "bare string"],
        "parameters": {"limit": 2}, "exec_endpoint": "/index", "target_executor": "idx"})
    assert req.header.exec_endpoint == "/index" and req.header.target_executor == "idx"
    assert req.parameters == {"limit": 2}
    assert [d.text for d in req.docs] == ["hi", "bare string"]
    empty = codec.request_from_json_dict({})
    assert empty.header.exec_endpoint == "/" and len(empty.docs) == 0


@pytest.mark.parametrize("body", [[], {"parameters": [1]}, {"data": "x"},
                                  {"exec_endpoint": 3}, {"header": "x"},
                                  {"data": [{"id": []}]}])
def test_bad_request_json_raises_malformed(body):
    with pytest.raises(MalformedDataError):
        codec.request_from_json_dict(body)


def test_request_bytes_never_unpickle():
    payload = pickle.dumps(make_request().parameters)
    with pytest.raises(MalformedDataError):
        codec.request_from_bytes(b"\x12" + bytes([len(payload)]) + payload)
    with pytest.raises(MalformedDataError):
        codec.request_from_bytes(b"\xff\xfe garbage")


# --- property tests -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8,
)
dtypes = st.sampled_from(["float16", "float32", "float64", "int8", "uint8", "int64", "bool"])
shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)


@st.composite
def arrays(draw):
    dtype, shape = draw(dtypes), draw(shapes)
    size = int(np.prod(shape)) if shape else 1
    raw = draw(st.binary(min_size=size * np.dtype(dtype).itemsize,
                         max_size=size * np.dtype(dtype).itemsize))
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if arr.dtype.kind == "f":
        arr[np.isnan(arr)] = 0  # NaN != NaN would fail Document equality, not the codec
    return arr.astype(bool) if dtype == "bool" else arr


text_or_none = st.none() | st.text(max_size=10)


@st.composite
def documents(draw, depth=1):
    d = Document(id=draw(st.text(min_size=1, max_size=8)), text=draw(text_or_none),
                 blob=draw(st.none() | st.binary(max_size=8)),
                 tensor=draw(st.none() | arrays()), embedding=draw(st.none() | arrays()),
                 uri=draw(text_or_none), mime_type=draw(text_or_none),
                 modality=draw(text_or_none),
                 tags=draw(st.dictionaries(st.text(max_size=4), json_values, max_size=3)),
                 weight=draw(st.none() | st.floats(allow_nan=False)),
                 offset=draw(st.none() | st.floats(allow_nan=False)),
                 location=draw(st.none() | st.lists(st.floats(allow_nan=False), min_size=1,
                                                    max_size=3)))
    for name in draw(st.lists(st.text(min_size=1, max_size=4), max_size=2)):
        d.scores[name] = draw(st.none() | st.floats(allow_nan=False))
    if depth:
        for child in draw(st.lists(documents(depth=depth - 1), max_size=2)):
            d.chunks.append(child)
        for child in draw(st.lists(documents(depth=depth - 1), max_size=2)):
            d.matches.append(child)
    return d


def _eq(a: Document, b: Document) -> None:
    assert a == b
    for x, y in ((a.tensor, b.tensor), (a.embedding, b.embedding)):
        if x is not None:
            assert y.dtype == x.dtype and y.shape == x.shape and y.tobytes() == x.tobytes()
    assert json.dumps(a.tags, sort_keys=True) == json.dumps(b.tags, sort_keys=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_property_round_trip_proto_and_dict(d):
    _eq(d, codec.doc_from_bytes(codec.doc_to_bytes(d)))
    _eq(d, codec.doc_from_proto(codec.doc_to_proto(d)))
    _eq(d, codec.doc_from_dict(json.loads(json.dumps(codec.doc_to_dict(d)))))
    _eq(d, codec.docs_from_bytes(codec.docs_to_bytes([d, d]))[1])


def test_base64_helpers_reject_garbage():
    with pytest.raises(MalformedDataError, match="base64"):
        codec.docs_from_base64("***")
    assert codec.docs_from_base64(base64.b64encode(codec.docs_to_bytes([]))) == []


def test_same_length_embeddings_of_other_shape_or_dtype_stay_apart():
    shapes = [((128,), np.float32), ((2, 64), np.float32), ((128,), np.int32),
              ((4, 32), np.float32), ((128,), np.float32), ((64,), np.int64)]
    docs = [Document(id=str(i), embedding=np.arange(np.prod(shape)).astype(dt).reshape(shape) + i)
            for i, (shape, dt) in enumerate(shapes * 3)]
    back = codec.docs_from_bytes(codec.docs_to_bytes(docs))
    for a, b in zip(docs, back, strict=True):
        assert_same_array(a.embedding, b.embedding)


def test_numpy_scalars_in_fields_and_bad_values():
    d = Document(weight=np.float32(0.5), location=np.array([1.0, 2.0]), granularity=np.int64(2))
    d.scores["s"] = np.float32(0.25)
    text = json.dumps(codec.doc_to_dict(d))  # plain JSON, no numpy left
    back = codec.doc_from_dict(json.loads(text))
    assert back.weight == 0.5 and back.location == [1.0, 2.0] and back.granularity == 2
    assert codec.doc_from_bytes(codec.doc_to_bytes(d)).location == [1.0, 2.0]
    with pytest.raises(BadInputError, match="serialize"):
        codec.doc_to_bytes(Document(weight="heavy"))
    bad = Document()
    bad.scores["s"] = "high"
    with pytest.raises(BadInputError):
        codec.docs_to_bytes([bad])


def test_decoded_documents_have_every_slot_set():
    """The decoder bypasses Document.__init__: a new slot must be added there too."""
    for d in (codec.doc_from_bytes(codec.doc_to_bytes(Document())),
              codec.docs_from_bytes(codec.docs_to_bytes([rich_doc()]))[0].matches[0]):
        for name in Document.__slots__:
            if name != "__weakref__":
                getattr(d, name)
        assert d == Document(d)


def test_generated_proto_code_is_up_to_date(tmp_path):
    """shoal_pb2.py is committed: its schema must match shoal.proto (run generate.py)."""
    pytest.importorskip("grpc_tools")
    import re
    from pathlib import Path

    from shoal.proto import generate

    generate.generate(tmp_path)

    def schema(text: str) -> str:  # the serialized descriptor, not the version header
        return re.search(r"AddSerializedFile\((.*)\)", text).group(1)

    fresh = (tmp_path / "shoal_pb2.py").read_text()
    committed = (Path(generate.HERE) / "shoal_pb2.py").read_text()
    assert schema(fresh) == schema(committed), "shoal_pb2.py is stale: run generate.py"


@pytest.mark.parametrize("enc,dec", [c for c in BYTES_CODECS if c[0] is not codec.doc_to_proto])
def test_score_order_is_kept(enc, dec):
    """Kept on every bytes / dict path; a DocumentProto *object*'s map is unordered."""
    d = Document()
    names = ["zeta", "alpha", "mid", "beta", "omega", "a1"]
    for i, name in enumerate(names):
        d.scores[name] = i
    assert list(dec(enc(d)).scores) == names


def test_deeply_nested_input_is_malformed_not_a_crash():
    with pytest.raises(MalformedDataError, match="nested too deeply"):
        codec.loads_json("[" * 100_000 + "]" * 100_000)
    pb = shoal_pb2.DocumentProto(id="x", tags_json='{"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(MalformedDataError):
        codec.doc_from_bytes(pb.SerializeToString())
    deep = Document(text="leaf")
    for _ in range(200):  # beyond protobuf's nesting limit of 100
        deep = Document(chunks=[deep])
    data = codec.doc_to_bytes(deep)
    with pytest.raises(MalformedDataError):
        codec.doc_from_bytes(data)
