"""Document behaves as DocArray 0.21's: mime types from uris, Document(obj, **fields),
field_resolver, one content field, and the conversion methods (values checked against
DocArray 0.21.1)."""
from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import BadInputError, MalformedDataError


# --- 1. mime types -----------------------------------------------------------------------

@pytest.mark.parametrize("uri,mime", [
    ("a.jpg", "image/jpeg"), ("dir/b.PNG", "image/png"), ("x.txt", "text/plain"),
    ("data:image/png;base64,AAAA", "image/png"), ("noext", None), (None, None),
])
def test_mime_type_is_guessed_from_uri(uri, mime):
    assert Document(uri=uri).mime_type == mime


def test_a_given_mime_type_wins_and_extensions_are_read_as_types():
    assert Document(uri="a.jpg", mime_type="text/plain").mime_type == "text/plain"
    assert Document(mime_type="jpg").mime_type == "image/jpeg"
    assert Document(mime_type="foo/bar").mime_type == "foo/bar"
    assert Document().mime_type is None and Document().uri is None
    for ext in ("m", "jpg", "js", "zzz"):  # normalizing twice changes nothing
        once = Document(mime_type=ext).mime_type
        assert Document(mime_type=once).mime_type == once


def test_from_files_sets_mime_type_and_data_uris(tmp_path):
    (tmp_path / "a.txt").write_text("hi there")
    (tmp_path / "b.txt").write_text("yo")
    da = DocumentArray.from_files(str(tmp_path / "*.txt"))
    assert [d.mime_type for d in da] == ["text/plain", "text/plain"]
    d = next(iter(DocumentArray.from_files(str(tmp_path / "a.txt"), to_dataturi=True)))
    assert d.uri == "data:text/plain;charset=utf-8,hi%20there"
    assert d.load_uri_to_text().text == "hi there"


# --- 2. Document(obj, **fields) -------------------------------------------------------------

def test_keywords_apply_on_top_of_the_copied_document():
    a = Document(id="x", text="t", tags={"a": 1})
    b = Document(a, id="y", text="over")
    assert (b.id, b.text, a.id, a.text) == ("y", "over", "x", "t")
    c = Document(Document(tensor=np.ones(2)), text="over")
    assert c.content_type == "text" and c.tensor is None


def test_copy_false_shares_tags_copy_true_does_not():
    a = Document(id="x", text="t", tags={"a": 1})
    b = Document(a)
    b.tags["z"] = 1
    assert a.tags == {"a": 1, "z": 1}
    Document(a, tags={"b": 2})  # tags given on top merge into the shared dict (DocArray)
    assert a.tags == {"a": 1, "z": 1, "b": 2}
    c = Document(a, copy=True)
    c.tags["only"] = 1
    c.text = "changed"
    assert "only" not in a.tags and a.text == "t" and c.id == "x"


def test_copies_and_dicts_own_their_chunks():
    d = Document({"text": "x", "chunks": [{"text": "c"}]})
    d.chunks.append(Document())
    assert d.chunks[1].parent_id == d.id
    deep = Document(d, copy=True)
    deep.chunks.append(Document())
    assert deep.chunks[2].parent_id == deep.id and len(d.chunks) == 2


def test_field_resolver_and_unknown_fields_handler():
    assert Document({"identifier": "q"}, field_resolver={"identifier": "id"}).id == "q"
    assert Document(identifier="q", field_resolver={"identifier": "id"}).id == "q"
    d = Document({"identifier": "q", "text": "x"}, field_resolver={"text": "uri"})
    assert d.uri == "x" and d.tags == {"identifier": "q"}
    assert Document.from_dict({"name": "n"}, field_resolver={"name": "text"}).text == "n"
    assert Document({"id": "x", "foo": 1}).tags == {"foo": 1}
    assert Document({"id": "x", "foo": 1}, unknown_fields_handler="drop").tags == {}
    assert Document(color="red", unknown_fields_handler="drop").tags == {}
    with pytest.raises(BadInputError, match="foo"):
        Document({"foo": 1}, unknown_fields_handler="raise")
    with pytest.raises(BadInputError, match="unknown_fields_handler"):
        Document({"foo": 1}, unknown_fields_handler="keep")


def test_dict_keys_win_over_keywords():
    assert Document({"id": "x"}, id="y").id == "x"
    assert Document({"id": "x"}, text="t").text == "t"


# --- 3. one content field ---------------------------------------------------------------------

