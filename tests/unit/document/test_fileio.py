"""The streamed binary container, JSON Lines and CSV: round trips, streaming, damage."""
from __future__ import annotations

import io
import os
import struct

import numpy as np
import pytest

from shoal.document import codec, fileio
from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import BadInputError, MalformedDataError, StoreVersionError


def make_docs(n: int = 10) -> list[Document]:
    docs = []
    for i in range(n):
        d = Document(id=f"d{i}", text=f"text {i}", embedding=np.full(4, i, dtype=np.float16),
                     tags={"i": i, "half": i / 2, "ok": i % 2 == 0, "none": None})
        if i % 3 == 0:
            d.tensor = np.arange(6, dtype=np.int8).reshape(1, 2, 3)
            m = Document(id=f"m{i}", text="match")
            m.scores["cosine"] = 0.5
            d.matches.append(m)
            d.chunks.append(Document(id=f"c{i}", blob=b"\x00\x01"))
        docs.append(d)
    return docs


@pytest.mark.parametrize("compress", [None, "zlib", "gzip", "bz2", "lzma"])
def test_save_load_round_trip(tmp_path, compress):
    docs = make_docs(25)
    path = tmp_path / "docs.bin"
    assert fileio.save_docs(docs, path, compress=compress, batch_size=4) == 25
    assert fileio.load_docs(path) == docs
    assert fileio.load_docs(str(path)) == docs
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_file_objects_and_generators(tmp_path):
    buf = io.BytesIO()
    assert fileio.save_docs((d for d in make_docs(5)), buf) == 5
    buf.seek(0)
    assert fileio.load_docs(buf) == make_docs(5)


def test_empty_array(tmp_path):
    path = tmp_path / "empty.bin"
    fileio.save_docs([], path)
    assert fileio.load_docs(path) == []
    assert list(fileio.iter_load(path, batch_size=3)) == []


@pytest.mark.parametrize("batch_size,expected", [(None, [4, 4, 2]), (3, [3, 3, 3, 1]),
                                                 (10, [10]), (100, [10])])
def test_iter_load_batches(tmp_path, batch_size, expected):
    docs = make_docs(10)
    path = tmp_path / "docs.bin"
    fileio.save_docs(docs, path, batch_size=4)
    batches = list(fileio.iter_load(path, batch_size=batch_size))
    assert [len(b) for b in batches] == expected
    assert [d for b in batches for d in b] == docs


