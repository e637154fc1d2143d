"""read_uri, decode_image and data URIs (no network)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from shoal.document.document import Document
from shoal.document.uri import decode_image, read_uri, to_data_uri
from shoal.errors import BadInputError, MalformedDataError

PIL = pytest.importorskip("PIL.Image")


def png_bytes(h: int = 5, w: int = 7, mode: str = "RGB") -> bytes:
    arr = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    img = PIL.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_read_local_path_file_uri_and_data_uri(tmp_path):
    path = tmp_path / "a b.txt"
    path.write_bytes(b"hello")
    assert read_uri(str(path)) == b"hello"
    assert read_uri(path) == b"hello"
    assert read_uri(path.as_uri()) == b"hello"
    assert read_uri("data:text/plain;base64," + base64.b64encode(b"hi").decode()) == b"hi"
    assert read_uri("data:,hello%20world") == b"hello world"


@pytest.mark.parametrize("uri,match", [
    (None, "no uri"), ("", "no uri"), ("/no/such/file.png", "no such file"),
    ("ftp://host/x", "unsupported uri scheme"), ("s3://bucket/key", "unsupported"),
])
def test_read_uri_errors(uri, match):
    with pytest.raises(BadInputError, match=match):
        read_uri(uri)


def test_bad_data_uris():
    with pytest.raises(MalformedDataError, match="base64"):
        read_uri("data:image/png;base64,***")
    with pytest.raises(MalformedDataError, match="','"):
        read_uri("data:image/png;base64")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(BadInputError, match="directory"):
        read_uri(str(tmp_path))


def test_decode_image_shapes_and_modes():
    arr = decode_image(png_bytes())
    assert arr.shape == (5, 7, 3) and arr.dtype == np.uint8
    assert decode_image(png_bytes(mode="L")).shape == (5, 7, 3)
    assert decode_image(png_bytes(mode="RGBA")).shape == (5, 7, 3)
    assert decode_image(png_bytes(), width=4, height=2).shape == (2, 4, 3)
    assert decode_image(png_bytes(), height=3).shape == (3, 7, 3)
    assert decode_image(png_bytes(), channel_axis=0).shape == (3, 5, 7)
    assert decode_image(png_bytes(), channel_axis=0).flags.c_contiguous


def test_decode_image_errors():
    with pytest.raises(BadInputError, match="no image bytes"):
        decode_image(b"")
    with pytest.raises(BadInputError, match="no image bytes"):
        decode_image(None)
    with pytest.raises(MalformedDataError, match="cannot decode image"):
        decode_image(b"definitely not an image")
    with pytest.raises(MalformedDataError):
        decode_image(png_bytes()[:40])  # truncated
    with pytest.raises(BadInputError, match="width"):
        decode_image(png_bytes(), width=0)
    with pytest.raises(BadInputError, match="channel_axis"):
        decode_image(png_bytes(), channel_axis=3)


def test_decompression_bomb_is_refused_before_decoding():
    # a 1-colour 3000x3000 PNG is tiny on disk but 27 MB decoded as RGB
    buf = io.BytesIO()
    PIL.new("L", (3000, 3000)).save(buf, format="PNG")
    with pytest.raises(BadInputError, match="limit"):
        decode_image(buf.getvalue(), max_pixels=1_000_000)
    with pytest.raises(BadInputError, match="limit"):
        decode_image(png_bytes(), max_pixels=10)


def test_document_uri_helpers(tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(png_bytes())
    d = Document(uri=str(path)).load_uri_to_image_tensor()
    assert d.tensor.shape == (5, 7, 3)
    data_uri = Document(uri=str(path)).load_uri_to_data_uri()
    assert data_uri.startswith("data:image/png;base64,")
    assert read_uri(data_uri) == png_bytes()
    assert Document(uri=data_uri).load_uri_to_blob().blob == png_bytes()
    text = tmp_path / "t.txt"
    text.write_text("héllo", encoding="utf-8")
    assert Document(uri=str(text)).load_uri_to_text().text == "héllo"


def test_to_data_uri_mime_types(tmp_path):
    path = tmp_path / "blob.unknownext"
    path.write_bytes(b"\x00")
    assert to_data_uri(str(path)).startswith("data:application/octet-stream;base64,")
    assert to_data_uri(str(path), "text/plain") == "data:text/plain;base64,AA=="
    assert to_data_uri("data:,x") == "data:,x"
