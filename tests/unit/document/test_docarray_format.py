"""Reading what DocArray 0.21 saved: protobuf bytes / files / base64 / JSON, pickle refused.

The samples in data/docarray021/ were written by DocArray 0.21.1 (make_fixtures.py there);
these tests need no docarray.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal import Document, DocumentArray, dataclass
from shoal.document import codec
from shoal.document.codec import docarray_format, docarray_sniff
from shoal.typing import Text
from shoal.document.score import NamedScore
from shoal.errors import BadInputError, MalformedDataError

DATA = Path(__file__).parent / "data" / "docarray021"
HAS_LZ4 = importlib.util.find_spec("lz4") is not None
PROTOBUF_FILES = sorted(DATA.glob("da_protobuf_*.bin"))
PICKLE_FILES = sorted(DATA.glob("da_pickle_*.bin"))
IDS = ["root", "e0", "e1", "e2", "e3", "e4", "sparse", "list", "uri", "page"]


def _compress(path: Path) -> str | None:
    name = path.stem.rsplit("_", 1)[1]
    return None if name == "none" else name


def _skip_lz4(path: Path) -> None:
    if "lz4" in path.name and not HAS_LZ4:
        pytest.skip("lz4 is not installed")


def _dicts(docs: DocumentArray) -> list[dict]:
    return [d.to_dict() for d in docs]


@pytest.fixture(scope="module")
def reference() -> DocumentArray:
    return DocumentArray.load_binary(DATA / "da_protobuf_array_none.bin")


def test_every_field_of_a_docarray_document(reference):
    assert [d.id for d in reference] == IDS
    d = reference["root"]
    assert (d.text, d.parent_id, d.granularity, d.adjacency) == ("hello", "p0", 2, 1)
    assert (d.uri, d.modality, d.mime_type) == ("https://example.com/a.txt", "text", "text/plain")
    assert (d.weight, d.offset, d.location) == (0.1, 3.0, [1.0, 2.5])  # float32 -> shortest
    assert d.tags == {"n": 1.0, "s": "x", "l": [1.0, "a"], "d": {"k": True}, "z": None}
    assert d.embedding.dtype == np.float32 and d.embedding.tolist() == [0, 1, 2, 3]
    assert d.scores["cosine"] == NamedScore(value=0.25, op_type="op", description="desc",
                                            ref_id="r1")
    assert d.evaluations["precision"] == NamedScore(value=1.0)
    chunk, match = d.chunks[0], d.matches[0]
    assert (chunk.id, chunk.blob, chunk.parent_id, chunk.granularity) == (
        "c1", b"\x00\xffbin", "root", 3)
    assert chunk.embedding.dtype == np.float64 and chunk.embedding.shape == (2, 3)
    assert (match.id, match.adjacency, match.scores["cosine"].value) == ("m1", 2, 0.5)
    assert match.tensor.dtype == np.int32 and match.tensor.dtype.isnative  # was '>i4'
    assert match.tensor.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_tensors_of_every_kind_become_numpy(reference):
    assert reference["sparse"].tensor.tolist() == [[0, 2, 0], [0, 0, 3]]  # scipy COO
    assert reference["list"].tensor.tolist() == [[1, 2], [3, 4]]  # cls_name 'list'
    assert reference["uri"].uri == "cat.png" and reference["uri"].mime_type == "image/png"
    page = reference["page"]
    assert page.chunks[0].text == "a page" and page.chunks[0].modality == "text"
    schema = page.tags[docarray_format.METADATA_TAG]["multi_modal_schema"]
    assert schema["title"]["attribute_type"] == "document"


def test_embeddings_of_one_shape_share_one_matrix(reference):
    rows = [reference[f"e{i}"].embedding for i in range(5)]
    assert [r.tolist() for r in rows] == [[i] * 3 for i in range(5)]
    assert all(r.base is rows[0].base for r in rows) and rows[0].flags.writeable


@pytest.mark.parametrize("path", PROTOBUF_FILES, ids=lambda p: p.stem)
def test_load_binary_every_layout_and_compression(path, reference):
    _skip_lz4(path)
    expected = _dicts(reference)
    assert _dicts(DocumentArray.load_binary(path, compress=_compress(path))) == expected
    assert _dicts(DocumentArray.load_binary(path)) == expected  # compression sniffed
    protocol = "protobuf-array" if "array" in path.name else "protobuf"
    data = path.read_bytes()
    got = DocumentArray.from_bytes(data, protocol=protocol, compress=_compress(path))
    assert _dicts(got) == expected
    b64 = base64.b64encode(data).decode()
    assert _dicts(DocumentArray.from_base64(b64, compress=_compress(path))) == expected
    batches = list(DocumentArray.load_binary(path, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]


def test_single_documents_bytes_base64_json(reference):
    expected = reference["root"].to_dict()
    assert Document.from_bytes((DATA / "doc_protobuf.bin").read_bytes()).to_dict() == expected
    text = (DATA / "doc_protobuf_zlib.b64").read_text()
    assert Document.from_base64(text, compress="zlib").to_dict() == expected
    assert Document.from_json((DATA / "doc.json").read_text()).to_dict() == expected
    if HAS_LZ4:
        raw = (DATA / "doc_protobuf_lz4.bin").read_bytes()
        assert Document.from_bytes(raw, compress="lz4").to_dict() == expected


@pytest.mark.parametrize("name", ["da.json", "da_snake.json", "da_message.json"])
def test_protobuf_json(name, reference):
    got = DocumentArray.from_json((DATA / name).read_text())
    assert _dicts(got) == _dicts(reference)


def test_camel_case_keys_are_fields_not_tags():
    d = Document.from_json('{"id": "a", "parentId": "p", "mimeType": "text/plain", '
                           '"scores": {"x": {"opName": "cos"}}}')
    assert (d.parent_id, d.mime_type, d.tags) == ("p", "text/plain", {})
    assert d.scores["x"] == NamedScore(value=0.0, op_type="cos")


def test_bad_docarray_json_is_a_clear_error():
    bad = {"id": "a", "embedding": {"dense": {"buffer": "AAAA", "shape": [2], "dtype": "<f4"}}}
    with pytest.raises(MalformedDataError, match="needs 8 bytes, got 3"):
        Document.from_dict(bad)
    bad["embedding"]["dense"]["dtype"] = "|O"
    with pytest.raises(MalformedDataError, match="cannot be read without pickle"):
        Document.from_dict(bad)


@pytest.mark.parametrize("path", PICKLE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("protocol", [None, "pickle"])
def test_docarray_pickle_is_refused_never_loaded(path, protocol, monkeypatch):
    def no_unpickling(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    kwargs = {"compress": _compress(path)} | ({"protocol": protocol} if protocol else {})
    with pytest.raises(BadInputError, match="protocol='protobuf'"):
        DocumentArray.load_binary(path, **kwargs)
    with pytest.raises(BadInputError, match="never unpickles DocArray"):
        DocumentArray.from_bytes(path.read_bytes(), **kwargs)
    with pytest.raises(BadInputError, match="re-save it with DocArray"):
        Document.from_bytes((DATA / "doc_pickle.bin").read_bytes())


def test_shoal_pickle_still_needs_the_explicit_protocol():
    data = DocumentArray([Document(text="docarray is mentioned here")]).to_bytes(
        protocol="pickle")
    with pytest.raises(MalformedDataError, match="protocol='pickle'"):
        DocumentArray.from_bytes(data)
    assert DocumentArray.from_bytes(data, protocol="pickle")[0].text.startswith("docarray")


def test_damaged_docarray_bytes_are_malformed():
    data = (DATA / "da_protobuf_none.bin").read_bytes()
    for cut in (data[:-3], data[:20], data[:5] + b"\xff" * 40):
        with pytest.raises(MalformedDataError):
            DocumentArray.from_bytes(cut)
    with pytest.raises(MalformedDataError, match="cannot decompress"):
        DocumentArray.from_bytes((DATA / "da_protobuf_array_none.bin").read_bytes()[:-1],
                                 compress="gzip")


def test_written_for_docarray_reads_back(reference):
    for protocol in ("protobuf-array", "protobuf"):
        for compress in (None, "zlib", "gzip"):
            data = docarray_format.docs_to_docarray_bytes(reference, protocol, compress)
            got = DocumentArray.from_bytes(data, compress=compress)
            assert _dicts(got) == _dicts(reference)
    one = docarray_format.doc_to_docarray_bytes(reference["root"])
    assert Document.from_bytes(one).to_dict() == reference["root"].to_dict()
    with pytest.raises(BadInputError, match="pickle"):
        docarray_format.docs_to_docarray_bytes(reference, "pickle")


# --- shoal's own bytes are never taken for DocArray's ------------------------------------

AMBIGUOUS = [  # fit both schemas on the wire: must stay shoal's
    Document(id="a"),
    Document(id="b", uri="x.png"),  # uri + mime_type (DocArray's field 10 is modality)
    Document(id="c", uri="x", mime_type="text/plain", tags={"k": "v"}),
    Document(id="d", tensor=np.arange(5, dtype=np.uint8)),
    Document(id="e", parent_id="p"),
]


def test_ambiguous_shoal_documents_stay_shoal():
    data = codec.docs_to_bytes(AMBIGUOUS)
    assert not docarray_sniff.array_is_docarray(data)
    assert _dicts(DocumentArray.from_bytes(data)) == _dicts(DocumentArray(AMBIGUOUS))
    for d in AMBIGUOUS:
        assert not docarray_sniff.doc_is_docarray(codec.doc_to_bytes(d))
        assert Document.from_bytes(d.to_bytes()).to_dict() == d.to_dict()


_text = st.text(max_size=8)
_num = st.floats(allow_nan=False, width=32)
_docs = st.builds(
    Document, id=_text, parent_id=st.none() | _text, granularity=st.integers(0, 3),
    adjacency=st.integers(0, 3), text=st.none() | _text, uri=st.none() | _text,
    mime_type=st.none() | _text, modality=st.none() | _text, offset=st.none() | _num,
    weight=st.none() | _num, location=st.none() | st.lists(_num, max_size=3),
    tags=st.none() | st.dictionaries(_text, st.integers() | _text, max_size=2),
    embedding=st.none() | st.sampled_from([np.zeros(3, np.float32), np.arange(4.0)]),
    blob=st.none() | st.binary(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(lambda d, kids: (d.chunks.extend(kids), d)[1], _docs,
                          st.lists(_docs, max_size=2)), max_size=4))
def test_no_shoal_bytes_read_as_docarray(docs):
    data = codec.docs_to_bytes(docs)
    assert not docarray_sniff.array_is_docarray(data)
    for d in docs:
        assert not docarray_sniff.doc_is_docarray(codec.doc_to_bytes(d))


def test_docarray_json_detection_leaves_shoal_dicts_alone():
    d = Document(id="x", parent_id="p", mime_type="text/plain", embedding=np.ones(2),
                 scores={"s": NamedScore(value=1.0, op_type="o", ref_id="r")})
    assert not docarray_format.is_docarray_dict(json.loads(json.dumps(d.to_dict())))


@pytest.mark.parametrize("name", ["da_protobuf_none.bin", "da_protobuf_zlib.bin"])
def test_docarray_stream_files_are_read_record_by_record(name, reference, monkeypatch):
    """load_binary(batch_size=) of DocArray's streamed layout reads as it goes (was: the
    whole file read and decoded first: 600 MB peak for a 59 MB file)."""
    import io

    from shoal.document import fileio

    monkeypatch.setattr(fileio, "_CHUNK", 64)
    monkeypatch.setattr(fileio, "_DA_STREAM_BATCH", 2)
    data = (DATA / name).read_bytes()

    class Counting(io.BytesIO):
        read_so_far = 0

        def read(self, n=-1):
            out = super().read(n)
            Counting.read_so_far += len(out)
            return out

    batches = DocumentArray.load_binary(Counting(data), batch_size=2)
    first = next(batches)
    assert Counting.read_so_far < len(data)
    rest = [d for b in batches for d in b]
    assert _dicts(DocumentArray([*first, *rest])) == _dicts(reference)


def test_an_empty_docarray_array_file_loads_empty(tmp_path):
    """DocArray saves an empty array with protocol='protobuf-array' as no bytes at all."""
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert len(DocumentArray.load_binary(path)) == 0


@dataclass
class Page:
    title: Text


@dataclass
class Article:
    title: Text
    body: Text


def test_multimodal_documents_cross_both_ways(reference):
    """DocArray's multi_modal_schema <-> shoal's tags['_multimodal'] (was: Page(d) refused
    a DocArray dataclass Document, '@.[title]' was a bad path, and a shoal dataclass
    Document reached DocArray without its schema)."""
    from google.protobuf import json_format

    from shoal.proto import docarray021_pb2 as dpb

    page = reference["page"]
    assert Page(page).title == "a page"
    assert DocumentArray([page])["@.[title]"][:, "text"] == ["a page"]

    doc = Document(Article(title="x", body="y"))
    raw = docarray_format.docs_to_docarray_bytes([doc])
    msg = dpb.DocumentArrayProto.FromString(raw)
    meta = json_format.MessageToDict(msg.docs[0]._metadata)["multi_modal_schema"]
    assert meta["title"] == {"attribute_type": "document", "type": "Text", "position": 0}
    assert meta["body"]["position"] == 1
    assert "_multimodal" not in json_format.MessageToDict(msg.docs[0].tags)
    back = DocumentArray.from_bytes(raw, protocol="protobuf-array")[0]
    assert Article(back).body == "y"
