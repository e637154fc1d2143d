"""One PostgreSQL array shared by worker processes (SHOAL_TEST_POSTGRES=1): concurrent
writers all commit with dense positions, a reader sees whole batches only, and a writer
killed with -9 inside ``extend`` leaves no half batch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from shoal.docstore import pg_testing
from shoal.document.array import DocumentArray

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(pg_testing.unavailable() is not None,
                                 reason=str(pg_testing.unavailable()))]
BATCH = 200
_PRELUDE = """
    import json, sys, time
    import numpy as np
    from shoal.document.array import DocumentArray
    from shoal.document.document import Document
    def batch(w, b, n):
        return [Document(id=f"w{w}-b{b}-{i}", text=f"w{w} b{b} {i}", tags={"w": w, "b": b},
                         embedding=np.full(8, w * 100 + b, dtype=np.float32)) for i in range(n)]
"""


def _spawn(body: str, *args: str) -> subprocess.Popen:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=os.getcwd())


@pytest.fixture
def cfg(request):
    url = pg_testing.shared_server().url
    return {"connection": url, "table_name": f"proc_{os.getpid()}_{request.node.name[-40:]}"
            .replace("[", "_").replace("]", "_").replace("-", "_")}


WRITER = """
    cfg, w, n = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    da = DocumentArray(storage="sqlite", config=cfg)
    for b in range(n):
        da.extend(batch(w, b, BATCH))
        print(b, flush=True)
    da.close()
""".replace("BATCH", str(BATCH))

READER = """
    cfg, target = json.loads(sys.argv[1]), int(sys.argv[2])
    da = DocumentArray(storage="sqlite", config=cfg)
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        n = len(da)
        if n % BATCH:
            print("PARTIAL", n, flush=True); sys.exit(1)
        if not seen or seen[-1] != n:
            seen.append(n)
        if n >= target:
            break
        time.sleep(0.005)
    print(json.dumps(seen), flush=True)
""".replace("BATCH", str(BATCH))


def test_concurrent_writers_and_a_reader_share_one_array(cfg):
    DocumentArray(storage="postgres", config=cfg).close()  # create it
    workers, per = 4, 5
    reader = _spawn(READER, json.dumps(cfg), str(workers * per * BATCH))
    writers = [_spawn(WRITER, json.dumps(cfg), str(w), str(per)) for w in range(workers)]
    for p in writers:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
    out, err = reader.communicate(timeout=90)
    assert reader.returncode == 0, out + err
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen[-1] == workers * per * BATCH
    with DocumentArray(storage="postgres", config=cfg) as da:
        assert len(da) == workers * per * BATCH
        ids = [d.id for d in da]
        assert len(set(ids)) == len(ids)
        for w in range(workers):  # each worker's batches in its own order, each batch contiguous
            mine = [i for i in ids if i.startswith(f"w{w}-")]
            assert mine == [f"w{w}-b{b}-{i}" for b in range(per) for i in range(BATCH)]
        pos = {d: k for k, d in enumerate(ids)}
        assert da.index("w3-b4-0") == pos["w3-b4-0"]
        emb = da.embeddings
        tags = [(d.tags["w"], d.tags["b"]) for d in da]
        assert np.array_equal(emb[:, 0], [w * 100 + b for w, b in tags])
        hit = da.find(np.full(8, 204, np.float32), limit=3, metric="euclidean")
        assert all(d.tags == {"w": 2, "b": 4} for d in hit)


KILLED = """
    cfg = json.loads(sys.argv[1])
    da = DocumentArray(storage="sqlite", config=cfg)
    for b in range(100000):
        da.extend(batch(0, b, BATCH))
        print(b, flush=True)
""".replace("BATCH", str(BATCH))


def test_kill_9_during_extend_leaves_whole_batches(cfg):
    proc = _spawn(KILLED, json.dumps(cfg))
    reported = []
    while len(reported) < 3:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"writer died: {proc.stderr.read()}")
        reported.append(int(line))
    time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    with DocumentArray(storage="postgres", config={**cfg, "timeout": 10}) as da:
        n = len(da)
        assert n % BATCH == 0 and n >= len(reported) * BATCH
        assert da._store.stats()["vec_rows"] == n
        batches = sorted({d.tags["b"] for d in da})
        assert batches == list(range(n // BATCH))
        da.extend(__import__("shoal").Document(id="after", embedding=np.zeros(8, np.float32))
                  for _ in range(1))
        assert da[-1].id == "after" and len(da) == n + 1
