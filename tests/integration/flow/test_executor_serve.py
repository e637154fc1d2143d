"""``MyExec.serve(port=...)`` serves one executor like a Deployment with a gateway."""
import threading
import time

import pytest

from shoal import Client, Document, Executor, requests
from shoal.flow.flow import free_port

pytestmark = pytest.mark.timeout(60)


class Exclaim(Executor):
    @requests
    def shout(self, docs, **kwargs):
        for d in docs:
            d.text += "!"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_executor_serve_until_stopped(protocol):
    port, stop = free_port(), threading.Event()
    server = threading.Thread(target=Exclaim.serve, daemon=True,
                              kwargs={"port": port, "protocol": protocol, "stop_event": stop})
    server.start()
    client = Client(port=port, protocol=protocol)
    deadline = time.monotonic() + 30
    while not client.is_flow_ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert client.post("/", Document(text="hi")).texts == ["hi!"]
    finally:
        stop.set()
        server.join(20)
    assert not server.is_alive()