def test_setting_a_content_field_clears_the_others():
    d = Document(text="hello")
    d.tensor = np.ones(2)
    assert d.content_type == "tensor" and d.text == ""
    d.blob = b"b"
    assert d.content_type == "blob" and d.tensor is None
    d.content = "t"
    assert d.content_type == "text" and d.blob is None
    d.text = None
    assert d.content_type is None


def test_given_together_the_last_content_field_wins():
    assert Document(text="a", blob=b"b").content_type == "blob"
    assert Document(text="a", blob=b"b", tensor=np.ones(2)).content_type == "tensor"
    assert Document(text="a", content=b"c").blob == b"c"


# --- 4. methods ---------------------------------------------------------------------------

def test_pop_and_clear():
    d = Document(id="k", text="a", uri="x.txt", tags={"k": 1}, weight=2.0, granularity=2)
    assert d.pop("text", "tags") is None
    assert set(d.non_empty_fields) == {"id", "granularity", "uri", "mime_type", "weight"}
    d.pop("_metadata")  # a DocArray-only field: nothing to do
    with pytest.raises(BadInputError, match="txt"):
        d.pop("txt")
    d.clear()
    assert d.non_empty_fields == ("id",) and d.id == "k" and d.granularity == 0


def test_data_uris():
    d = Document(text="hello world", mime_type="text/html").convert_text_to_datauri()
    assert d.uri == "data:text/html;charset=utf-8,hello%20world"
    d = Document(text="hé").convert_text_to_datauri(base64=True)
    assert d.uri == "data:text/plain;charset=utf-8;base64," + base64.b64encode("hé".encode()).decode()
    assert d.mime_type == "text/plain"
    d = Document(blob=b"\x00\x01ab", mime_type="application/octet-stream")
    assert d.convert_blob_to_datauri().uri == "data:application/octet-stream;charset=utf-8,%00%01ab"
    with pytest.raises(BadInputError, match="mime_type"):
        Document(blob=b"ab").convert_blob_to_datauri()
    assert Document(text="a").convert_content_to_datauri().uri == "data:text/plain;charset=utf-8,a"


