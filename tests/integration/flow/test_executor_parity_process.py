"""Jina-parity Executor features under runtime='process' (created in the worker)."""
from __future__ import annotations

import pytest

import shoal.serve.runtime  # noqa: F401 - registers runtime='process'
from shoal.document.document import Document
from shoal.executors import Executor, requests
from shoal.flow import Flow

pytestmark = pytest.mark.timeout(60)


class LogsInWorker(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.logger.info("worker ready")

    @requests
    def foo(self, docs, **kwargs):
        self.logger.info("serving")
        for d in docs:
            d.tags["logger"] = self.logger.name


def test_logger_in_worker_process():
    with Flow().add(name="lw", uses=LogsInWorker, runtime="process") as f:
        out = f.post("/", Document())
    assert out[0].tags["logger"] == "shoal.executor.lw"
