"""@monitor and automatic timing of @requests methods into a private registry."""
from __future__ import annotations

from shoal.document.array import DocumentArray
from shoal.document.request import DataRequest
from shoal.executors import Executor, monitor, requests
from shoal.executors.handler import run_sync
from shoal.executors.monitor import REQUEST_METRIC, Metrics


class Monitored(Executor):
    @requests(on="/x")
    def x(self, docs, **kwargs):
        self.helper()

    @monitor(name="helper_seconds", documentation="time in helper")
    def helper(self):
        return 1


def test_monitor_records_when_on_and_is_free_when_off():
    metrics = Metrics()
    ex = Monitored(runtime_args={"name": "mon", "metrics": metrics})
    run_sync(ex, [DataRequest(DocumentArray(), endpoint="/x")])
    run_sync(ex, [DataRequest(DocumentArray(), endpoint="/x")])
    assert metrics.value("helper_seconds", executor="mon") == 2
    assert metrics.value(REQUEST_METRIC, executor="mon", endpoint="/x") == 2
    off = Monitored()
    assert off.helper() == 1  # no metrics object: plain call


def test_registries_are_private():
    a, b = Metrics(), Metrics()
    a.observe("same_seconds", 0.1, executor="e")
    b.observe("same_seconds", 0.1, executor="e")  # no duplicate-name error
    assert a.value("same_seconds", executor="e") == 1
