"""shoal.utils.pipeline: ``overlapped`` and ``shared`` give the results of a plain loop, in
order, with errors raised to the caller."""
from __future__ import annotations

import threading
import time

import pytest

from shoal.utils.pipeline import _Ranges, overlapped, shared


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


def _flat(parts):
    return [x for p in parts for x in p]


def test_shared_covers_every_item_once_in_order_from_both_threads():
    producers, consumers = set(), set()

    def produce(part):
        producers.add(threading.current_thread().name)
        time.sleep(0.002)  # a native search releasing the GIL
        return [x * 10 for x in part]

    def consume(r):
        consumers.add(threading.current_thread().name)
        return [x + 1 for x in r]

    items = list(range(1000))
    out = shared(items, produce, consume, big=64, small=16)
    assert _flat(out) == [x * 10 + 1 for x in items]
    caller = threading.current_thread().name
    assert consumers == {caller}
    assert caller in producers and any(n.startswith("shoal-overlap") for n in producers)


def test_shared_small_inputs_run_inline():
    caller = threading.current_thread().name
    assert shared([], lambda p: p, lambda r: r) == []
    assert shared([1, 2], lambda p: [threading.current_thread().name], lambda r: r,
                  small=4) == [[caller]]


@pytest.mark.parametrize("where", ["worker", "caller", "consume"])
def test_shared_raises_and_stops_the_worker(where):
    produced = []
    caller = threading.current_thread().name

    def produce(part):
        mine = threading.current_thread().name == caller
        if (where == "caller" and mine) or (where == "worker" and not mine):
            raise ValueError(f"bad range at {part[0]}")
        time.sleep(0.001)
        produced.append(part[0])
        return part

    def consume(r):
        if where == "consume":
            raise ValueError("bad consume")
        return r

    with pytest.raises(ValueError, match="bad"):
        shared(list(range(400)), produce, consume, big=32, small=8)
    seen = len(produced)
    time.sleep(0.05)
    assert len(produced) == seen  # nothing runs on after the error reached the caller


def test_ranges_shrink_towards_the_end_and_cover_everything():
    r = _Ranges(100)
    sizes = []
    while (got := r.take(32, share=True)) is not None:
        sizes.append(got[1] - got[0])
    assert sum(sizes) == 100 and sizes[0] == 32 and sizes[-1] < 32
    assert sizes == sorted(sizes, reverse=True)
    assert _Ranges(10).take(32) == (0, 10)
