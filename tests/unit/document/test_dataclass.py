from typing import List

import numpy as np
import pytest

from shoal import Document, DocumentArray, dataclass, field
from shoal.errors import BadInputError
from shoal.typing import JSON, Blob, Image, Text


@dataclass
class Author:
    name: Text


@dataclass
class Page:
    title: Text
    cover: Image
    meta: JSON
    raw: Blob
    author: Author
    paragraphs: List[Text]
    views: int = 0


def test_dataclass_maps_fields_to_chunks_and_back(tmp_path):
    from PIL import Image as PILImage

    img = tmp_path / "c.png"
    PILImage.new("RGB", (5, 4), (0, 255, 0)).save(img)
    page = Page(title="Hello", cover=str(img), meta={"lang": "en", "n": 2}, raw=b"\x01",
                author=Author(name="Ann"), paragraphs=["p1", "p2"], views=7)
    d = Document(page)
    assert [c.modality for c in d.chunks][:4] == ["text", "image", "json", "blob"]
    assert all(c.parent_id == d.id and c.granularity == 1 for c in d.chunks)
    assert d.chunks[1].tensor.shape == (4, 5, 3)
    assert d.tags["views"] == 7
    # DocArray's shapes: an array of the field's chunk, a list field's items
    assert d.get_multi_modal_attribute("title").texts == ["Hello"]
    assert d.get_multi_modal_attribute("paragraphs").texts == ["p1", "p2"]
    assert DocumentArray([d])["@.[paragraphs]"].texts == ["p1", "p2"]
    assert d.is_multimodal and not Document(text="plain").is_multimodal
    back = Page(d)
    assert back.title == "Hello" and back.meta == {"lang": "en", "n": 2}
    assert back.cover == str(img) and back.raw == b"\x01"
    assert back.author.name == "Ann" and back.paragraphs == ["p1", "p2"] and back.views == 7
    assert Page.from_document(d).title == "Hello"


def test_tensor_images_and_custom_field():
    @dataclass
    class Pic:
        img: Image
        caption: str = field(setter=lambda v: Document(text=v.upper()),
                             getter=lambda d: d.text.lower(), default="x")

    d = Document(Pic(img=np.zeros((2, 2, 3), dtype=np.uint8), caption="Cat"))
    assert d.chunks[1].text == "CAT"
    back = Pic(d)
    assert back.caption == "cat" and back.img.shape == (2, 2, 3)


def test_document_without_schema_is_a_clear_error():
    with pytest.raises(BadInputError, match="not made from a multimodal dataclass"):
        Page(Document(text="plain"))


def test_a_bytes_field_is_base64_in_the_tags_and_the_document_serializes():
    """As DocArray: was kept as raw bytes in tags, so to_json / to_bytes failed."""
    from shoal.typing import Text

    @dataclass
    class Raw:
        title: Text
        raw: bytes = b""

    d = Document(Raw(title="a", raw=b"\x00\xff"))
    assert d.tags["raw"] == "AP8="
    again = Document.from_bytes(d.to_bytes())
    assert Raw(again).raw == b"\x00\xff" and Raw(Document.from_json(d.to_json())).title == "a"


def test_image_fields_take_pil_images_and_paths_get_their_mime_type(tmp_path):
    from PIL import Image as PILImage

    from shoal.errors import MalformedDataError

    @dataclass
    class Cover:
        cover: Image

    path = tmp_path / "c.png"
    PILImage.new("RGB", (5, 4), (0, 255, 0)).save(path)
    from_pil = Document(Cover(cover=PILImage.open(path)))
    assert from_pil.chunks[0].tensor.shape == (4, 5, 3)  # was: 'no such file: <PIL...>'
    from_path = Document(Cover(cover=str(path)))
    assert from_path.chunks[0].mime_type == "image/png"
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(MalformedDataError, match="bad.png.*not an image format"):
        Document(Cover(cover=str(tmp_path / "bad.png")))


def test_optional_fields_keep_their_modality_and_audio_wav_is_loaded(tmp_path):
    from typing import Optional

    from shoal.typing import Audio

    @dataclass
    class Clip:
        title: Optional[Text] = None  # noqa: UP045 - the spelling users write too
        sound: Audio | None = None

    wav = tmp_path / "a.wav"
    tone = (0.5 * np.sin(np.linspace(0, 20, 800))).astype(np.float32)
    Document(tensor=tone).save_audio_tensor_to_file(str(wav), sample_rate=8000)
    d = Document(Clip(title="hi", sound=str(wav)))
    assert [c.modality for c in d.chunks] == ["text", "audio"]  # was: title went to the tags
    assert np.allclose(d.chunks[1].tensor, tone, atol=1 / 2 ** 14)
    back = Clip(d)
    assert back.title == "hi" and back.sound == str(wav)
    assert Clip(Document(Clip())).title is None


def test_a_tabular_field_holds_one_chunk_per_csv_row(tmp_path):
    from shoal.typing import Tabular

    @dataclass
    class Sheet:
        table: Tabular

    path = tmp_path / "t.csv"
    path.write_text("id,text,price\na,first row,1\nb,second row,2\n")
    d = Document(Sheet(table=str(path)))
    rows = d.chunks[0].chunks
    assert d.chunks[0].modality == "tabular" and rows.texts == ["first row", "second row"]
    assert rows[0].tags["price"] == "1" and Sheet(d).table == str(path)
