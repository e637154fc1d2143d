"""Executors for test_ray_runtime.py: in a module of their own, since a Ray actor builds
its executor from ``module.Class`` (nothing is pickled by value)."""
from __future__ import annotations

import os
import time

from shoal.executors import Executor, requests


class Tagger(Executor):
    """Appends ``suffix`` to each text and records which actor process served it."""

    def __init__(self, suffix: str = "!", close_dir: str = "", **kwargs):
        super().__init__(**kwargs)
        self.suffix = suffix
        self.close_dir = close_dir

    @requests
    def add(self, docs, **kwargs):
        for d in docs:
            d.text = (d.text or "") + self.suffix
            d.tags[self.suffix] = os.getpid()

    @requests(on="/stats")
    async def stats(self, docs, parameters, **kwargs):
        return {"pid": os.getpid(), "replica": self.runtime_args.replica_id,
                "who": parameters.get("who"), "env": os.environ.get("SHOAL_RAY_TEST_ENV", "")}

    @requests(on="/fail")
    def fail(self, docs, **kwargs):
        raise KeyError("missing thing")

    @requests(on="/sleep")
    def sleep(self, docs, parameters, **kwargs):
        if parameters.get("marker"):  # tells the test the handler is running
            with open(parameters["marker"], "w", encoding="utf-8") as fh:
                fh.write(str(os.getpid()))
        time.sleep(float(parameters.get("seconds", 5)))

    @requests(on="/pid")
    def pid(self, docs, **kwargs):
        return {"pid": os.getpid()}

    def close(self) -> None:
        if self.close_dir:
            name = f"{self.runtime_args.name}-{self.runtime_args.replica_id}-{os.getpid()}"
            with open(os.path.join(self.close_dir, name), "w", encoding="utf-8") as fh:
                fh.write("closed")


class Broken(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        raise RuntimeError("broken on purpose")
