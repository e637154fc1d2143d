import copy

import numpy as np
import pytest

from shoal import Document
from shoal.document.score import NamedScore
from shoal.errors import BadInputError


def test_default_id_is_random_32_hex():
    a, b = Document(), Document()
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    assert a.id != b.id


def test_every_schema_field_is_settable():
    d = Document(id="x", parent_id="p", granularity=1, adjacency=2, text="t", uri="u",
                 mime_type="text/plain", tags={"a": 1}, modality="text", offset=3,
                 location=[1, 2], weight=0.5, embedding=[1, 2, 3])
    assert (d.id, d.parent_id, d.granularity, d.adjacency) == ("x", "p", 1, 2)
    assert d.text == "t" and d.uri == "u" and d.mime_type == "text/plain"
    assert d.tags == {"a": 1} and d.modality == "text" and d.offset == 3
    assert d.location == [1, 2] and d.weight == 0.5
    assert isinstance(d.embedding, np.ndarray) and d.embedding.tolist() == [1, 2, 3]


@pytest.mark.parametrize("content, field", [
    ("hello", "text"), (b"\x00\x01", "blob"), (np.zeros((2, 3)), "tensor"),
])
def test_content_routes_to_the_right_field(content, field):
    d = Document(content=content)
    assert d.content_type == field
    assert d.content is getattr(d, field) or np.array_equal(d.content, getattr(d, field))
    d2 = Document(content)
    assert d2.content_type == field


def test_setting_content_clears_the_other_content_fields():
    d = Document(text="a")
    d.content = b"x"
    assert d.text == "" and d.content_type == "blob" and d.blob == b"x"


def test_unset_text_reads_empty_as_in_docarray():
    d = Document()
    d.text += "hello"
    assert d.text == "hello" and Document().content is None


def test_unknown_keywords_go_to_tags():
    assert Document(color="red", size=3).tags == {"color": "red", "size": 3}


def test_bad_content_type_is_a_clear_error():
    with pytest.raises(BadInputError, match="content must be"):
        Document(content=object())


def test_chunks_and_matches_keep_parent_links():
    d = Document(granularity=1, adjacency=0)
    d.chunks.append(Document(text="c"))
    d.matches.extend([Document(text="m1"), Document(text="m2")])
    assert d.chunks[0].parent_id == d.id and d.chunks[0].granularity == 2
    assert [m.adjacency for m in d.matches] == [1, 1]
    d.id = "new"
    assert d.chunks[0].parent_id == "new"


def test_named_scores_auto_create_and_accept_numbers():
    d = Document()
    d.scores["cosine"].value = 0.25
    d.scores["l2"] = 3.0
    assert d.scores["cosine"].value == 0.25
    assert d.scores["l2"] == NamedScore(value=3.0)
    d.evaluations["precision"] = {"value": 1.0, "op_type": "eval"}
    assert d.evaluations["precision"].op_type == "eval"


def test_equality_copy_and_deepcopy():
    d = Document(text="x", embedding=np.arange(3), tags={"a": [1, 2]})
    d.chunks.append(Document(text="c"))
    c = d.copy()
    assert c == d and c is not d
    c.tags["a"].append(3)
    assert d.tags["a"] == [1, 2]
    assert c.chunks[0] is not d.chunks[0]
    c.chunks.append(Document())
    assert c.chunks[1].parent_id == c.id
    assert copy.copy(d) == d
    assert Document(d) == d
    assert Document(text="x") != Document(text="x")  # different ids


def test_summary_prints_the_tree(capsys):
    d = Document(text="root")
    d.chunks.append(Document(text="chunk"))
    assert d.summary() is None  # as DocArray: printed only
    out = capsys.readouterr().out
    assert "chunks (1)" in out and "root" in out


def test_construction_from_dict_and_document():
    d = Document(text="x", tags={"n": 1})
    assert Document(d.to_dict()) == d


def test_load_uri_to_text_blob_and_image(tmp_path):
    from PIL import Image

    p = tmp_path / "a.txt"
    p.write_text("hello")
    assert Document(uri=str(p)).load_uri_to_text().text == "hello"
    assert Document(uri=str(p)).load_uri_to_blob().blob == b"hello"
    img = tmp_path / "a.png"
    Image.new("RGB", (4, 3), (255, 0, 0)).save(img)
    t = Document(uri=str(img)).load_uri_to_image_tensor().tensor
    assert t.shape == (3, 4, 3) and t.dtype == np.uint8 and t[0, 0, 0] == 255
    data_uri = Document(uri=str(p)).load_uri_to_data_uri()
    assert Document(uri=data_uri).load_uri_to_text().text == "hello"
