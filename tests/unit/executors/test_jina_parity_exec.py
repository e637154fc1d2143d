"""Jina 3 parity of the Executor surface: ``self.logger``, ``self.monitor(...)``."""
from __future__ import annotations

import logging
import pickle


from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.document.request import DataRequest
from shoal.executors import Executor, requests
from shoal.executors.handler import run_sync
from shoal.executors.monitor import Metrics
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


class TimesBlocks(Executor):
    @requests(on="/x")
    def x(self, docs, **kwargs):
        with self.monitor("preprocessing_seconds", "Time preprocessing the requests"):
            n = len(docs)
        with self.monitor("preprocessing_seconds", "Time preprocessing the requests") as t:
            n += 0
        for d in docs:
            d.tags["timer"] = type(t).__name__
        return {"n": n}


def test_monitor_context_records_when_on():
    metrics = Metrics()
    ex = TimesBlocks(runtime_args={"name": "tb", "metrics": metrics})
    run_sync(ex, [DataRequest(DocumentArray([Document()]), endpoint="/x")])
    assert metrics.value("preprocessing_seconds", executor="tb") == 2
    assert metrics.value("preprocessing_seconds", "_sum", executor="tb") >= 0
    assert "Time preprocessing the requests" in _exposition(metrics)


def test_monitor_context_is_noop_when_off():
    with Flow().add(uses=TimesBlocks, name="tb") as f:
        out = f.post("/x", [Document()])
    assert out[0].tags["timer"] == "NoneType"  # nullcontext yields None


def test_monitor_context_records_in_monitored_flow():
    with Flow(monitoring=True).add(uses=TimesBlocks, name="tb") as f:
        f.post("/x", [Document()])
        assert f.metrics.value("preprocessing_seconds", executor="tb") == 2


def _exposition(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()
