"""Runtimes that run a Flow's executors outside the caller's thread.

Importing this package registers ``runtime='process'`` with :mod:`shoal.flow.runtimes`
(grpc is imported only when a worker starts).
"""
from __future__ import annotations

from shoal.flow.runtimes import register_runtime
from shoal.serve.runtime.process import ProcessWorker

register_runtime("process", ProcessWorker)

__all__ = ["ProcessWorker"]
