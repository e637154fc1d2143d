"""Bounded load: concurrent clients on every protocol, each request answered exactly once.

The default run is short (16 clients, 3 s). ``SHOAL_LOAD_SECONDS=30 SHOAL_LOAD_CLIENTS=32``
gives the issue's 30 s / 32-client run, which also checks that the process' memory is
flat (RSS after the run within a bound of RSS after the warm-up).
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from shoal import Document, DocumentArray, Executor, Flow, requests
from shoal.client import Client
from shoal.flow.flow import free_port

SECONDS = float(os.environ.get("SHOAL_LOAD_SECONDS", "3"))
CLIENTS = int(os.environ.get("SHOAL_LOAD_CLIENTS", "16"))
LONG = "SHOAL_LOAD_SECONDS" in os.environ

pytestmark = pytest.mark.timeout(SECONDS * 4 + 60)


class Recorder(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen: Counter = Counter()
        self.lock = threading.Lock()

    @requests
    def record(self, docs, **kwargs):
        with self.lock:
            self.seen.update(d.id for d in docs)
        for d in docs:
            d.text = "seen"


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_concurrent_clients_every_request_answered_once():
    protocols = ["grpc", "http", "websocket"]
    ports = [free_port() for _ in protocols]
    f = Flow(protocol=protocols, port=ports).add(uses=Recorder, name="rec")
    sent: list[list[str]] = [[] for _ in range(CLIENTS)]
    failures: list[BaseException] = []
    answered = [0] * CLIENTS

    def run(i: int, deadline: float) -> None:
        proto = protocols[i % len(protocols)]
        try:
            with Client(port=ports[i % len(ports)], protocol=proto) as c:
                n = 0
                while time.monotonic() < deadline:
                    docs = DocumentArray(Document(id=f"c{i}-{n}-{k}") for k in range(1 + n % 4))
                    n += 1
                    out = c.post("/load", docs, request_size=2)
                    assert out[:, "id"] == docs[:, "id"], "answers do not match the request"
                    assert set(out.texts) == {"seen"}
                    sent[i].extend(docs[:, "id"])
                    answered[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with f:
        executor = f._replica_sets["rec"].workers[0][0].executor  # noqa: SLF001
        warm = Client(port=ports[0])
        warm.post("/load", DocumentArray.empty(10))
        warm.close()
        executor.seen.clear()
        rss_before = _rss_mb()
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=run, args=(i, deadline)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 60)
        rss_after = _rss_mb()
        seen = dict(executor.seen)
    assert not failures, failures[:3]
    assert all(n > 0 for n in answered), answered
    all_sent = [doc_id for ids in sent for doc_id in ids]
    assert len(all_sent) == len(set(all_sent))
    assert set(seen) == set(all_sent)
    assert all(count == 1 for count in seen.values()), "a document was processed twice"
    if LONG:
        assert rss_after - rss_before < 150, (rss_before, rss_after)
