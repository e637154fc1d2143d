"""Jina 3 parity of the Executor surface: ``self.logger``, ``self.monitor(...)``."""
from __future__ import annotations

import logging
import pickle


from shoal.document.document import Document
from shoal.executors import Executor, requests
from shoal.flow import Flow


class Talks(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.logger.info("ready")
        self.seen_logger = self.logger

    @requests
    def foo(self, docs, **kwargs):
        self.logger.info("serving %d docs", len(docs))
        for d in docs:
            d.tags["logger"] = self.logger.name


def test_logger_is_a_named_std_logger(caplog):
    with caplog.at_level(logging.INFO, logger="shoal.executor"):
        ex = Talks(metas={"name": "talker"})
    assert isinstance(ex.logger, logging.Logger)
    assert ex.logger.name == "shoal.executor.talker"
    assert ex.seen_logger is ex.logger
    assert any(r.name == "shoal.executor.talker" and r.message == "ready"
               for r in caplog.records)
    assert pickle.loads(pickle.dumps(ex.logger)) is ex.logger


def test_logger_without_init_and_in_flow():
    assert Executor().logger.name == "shoal.executor.Executor"
    with Flow().add(uses=Talks, name="t1") as f:
        out = f.post("/", [Document()])
    assert out[0].tags["logger"] == "shoal.executor.t1"


def test_logger_assignable():
    ex = Talks()
    ex.logger = logging.getLogger("custom")
    assert ex.logger.name == "custom"
