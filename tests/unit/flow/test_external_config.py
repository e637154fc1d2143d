"""``external=True`` deployments: validation, YAML round trip (no sockets)."""
from __future__ import annotations

import pytest

from shoal import Deployment, Flow
from shoal.errors import InvalidConfigError


def test_external_round_trips_through_yaml():
    f = (Flow().add(external=True, host="10.0.0.5", port=12345, name="remote", protocol="http")
         .add(name="local"))
    text = f.save_config()
    g = Flow.load_config(text)
    remote = g.deployments["remote"]
    assert remote.external and remote.runtime == "external"
    assert (remote.remote.host, remote.remote.port, remote.remote.protocol) == \
        ("10.0.0.5", 12345, "http")
    assert g.save_config() == text
    assert "external: true" in text and "runtime" not in text


def test_external_defaults_to_this_host_and_grpc():
    remote = Flow().add(external=True, port=5555).deployments["executor0"].remote
    assert (remote.host, remote.protocol, remote.tls) == ("127.0.0.1", "grpc", False)


def test_uses_of_an_external_deployment_is_not_imported():
    f = Flow().add(external=True, port=5555, uses="not_installed.Module")
    assert f.deployments["executor0"].uses == "not_installed.Module"


@pytest.mark.parametrize("kwargs, match", [
    ({"replicas": 2}, "replicas=2 has no effect"),
    ({"shards": 3}, "shards=3 has no effect"),
    ({"uses_with": {"a": 1}}, "uses_with configure an executor run here"),
    ({"runtime": "process"}, "runtime='process' has no effect"),
    ({"port": None}, "needs the port"),
    ({"protocol": "ftp"}, "protocol='ftp'"),
    ({"host": "grpc://x"}, "must be a host name"),
])
def test_external_refuses_what_it_would_ignore(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        Flow().add(external=True, **{"port": 5555, **kwargs})


def test_a_deployment_cannot_be_external():
    with pytest.raises(InvalidConfigError, match="add a remote one to a Flow"):
        Deployment(external=True, port=5555)


def test_host_and_port_without_external_still_have_no_effect():
    cfg = Flow().add(host="10.0.0.5", port=1).deployments["executor0"]
    assert not cfg.external and cfg.extra == {"host": "10.0.0.5", "port": 1}


def test_protocol_without_external_says_what_it_is_for():
    with pytest.raises(InvalidConfigError, match="add external=True"):
        Flow().add(protocol="http")
