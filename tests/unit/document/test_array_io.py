"""DocumentArray's serialization methods on every storage."""
import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import BadInputError, MalformedDataError


def _docs(n=25):
    rng = np.random.default_rng(0)
    return [Document(id=f"d{i}", text=f"t{i}", embedding=rng.random(8, dtype=np.float32),
                     tags={"i": i, "f": i / 2}) for i in range(n)]


@pytest.mark.parametrize("compress", [None, "zlib", "gzip"])
def test_bytes_round_trip(make_da, compress):
    da = make_da(_docs())
    back = DocumentArray.from_bytes(da.to_bytes(compress=compress), compress=compress)
    assert back == DocumentArray(_docs())
    assert back[3].tags == {"i": 3, "f": 1.5} and isinstance(back[3].tags["i"], int)
    assert back[0].embedding.dtype == np.float32


def test_json_dict_base64_protobuf(make_da):
    da = make_da(_docs(5))
    ref = DocumentArray(_docs(5))
    assert DocumentArray.from_json(da.to_json()) == ref
    assert DocumentArray.from_dict(da.to_dict()) == ref
    assert DocumentArray.from_base64(da.to_base64()) == ref
    assert DocumentArray.from_protobuf(da.to_protobuf()) == ref


def test_save_load_streams_in_batches(make_da, tmp_path):
    da = make_da(_docs(25))
    path = tmp_path / "docs.bin"
    da.save(path, compress="zlib")
    batches = list(DocumentArray.load(path, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert DocumentArray.load(path) == DocumentArray(_docs(25))
    for fmt in ("json", "csv"):
        da.save(tmp_path / f"docs.{fmt}", file_format=fmt)
        back = DocumentArray.load(tmp_path / f"docs.{fmt}", file_format=fmt)
        assert back.texts == da.texts


def test_pickle_only_on_request(tmp_path):
    da = DocumentArray(_docs(3))
    da.save(tmp_path / "p.bin", protocol="pickle")
    with pytest.raises(BadInputError):
        DocumentArray.load(tmp_path / "p.bin")
    assert DocumentArray.load(tmp_path / "p.bin", protocol="pickle") == da


def test_damaged_file_is_a_clear_error(tmp_path):
    path = tmp_path / "docs.bin"
    DocumentArray(_docs(50)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedDataError, match="damaged"):
        DocumentArray.load(path)
    with pytest.raises(MalformedDataError):
        DocumentArray.from_bytes(b"\x00garbage\xff" * 10)


def test_from_files_and_ndarray(tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}")
    da = DocumentArray.from_files(str(tmp_path / "*.txt"), read_mode="r")
    assert da.texts == ["file 0", "file 1", "file 2"]
    nd = DocumentArray.from_ndarray(np.arange(12).reshape(4, 3), field="embedding")
    assert nd.embeddings.shape == (4, 3)
    (tmp_path / "x.csv").write_text("text,price\nhello,3\nworld,4\n")
    csv = DocumentArray.from_csv(tmp_path / "x.csv")
    assert csv.texts == ["hello", "world"] and csv[0].tags["price"] == "3"