def test_uri_to_datauri_and_saving_files(tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("hi there")
    d = Document(uri=str(src)).convert_uri_to_datauri(base64=True)
    assert d.uri == "data:text/plain;charset=utf-8;base64,aGkgdGhlcmU="
    assert d.convert_uri_to_datauri().uri == d.uri  # a data URI stays
    buf = io.BytesIO()
    assert Document(uri=str(src)).save_uri_to_file(buf).uri == str(src)
    assert buf.getvalue() == b"hi there"
    Document(blob=b"xyz").save_blob_to_file(str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"xyz"
    with pytest.raises(BadInputError, match="no blob"):
        Document().save_blob_to_file(str(tmp_path / "none"))
    with pytest.raises(BadInputError, match="cannot write"):
        Document(blob=b"x").save_blob_to_file(str(tmp_path / "no" / "dir" / "f"))


def test_text_tensor_vocab_round_trip():
    vocab = {"hello": 2, "world": 3}
    d = Document(text="Hello, World! foo").convert_text_to_tensor(vocab, max_length=5)
    assert d.tensor.tolist() == [0, 0, 2, 3, 1] and d.tensor.dtype == np.int64
    assert d.text == ""  # the tensor replaced the text
    assert d.convert_tensor_to_text(vocab).text == "hello world <UNK>"
    assert Document(text="a b c d").convert_text_to_tensor({"a": 2}, max_length=2).tensor.tolist() == [1, 1]
    d = Document(tensor=np.array([2, 0, 3])).convert_tensor_to_text({2: "x", 3: "y"})
    assert d.text == "x y"
    assert dict(Document(text="a b a").get_vocabulary()) == {"a": 2, "b": 1}


def test_blob_tensor_round_trip():
    d = Document(blob=np.arange(4, dtype="float32").tobytes()).convert_blob_to_tensor(dtype="float32")
    assert d.tensor.tolist() == [0, 1, 2, 3] and d.content_type == "tensor"
    assert d.convert_tensor_to_blob().content_type == "blob"


def test_feature_hashing_matches_docarray():
    d = Document(text="hello world hello", tags={"a": "x", "b": 2}).embed_feature_hashing(n_dim=8)
    assert d.embedding.tolist() == [0.0, 1518672.0, 4.0, 0.0, 0.0, 0.0, 0.0, 6.0]
    d = Document(text="hello world hello", tags={"a": "x"}).embed_feature_hashing(n_dim=8, fields=("text",))
    assert d.embedding.tolist() == [0.0, 739976.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    d = Document(text="hi", tags={"a": "true"})
    dense = d.embed_feature_hashing(n_dim=16).embedding
    assert dense.tolist()[:10] == [0, 159869, 0, 0, 0, 0, 0, 0, 0, 274362]
    pytest.importorskip("scipy")
    assert d.embed_feature_hashing(n_dim=16, sparse=True).embedding.toarray()[0].tolist() == dense.tolist()


def test_content_hash_and_nbytes():
    a, b = Document(id="1", text="a", tags={"t": 1}), Document(id="1", text="a", tags={"t": 1})
    assert a.content_hash == b.content_hash and isinstance(a.content_hash, int)
    b.embedding = np.ones(2)  # not hashed, as in DocArray
    assert a.content_hash == b.content_hash
    assert Document(id="1", text="b").content_hash != a.content_hash
    assert a.nbytes == len(a.to_bytes())


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (6, 5, 3), dtype=np.uint8)


def test_image_tensor_encodings(tmp_path):
    img = _image()
    d = Document(tensor=img.copy()).convert_image_tensor_to_blob()
    assert d.blob[:8] == b"\x89PNG\r\n\x1a\n" and len(d.blob) == 164
    assert np.array_equal(Document(blob=d.blob).convert_blob_to_image_tensor().tensor, img)
    d = Document(tensor=img.copy()).convert_image_tensor_to_uri()
    assert d.uri.startswith("data:image/png;base64,") and d.mime_type == "image/png"
    assert np.array_equal(Document(uri=d.uri).load_uri_to_image_tensor().tensor, img)
    d = Document(tensor=np.moveaxis(img, -1, 0)).convert_image_tensor_to_uri(channel_axis=0,
                                                                              image_format="jpeg")
    assert d.mime_type == "image/jpeg"
    flat = np.random.default_rng(0).integers(0, 255, 784, dtype=np.uint8)  # MNIST-style
    assert hashlib.md5(Document(tensor=flat).convert_image_tensor_to_blob().blob).hexdigest() \
        == "67225ab8ab67e5d93d321fc315ab77cc"  # DocArray 0.21.1
    Document(tensor=img).save_image_tensor_to_file(str(tmp_path / "a.png"))
    assert np.array_equal(Document(uri=str(tmp_path / "a.png")).load_uri_to_image_tensor().tensor, img)
    with pytest.raises(BadInputError, match="image_format"):
        Document(tensor=img).convert_image_tensor_to_blob(image_format="gif")
    with pytest.raises(BadInputError, match="no tensor"):
        Document().convert_image_tensor_to_uri()


def test_image_tensor_shape_normalization_channel_axis():
    img = _image()
    assert int(Document(tensor=img).set_image_tensor_shape((4, 3)).tensor.sum()) == 4483
    assert Document(tensor=img).set_image_tensor_shape((8, 9)).tensor.shape == (8, 9, 3)
    chw = Document(tensor=np.moveaxis(img, -1, 0)).set_image_tensor_shape((4, 3), channel_axis=0)
    assert chw.tensor.shape == (3, 4, 3) and int(chw.tensor.sum()) == 4483
    assert Document(tensor=img).set_image_tensor_resample(0.5).tensor.shape == (3, 2, 3)
    d = Document(tensor=img).set_image_tensor_normalization()
    assert d.tensor.dtype == np.float32 and round(float(d.tensor.sum()), 3) == 27.595
    assert int(d.set_image_tensor_inv_normalization().tensor.sum()) == 11872
    assert Document(tensor=img).set_image_tensor_channel_axis(-1, 0).tensor.shape == (3, 6, 5)
    with pytest.raises(BadInputError, match="uint8"):
        Document(tensor=img.astype(np.float32)).set_image_tensor_normalization()
    with pytest.raises(BadInputError, match="axis"):
        Document(tensor=img).set_image_tensor_channel_axis(5, 0)


def test_load_uri_to_text_takes_docarray_charset(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes("é".encode("latin-1"))
    assert Document(uri=str(p)).load_uri_to_text(charset="latin-1").text == "é"
    with pytest.raises(MalformedDataError, match="utf-8"):
        Document(uri=str(p)).load_uri_to_text()


def test_display_prints_the_summary(capsys):
    assert Document(text="shown").display() is None
    assert "shown" in capsys.readouterr().out


def test_methods_chain():
    d = (Document(text="hello world").convert_text_to_tensor({"hello": 2})
         .convert_tensor_to_text({"hello": 2}).embed_feature_hashing(n_dim=4))
    assert d.text == "hello <UNK>" and d.embedding.shape == (4,)
