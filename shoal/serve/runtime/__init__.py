"""Runtimes that run a Flow's executors outside the caller's thread.

Importing this package registers ``runtime='process'`` (worker processes over gRPC) and
``runtime='ray'`` (Ray actors) with :mod:`shoal.flow.runtimes`; neither grpc nor ray is
imported until a deployment using them starts.
"""
from __future__ import annotations

from shoal.flow.runtimes import register_runtime
from shoal.serve.runtime.process import ProcessWorker
from shoal.serve.runtime.ray_worker import RayWorker

register_runtime("process", ProcessWorker)
register_runtime("ray", RayWorker)

__all__ = ["ProcessWorker", "RayWorker"]
