"""Write the DocArray 0.21 sample files next to this script (needs docarray==0.21.*).

    /path/to/docarray-env/bin/python tests/unit/document/data/docarray021/make_fixtures.py

The tests read the committed outputs; CI needs no docarray. ``to_json`` is emulated with
``google.protobuf.json_format`` (what DocArray's ``to_json(protocol='protobuf')`` calls),
as DocArray 0.21's pydantic path breaks on pydantic 2.
"""
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from docarray import Document, DocumentArray
from docarray.dataclasses import dataclass
from docarray.score import NamedScore
from docarray.typing import Text
from google.protobuf.json_format import MessageToDict, MessageToJson

HERE = Path(__file__).resolve().parent


@dataclass
class Page:
    title: Text


def rich() -> Document:
    d = Document(id="root", text="hello", embedding=np.arange(4, dtype=np.float32),
                 tags={"n": 1, "s": "x", "l": [1, "a"], "d": {"k": True}, "z": None},
                 parent_id="p0", granularity=2, adjacency=1, weight=0.1,
                 uri="https://example.com/a.txt", modality="text", mime_type="text/plain",
                 offset=3.0, location=[1.0, 2.5])
    d.scores["cosine"] = NamedScore(value=0.25, op_name="op", description="desc", ref_id="r1")
    d.evaluations["precision"] = NamedScore(value=1.0)
    d.chunks.append(Document(id="c1", blob=b"\x00\xffbin",
                             embedding=np.ones((2, 3), dtype=np.float64)))
    d.matches.append(Document(id="m1", tensor=np.arange(6, dtype=">i4").reshape(2, 3)))
    d.matches[0].scores["cosine"] = NamedScore(value=0.5)
    return d


def array() -> DocumentArray:
    da = DocumentArray([rich()])
    da.extend(Document(id=f"e{i}", text=f"doc {i}",
                       embedding=np.full(3, i, dtype=np.float32)) for i in range(5))
    da.append(Document(id="sparse", tensor=sp.coo_matrix(([2.0, 3.0], ([0, 1], [1, 2])),
                                                         shape=(2, 3))))
    da.append(Document(id="list", tensor=[[1, 2], [3, 4]]))
    da.append(Document(id="uri", uri="cat.png"))
    da.append(Document(Page(title="a page"), id="page"))
    return da


def main() -> None:
    da = array()
    for protocol in ("protobuf-array", "protobuf", "pickle-array", "pickle"):
        for compress in (None, "zlib", "gzip", "lz4", "bz2", "lzma"):
            if protocol.startswith("pickle") and compress not in (None, "gzip"):
                continue
            name = f"da_{protocol}_{compress or 'none'}.bin".replace("-", "_")
            with open(HERE / name, "wb") as f:
                da.save_binary(f, protocol=protocol, compress=compress)
            assert len(DocumentArray.load_binary(HERE / name, protocol=protocol,
                                                 compress=compress)) == len(da)
    doc = rich()
    (HERE / "doc_protobuf.bin").write_bytes(doc.to_bytes(protocol="protobuf"))
    (HERE / "doc_protobuf_lz4.bin").write_bytes(doc.to_bytes(protocol="protobuf",
                                                             compress="lz4"))
    (HERE / "doc_pickle.bin").write_bytes(doc.to_bytes())
    (HERE / "doc_protobuf_zlib.b64").write_text(doc.to_base64(protocol="protobuf",
                                                              compress="zlib"))
    (HERE / "doc.json").write_text(MessageToJson(doc.to_protobuf()))
    (HERE / "da.json").write_text(json.dumps([MessageToDict(d.to_protobuf()) for d in da]))
    (HERE / "da_snake.json").write_text(json.dumps(
        [MessageToDict(d.to_protobuf(), preserving_proto_field_name=True) for d in da]))
    (HERE / "da_message.json").write_text(MessageToJson(da.to_protobuf()))
    print(f"wrote {len(list(HERE.iterdir())) - 1} files for ids {[d.id for d in da]}")


if __name__ == "__main__":
    main()
