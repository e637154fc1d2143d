"""Executors: the ``Executor`` base class, ``@requests``, ``@monitor`` and the loader."""
from __future__ import annotations

from shoal.executors.decorators import requests
from shoal.executors.executor import Executor, ExecutorMetas, RuntimeArgs
from shoal.executors.loader import load_executor
from shoal.executors.monitor import monitor

__all__ = ["Executor", "ExecutorMetas", "RuntimeArgs", "requests", "monitor", "load_executor"]
