"""``Flow.to_kubernetes_yaml`` / ``to_docker_compose_yaml`` / ``shoal export``: the files,
read back with yaml.safe_load_all; and what cannot be exported."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from shoal import Executor, Flow, requests
from shoal.cli.main import main as shoal_main
from shoal.errors import InvalidConfigError


class Encoder(Executor):
    @requests
    def encode(self, docs, **kwargs):
        pass


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "indexer.py").write_text(textwrap.dedent("""
        from shoal import Executor, requests

        class Indexer(Executor):
            @requests
            def index(self, docs, **kwargs):
                pass
    """))
    (tmp_path / "indexer.yml").write_text("jtype: Indexer\npy_modules:\n  - indexer.py\n")
    (tmp_path / "flow.yml").write_text(textwrap.dedent(f"""
        jtype: Flow
        with:
          protocol: http
          port: 9000
        executors:
          - name: my_encoder
            uses: {__name__}.Encoder
            uses_with: {{dim: 8}}
            replicas: 3
            env: {{MODEL: small}}
          - name: indexer
            uses: indexer.yml
            when: {{tags__keep: {{$eq: true}}}}
          - name: ranker
            external: true
            host: 10.0.0.5
            port: 7000
            needs: gateway
          - name: joiner
            needs: [indexer, ranker]
    """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _load(path: Path) -> dict[str, dict]:
    docs = list(yaml.safe_load_all(path.read_text()))
    return {d["kind"]: d for d in docs}


def test_kubernetes_layout_and_executor_manifests(project):
    paths = Flow.load_config("flow.yml").to_kubernetes_yaml(
        str(project / "k8s"), k8s_namespace="search", image="reg.io/app:1")
    out = project / "k8s"
    assert sorted(p.name for p in out.iterdir()) == ["Dockerfile", "gateway", "indexer",
                                                     "my-encoder"]
    assert len(paths) == 4 and all(Path(p).exists() for p in paths)
    enc = _load(out / "my-encoder" / "my-encoder.yml")
    assert set(enc) == {"Service", "Deployment"}
    svc, dep = enc["Service"], enc["Deployment"]
    assert svc["metadata"] == {"name": "my-encoder", "namespace": "search",
                               "labels": {"app": "my-encoder",
                                          "app.kubernetes.io/part-of": "shoal"}}
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["selector"] == {"app": "my-encoder"}
    assert svc["spec"]["ports"][0]["port"] == 8080
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "my-encoder"}
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "reg.io/app:1" and container["command"] == ["shoal"]
    args = container["args"]
    assert args[:9] == ["executor", "--uses", f"{__name__}.Encoder", "--port", "8080",
                        "--protocol", "grpc", "--name", "my_encoder"]
    assert json.loads(args[args.index("--uses-with") + 1]) == {"dim": 8}
    assert {"name": "MODEL", "value": "small"} in container["env"]
    assert container["ports"] == [{"name": "grpc", "containerPort": 8080}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 8080}
    idx = _load(out / "indexer" / "indexer.yml")["Deployment"]
    idx_args = idx["spec"]["template"]["spec"]["containers"][0]["args"]
    assert idx_args[:3] == ["executor", "--uses", "indexer.yml"]  # relative to the project
    assert idx["spec"]["replicas"] == 1
    assert "pip install 'shoal[serve]'" in (out / "Dockerfile").read_text()
    assert "COPY . ." in (out / "Dockerfile").read_text()


def test_kubernetes_gateway_runs_a_flow_of_external_executors(project):
    Flow.load_config("flow.yml").to_kubernetes_yaml(str(project / "k8s"), k8s_namespace="search")
    gw = _load(project / "k8s" / "gateway" / "gateway.yml")
    assert set(gw) == {"ConfigMap", "Service", "Deployment"}
    assert gw["Service"]["spec"]["ports"][0]["port"] == 9000
    (container,) = gw["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "shoal:latest"
    assert container["args"] == ["flow", "--uses", "/shoal-config/flow.yml"]
    assert container["volumeMounts"][0]["mountPath"] == "/shoal-config"
    assert container["readinessProbe"]["httpGet"] == {"path": "/status", "port": 9000}
    flow = Flow.load_config(gw["ConfigMap"]["data"]["flow.yml"])
    deps = flow.deployments
    assert list(deps) == ["my_encoder", "indexer", "ranker", "joiner"]
    assert deps["my_encoder"].remote.host == "my-encoder.search.svc"
    assert deps["my_encoder"].remote.port == 8080
    assert deps["indexer"].remote.host == "indexer.search.svc"
    assert deps["indexer"].when == {"tags__keep": {"$eq": True}}
    assert deps["ranker"].remote.host == "10.0.0.5" and deps["ranker"].remote.port == 7000
    assert not deps["joiner"].external and deps["joiner"].needs == ("indexer", "ranker")
    assert flow.gateway_args["protocol"] == "http" and flow.gateway_args["port"] == 9000


def test_a_grpc_gateway_gets_grpc_probes_and_port_8080():
    f = Flow().add(uses=Encoder, name="enc")
    from shoal.flow.kubernetes import kubernetes_manifests

    manifests, _ = kubernetes_manifests(f)
    (container,) = manifests["gateway"][2]["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["grpc"] == {"port": 8080}
    assert manifests["enc"][0]["metadata"]["namespace"] == "default"


def test_docker_compose(project):
    paths = Flow.load_config("flow.yml").to_docker_compose_yaml(
        "out/compose.yml", network_name="net", image="reg.io/app:1")
    assert paths == ["out/compose.yml", "out/compose.gateway-flow.yml", "out/Dockerfile"]
    compose = yaml.safe_load((project / "out" / "compose.yml").read_text())
    services = compose["services"]
    assert list(services) == ["my-encoder", "indexer", "gateway"]
    assert compose["networks"] == {"net": {"driver": "bridge"}}
    enc = services["my-encoder"]
    assert enc["image"] == "reg.io/app:1" and enc["entrypoint"] == ["shoal"]
    assert enc["command"][:3] == ["executor", "--uses", f"{__name__}.Encoder"]
    assert enc["deploy"] == {"replicas": 3} and enc["environment"]["MODEL"] == "small"
    assert enc["healthcheck"]["test"] == ["CMD", "shoal", "ping", "127.0.0.1:8080"]
    gw = services["gateway"]
    assert gw["command"] == ["flow", "--uses", "/shoal-config/flow.yml"]
    assert gw["ports"] == ["9000:9000"]
    assert gw["depends_on"] == {"my-encoder": {"condition": "service_healthy"},
                                "indexer": {"condition": "service_healthy"}}
    assert gw["volumes"] == ["./compose.gateway-flow.yml:/shoal-config/flow.yml:ro"]
    flow = Flow.load_config(str(project / "out" / "compose.gateway-flow.yml"))
    assert flow.deployments["my_encoder"].remote.host == "my-encoder"


def test_the_cli_writes_the_same_files(project, capsys):
    assert shoal_main(["export", "kubernetes", "flow.yml", "k8s", "--k8s-namespace", "ns",
                       "--image", "x:1"]) == 0
    assert "k8s/gateway/gateway.yml" in capsys.readouterr().out
    assert _load(project / "k8s" / "indexer" / "indexer.yml")["Service"]["metadata"][
        "namespace"] == "ns"
    assert shoal_main(["export", "docker-compose", "flow.yml", "dc.yml"]) == 0
    assert "gateway" in yaml.safe_load((project / "dc.yml").read_text())["services"]
    assert shoal_main(["export", "kubernetes", "missing.yml", "k8s"]) == 2


def test_a_dockerfile_of_your_own_is_not_overwritten(project):
    (project / "Dockerfile").write_text("FROM mine\n")
    paths = Flow().add(uses=Encoder).to_docker_compose_yaml()
    assert paths[-1].endswith("shoal.Dockerfile")
    assert (project / "Dockerfile").read_text() == "FROM mine\n"


def test_a_class_from_main_cannot_be_exported(tmp_path):
    Main = type("Main", (Executor,), {"__module__": "__main__"})
    with pytest.raises(InvalidConfigError, match=r"__main__.*py_modules"):
        Flow().add(uses=Main, name="m").to_kubernetes_yaml(str(tmp_path))
    with pytest.raises(InvalidConfigError, match="__main__"):
        Flow().add(uses=Main, name="m").to_docker_compose_yaml(str(tmp_path / "dc.yml"))


def test_shards_and_unexportable_options_are_refused(tmp_path):
    with pytest.raises(InvalidConfigError, match="shards=2 is not supported in the export"):
        Flow().add(uses=Encoder, shards=2).to_kubernetes_yaml(str(tmp_path))
    with pytest.raises(InvalidConfigError, match="uses_metas"):
        Flow().add(uses=Encoder, uses_metas={"x": 1}).to_kubernetes_yaml(str(tmp_path))
    with pytest.raises(InvalidConfigError, match="both be exported as 'a-b'"):
        Flow().add(uses=Encoder, name="a_b").add(uses=Encoder, name="a-b").to_kubernetes_yaml(
            str(tmp_path))
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_an_executor_inherits_the_flows_monitoring_in_the_export(tmp_path, monkeypatch):
    """As it does when the Flow runs: monitoring=None on the deployment means the Flow's."""
    monkeypatch.chdir(tmp_path)
    flow = Flow(monitoring=True, port_monitoring=9090).add(
        uses="shoal.executors.executor.Executor", name="enc")
    from shoal.flow.export import plan_export

    (svc,) = plan_export(flow, lambda name: name).executors
    assert svc.metrics_port == 9090 and "--monitoring" in svc.args


def test_monitoring_is_exported(tmp_path, monkeypatch):
    """Was: monitoring=True / port_monitoring dropped from the executor args, and the
    gateway's metrics port in neither containerPort nor Service."""
    import yaml

    monkeypatch.chdir(tmp_path)
    flow = (Flow(protocol="grpc", port=8081, monitoring=True, port_monitoring=9095)
            .add(uses="shoal.executors.executor.Executor", name="enc", monitoring=True,
                 port_monitoring=9191))
    flow.to_kubernetes_yaml(str(tmp_path / "k8s"))
    docs = list(yaml.safe_load_all((tmp_path / "k8s" / "enc" / "enc.yml").read_text()))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--port-monitoring") + 1] == "9191" and "--monitoring" in args
    assert {"name": "metrics", "containerPort": 9191} in container["ports"]
    svc = next(d for d in docs if d["kind"] == "Service")
    assert 9191 in [p["port"] for p in svc["spec"]["ports"]]
    gw = list(yaml.safe_load_all((tmp_path / "k8s" / "gateway" / "gateway.yml").read_text()))
    gsvc = next(d for d in gw if d["kind"] == "Service")
    assert sorted(p["port"] for p in gsvc["spec"]["ports"]) == [8081, 9095]
