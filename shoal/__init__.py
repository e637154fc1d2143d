"""shoal: neural search with the Jina 3 / DocArray 0.21 vocabulary.

``Document`` and ``DocumentArray`` hold data; ``Executor`` / ``requests`` process it;
``Flow`` / ``Deployment`` chain executors; ``Client`` talks to a served Flow.
"""
from __future__ import annotations

from shoal.document import Document, DocumentArray, NamedScore, dataclass, field
from shoal.executors import Executor, monitor, requests
from shoal.client import Client
from shoal.flow import Deployment, Flow
import shoal.serve  # noqa: F401,E402 - registers gateways and runtime='process' (no grpc import)
import shoal.client.remote  # noqa: F401,E402 - connects external=True deployments via the Client

__version__ = "0.1.0"

__all__ = ["Document", "DocumentArray", "NamedScore", "dataclass", "field", "Executor",
           "requests", "monitor", "Flow", "Deployment", "Client", "__version__"]
