"""shoal.utils.pipeline.overlapped: same results as a plain loop, in order, errors raised."""
from __future__ import annotations

import threading

import pytest

from shoal.utils.pipeline import overlapped


def test_results_in_order_and_produce_runs_in_a_worker():
    threads = set()

    def produce(c):
        threads.add(threading.current_thread().name)
        return c * 10

    out = overlapped(list(range(7)), produce, lambda r: r + 1)
    assert out == [c * 10 + 1 for c in range(7)]
    assert all(name.startswith("shoal-overlap") for name in threads)


def test_one_chunk_or_none_runs_inline():
    assert overlapped([], lambda c: c, lambda r: r) == []
    caller = threading.current_thread().name
    assert overlapped([1], lambda c: threading.current_thread().name, lambda r: r) == [caller]


@pytest.mark.parametrize("where", ["produce", "consume"])
def test_an_error_in_either_step_is_raised_to_the_caller(where):
    def produce(c):
        if where == "produce" and c == 2:
            raise ValueError("bad chunk 2")
        return c

    def consume(r):
        if where == "consume" and r == 1:
            raise ValueError("bad chunk 1")
        return r

    with pytest.raises(ValueError, match="bad chunk"):
        overlapped([0, 1, 2, 3], produce, consume)