def test_iter_load_streams_record_by_record(tmp_path):
    """A damaged tail is only noticed when reached: earlier batches were already yielded."""
    path = tmp_path / "docs.bin"
    fileio.save_docs(make_docs(10), path, batch_size=2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    it = fileio.iter_load(path)
    assert len(next(it)) == 2
    with pytest.raises(MalformedDataError, match="truncated"):
        list(it)


def test_truncated_file_names_the_record(tmp_path):
    path = tmp_path / "docs.bin"
    fileio.save_docs(make_docs(10), path, batch_size=4)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 16, len(data) // 2, 20):
        path.write_bytes(data[:cut])
        with pytest.raises(MalformedDataError, match=r"damaged at record \d+ .*truncated"):
            fileio.load_docs(path)


def test_corrupt_byte_fails_checksum(tmp_path):
    path = tmp_path / "docs.bin"
    fileio.save_docs(make_docs(10), path, batch_size=4)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # inside record 0's payload
    path.write_bytes(bytes(data))
    with pytest.raises(MalformedDataError, match="record 0.*checksum"):
        fileio.load_docs(path)


def test_wrong_end_count_is_caught(tmp_path):
    path = tmp_path / "docs.bin"
    fileio.save_docs(make_docs(3), path)
    data = path.read_bytes()
    end = struct.pack("<QII", 0, 7, 0)
    assert data.endswith(struct.pack("<QII", 0, 3, 0))
    path.write_bytes(data[:-16] + end)
    with pytest.raises(MalformedDataError, match="end record counts 7"):
        fileio.load_docs(path)


def test_garbage_and_newer_version(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\x00garbage" + b"\xff" * 100)  # field number 0 is never valid
    with pytest.raises(MalformedDataError, match="damaged or not a shoal document file"):
        fileio.load_docs(path)
    with pytest.raises(MalformedDataError, match="not a shoal document file"):
        list(fileio.iter_load(path))
    path.write_bytes(b"")  # how DocArray saves an empty array ('protobuf-array')
    assert fileio.load_docs(path) == []
    path.write_bytes(fileio.MAGIC + bytes([99, 0, 0, 0]))
    with pytest.raises(StoreVersionError, match="upgrade"):
        fileio.load_docs(path)


def test_plain_to_bytes_output_loads_too(tmp_path):
    path = tmp_path / "raw.bin"
    docs = make_docs(3)
    path.write_bytes(codec.docs_to_bytes(docs, compress="gzip"))
    assert fileio.load_docs(path, compress="gzip") == docs


def test_pickle_only_on_explicit_request(tmp_path):
    path = tmp_path / "docs.pkl"
    docs = make_docs(4)
    fileio.save_docs(docs, path, protocol="pickle", compress="zlib")
    with pytest.raises(BadInputError, match="protocol='pickle'"):
        fileio.load_docs(path)
    with pytest.raises(BadInputError, match="protocol='pickle'"):
        list(fileio.iter_load(path))
    assert fileio.load_docs(path, protocol="pickle") == docs
    assert fileio.load_docs(path, protocol="pickle")[0].tags["half"] == 0.0


def test_missing_file_and_bad_args(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        fileio.load_docs(tmp_path / "nope.bin")
    with pytest.raises(BadInputError):
        fileio.save_docs([], tmp_path / "x.bin", batch_size=0)
    with pytest.raises(BadInputError, match="compression"):
        fileio.save_docs([], tmp_path / "x.bin", compress="nope")
    assert not (tmp_path / "x.bin").exists()


def test_failed_save_leaves_no_file(tmp_path):
    path = tmp_path / "docs.bin"
    bad = [Document(text="ok"), Document(tags={"x": object()})]
    with pytest.raises(BadInputError):
        fileio.save_docs(bad, path, batch_size=1)
    assert os.listdir(tmp_path) == []


def test_progress_bar(tmp_path, capsys):
    path = tmp_path / "docs.bin"
    fileio.save_docs(make_docs(3), path, show_progress=True)
    assert len(fileio.load_docs(path, show_progress=True)) == 3


# --- JSON Lines ---------------------------------------------------------------------------

def test_json_lines_round_trip(tmp_path):
    docs = make_docs(7)
    path = tmp_path / "docs.jsonl"
    assert fileio.save_json(docs, path) == 7
    lines = path.read_text().splitlines()
    assert len(lines) == 7 and lines[0].startswith("{")
    assert fileio.load_json(path) == docs
    assert next(fileio.iter_json(path)) == docs[0]


def test_json_array_file_and_bad_line(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text('[{"text": "a"},\n {"text": "b", "embedding": [1, 2]}]')
    assert [d.text for d in fileio.load_json(path)] == ["a", "b"]
    path.write_text('{"text": "a"}\n\n{"text": oops}\n')
    with pytest.raises(MalformedDataError, match="line 3"):
        fileio.load_json(path)
    path.write_text('\n\n{"text": "a"}\n{"text": oops}\n')
    with pytest.raises(MalformedDataError, match="line 4"):
        fileio.load_json(path)
    path.write_text("")
    assert fileio.load_json(path) == []


# --- CSV ----------------------------------------------------------------------------------

def test_csv_round_trip_of_fields(tmp_path):
    docs = [Document(id="a", text="hello, world", uri="x.png", weight=0.5, granularity=1,
                     embedding=np.arange(3, dtype=np.float32), tags={"color": "red"}),
            Document(id="b", text='say "hi"\nnext line', tags={"size": "L"})]
    path = tmp_path / "docs.csv"
    assert fileio.save_csv(docs, path) == 2
    header = path.read_text().splitlines()[0]
    assert header.split(",")[:2] == ["id", "granularity"] and "tag__color" in header
    back = fileio.load_csv(path)
    assert [d.id for d in back] == ["a", "b"]
    assert back[0].text == "hello, world" and back[1].text == 'say "hi"\nnext line'
    assert back[0].weight == 0.5 and back[0].granularity == 1
    assert back[0].embedding.dtype == np.float32 and back[0].embedding.tolist() == [0, 1, 2]
    assert back[0].tags == {"color": "red"} and back[1].tags == {"size": "L"}


def test_from_csv_like_docarray(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("question,uri,tag__lang,score\nwhat?,a.txt,en,3\nwhy?,,de,\n")
    docs = fileio.load_csv(path, field_resolver={"question": "text"})
    assert [d.text for d in docs] == ["what?", "why?"]
    assert docs[0].uri == "a.txt" and docs[1].uri is None
    assert docs[0].tags == {"lang": "en", "score": "3"} and docs[1].tags == {"lang": "de"}
    path.write_text("text,tag__n,tag__ok\na,3,true\n")
    assert fileio.load_csv(path)[0].tags == {"n": 3, "ok": True}
    assert len(fileio.load_csv(path, size=1)) == 1


def test_csv_flattened_tags_keep_types(tmp_path):
    tags = {"int": 1, "float": 1.0, "bool": False, "none": None, "text": "plain",
            "numeric_text": "1", "empty": "", "quoted": '"q"', "list": [1, {"a": 2.5}]}
    path = tmp_path / "docs.csv"
    fileio.save_csv([Document(id="a", tags=tags)], path)
    back = fileio.load_csv(path)[0].tags
    assert back == tags
    assert type(back["int"]) is int and type(back["float"]) is float


def test_csv_unflattened_tags_keep_types(tmp_path):
    path = tmp_path / "docs.csv"
    fileio.save_csv([Document(id="a", tags={"n": 1, "f": 1.0})], path, flatten_tags=False)
    assert fileio.load_csv(path)[0].tags == {"n": 1, "f": 1.0}


def test_bad_csv_cell_names_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,weight\nok,1.5\nbad,heavy\n")
    with pytest.raises(MalformedDataError, match="line 3, column 'weight'"):
        fileio.load_csv(path)
    path.write_text("")
    assert fileio.load_csv(path) == []


def test_text_formats_on_file_objects_leave_them_open():
    docs = make_docs(3)
    for save, load in ((fileio.save_json, fileio.load_json), (fileio.save_csv, fileio.load_csv)):
        buf = io.BytesIO()
        save(docs, buf)
        assert not buf.closed
        buf.seek(0)
        back = load(buf)
        assert not buf.closed and [d.id for d in back] == [d.id for d in docs]
    text = io.StringIO()
    fileio.save_json(docs, text)
    text.seek(0)
    assert fileio.load_json(text) == docs


def test_non_seekable_stream(tmp_path):
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._buf = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b) -> int:  # short reads, like a pipe
            data = self._buf.read(min(len(b), 7))
            b[: len(data)] = data
            return len(data)

    buf = io.BytesIO()
    fileio.save_docs(make_docs(6), buf, batch_size=4)
    assert fileio.load_docs(Pipe(buf.getvalue())) == make_docs(6)
    assert fileio.load_docs(io.BufferedReader(Pipe(buf.getvalue()))) == make_docs(6)
    with pytest.raises(MalformedDataError, match="truncated"):
        fileio.load_docs(Pipe(buf.getvalue()[:-20]))


def test_load_from_bytes_in_memory():
    buf = io.BytesIO()
    fileio.save_docs(make_docs(3), buf)
    assert fileio.load_docs(buf.getvalue()) == make_docs(3)
    assert [len(b) for b in fileio.iter_load(buf.getvalue(), batch_size=2)] == [2, 1]
    with pytest.raises(MalformedDataError, match="<bytes>"):
        fileio.load_docs(buf.getvalue()[:-3])


def test_save_into_a_text_mode_file_says_open_it_binary(tmp_path):
    from shoal.errors import BadInputError

    path = tmp_path / "out.txt"
    with open(path, "w") as fp, pytest.raises(BadInputError, match="open it with 'wb'"):
        DocumentArray([Document(text="x")]).save(fp)
    assert path.read_bytes() == b""
