"""Flow behaviours matched to Jina 3 (found by a probe against its semantics)."""
from __future__ import annotations

import numpy as np
import pytest

from shoal import Deployment, Document, DocumentArray, Executor, Flow, requests
from shoal.document.document import Document as _Doc
from shoal.document.posting import copy_doc
from shoal.errors import InvalidConfigError, TopologyError


class Count(Executor):
    @requests
    def count(self, docs: DocumentArray, **kwargs):
        for d in docs:
            d.tags["count"] = d.tags.get("count", 0) + 1
            d.text = "seen"
            d.matches.append(Document(text="m"))
            if len(d.chunks):
                d.chunks[0].tags["touched"] = True
        docs.append(Document(text="extra"))


def _inputs() -> DocumentArray:
    return DocumentArray([Document(text="a", tags={"k": 1}, embedding=np.ones(3),
                                   chunks=[Document(text="c")]),
                          Document(text="b")])


# --- 1. post never changes the caller's Documents ------------------------------------
def test_flow_post_leaves_inputs_untouched() -> None:
    inp = _inputs()
    with Flow().add(uses=Count) as f:
        r1 = f.post("/", inp)
        r2 = f.post("/", inp)
    assert len(inp) == 2
    assert inp[0].tags == {"k": 1} and inp[0].text == "a"
    assert len(inp[0].matches) == 0 and inp[0].chunks[0].tags == {}
    assert r1[0] is not inp[0]
    assert r1[0].tags == r2[0].tags == {"k": 1, "count": 1}
    assert r1[0].id == inp[0].id and len(r1) == 3
    assert r1[0].chunks[0].tags == {"touched": True}


def test_post_of_single_document_and_list_and_batches_is_copied() -> None:
    one = Document(text="x")
    many = [Document(text=str(i)) for i in range(5)]
    with Deployment(uses=Count) as dep:
        dep.post("/", one)
        dep.post("/", many, request_size=2)
        dep.post("/", DocumentArray(many), request_size=2)
    assert one.tags == {} and one.text == "x"
    assert all(d.tags == {} and not len(d.matches) for d in many)


def test_copy_doc_copies_every_slot() -> None:
    d = Document(text="t", tags={"a": 1}, location=[1, 2], scores={"s": 0.5},
                 matches=[Document(text="m")], embedding=np.zeros(2))
    c = copy_doc(d)
    for name in _Doc.__slots__[:-1]:  # a slot added to Document must be copied too
        getattr(c, name)
    assert c == d
    c.tags["b"] = 2
    c.location.append(3)
    c.scores["s"].value = 1.0
    c.matches[0].text = "changed"
    assert d.tags == {"a": 1} and d.location == [1, 2]
    assert d.scores["s"].value == 0.5 and d.matches[0].text == "m"
    assert c.matches[0].adjacency == 1


# --- 5. a join's docs_matrix is what each branch returned ------------------------------
class Tag(Executor):
    @requests
    def tag(self, docs: DocumentArray, **kwargs):
        for d in docs:
            d.tags[self.runtime_args.name] = 1
            d.matches = [Document(id="m", tags={self.runtime_args.name: 1})]


class Join(Executor):
    seen: list = []

    @requests
    def join(self, docs: DocumentArray, docs_matrix: list, **kwargs):
        Join.seen = [[(dict(d.tags), [dict(m.tags) for m in d.matches]) for d in da]
                     for da in docs_matrix]
        Join.merged = (dict(docs[0].tags), [dict(m.tags) for m in docs[0].matches])


def test_join_docs_matrix_is_not_changed_by_the_merge() -> None:
    f = (Flow().add(uses=Tag, name="a").add(uses=Tag, name="b", needs="gateway")
         .add(uses=Tag, name="c", needs="gateway").add(uses=Join, needs=["a", "b", "c"]))
    with f:
        f.post("/", Document(id="q"))
    assert Join.seen == [[({"a": 1}, [{"a": 1}])], [({"b": 1}, [{"b": 1}])],
                         [({"c": 1}, [{"c": 1}])]]
    assert Join.merged == ({"a": 1, "b": 1, "c": 1}, [{"a": 1, "b": 1, "c": 1}])


# --- 2. shards + ALL keep every shard's matches and chunks ----------------------------
class ShardParts(Executor):
    @requests
    def parts(self, docs: DocumentArray, **kwargs):
        sid = self.runtime_args.shard_id
        for d in docs:
            d.matches = [Document(text=f"{sid}-{i}") for i in range(2 + sid)]
            d.chunks = [Document(text=f"c{sid}")]


def test_all_polling_concatenates_unscored_matches_and_chunks() -> None:
    with Flow().add(uses=ShardParts, shards=3, polling="ALL") as f:
        q = f.post("/", Document(), parameters={"limit": 1})[0]
    assert [m.text for m in q.matches] == ["0-0", "0-1", "1-0", "1-1", "1-2",
                                           "2-0", "2-1", "2-2", "2-3"]
    assert [c.text for c in q.chunks] == ["c0", "c1", "c2"]


# --- 3. every shard's returned dict survives in __results__ ----------------------------
class ShardResult(Executor):
    @requests
    def res(self, docs: DocumentArray, **kwargs):
        return {"shard": self.runtime_args.shard_id}


def test_all_polling_keeps_each_shards_results() -> None:
    with Flow().add(uses=ShardResult, name="s", shards=3, polling="ALL") as f:
        resp = f.post("/", Document(), return_responses=True)[0]
    assert resp.parameters["__results__"] == {
        "s": {"shard": 2},
        "s/shard-0/rep-0": {"shard": 0}, "s/shard-1/rep-0": {"shard": 1},
        "s/shard-2/rep-0": {"shard": 2}}


def test_unsharded_results_keep_the_bare_name() -> None:
    with Flow().add(uses=ShardResult, name="s", replicas=2) as f:
        resp = f.post("/", Document(), return_responses=True)[0]
    assert resp.parameters["__results__"] == {"s": {"shard": 0}}


# --- 4. Flow.add refuses keywords it would ignore ---------------------------------------
def test_add_typo_suggests_the_close_name() -> None:
    with pytest.raises(InvalidConfigError, match="'replica'.*did you mean 'replicas'"):
        Flow().add(uses=Count, replica=3)


@pytest.mark.parametrize("key, value", [("uses_after", Count), ("uses_before", Count),
                                        ("floating", True), ("no_reduce", True)])
def test_add_refuses_jina_options_not_implemented(key: str, value: object) -> None:
    with pytest.raises(InvalidConfigError, match=f"{key}= is a Jina option shoal does not"):
        Flow().add(uses=Count, **{key: value})
    with pytest.raises(InvalidConfigError, match=f"{key}="):
        Deployment(uses=Count, **{key: value})


def test_add_accepts_jina_options_without_effect_and_yaml_is_checked() -> None:
    f = Flow().add(uses=Count, quiet=True, port_monitoring=9999)
    assert f.deployments["executor0"].extra == {"quiet": True, "port_monitoring": 9999}
    yml = "jtype: Flow\nexecutors:\n  - uses: Count\n    shard: 2\n"
    with pytest.raises(InvalidConfigError, match="did you mean 'shards'"):
        Flow.load_config(yml)


# --- 7. Flow.needs adds a joiner --------------------------------------------------------
def test_flow_needs_adds_a_joiner() -> None:
    f = (Flow().add(uses=Tag, name="a").add(uses=Tag, name="b", needs="gateway")
         .add(uses=Tag, name="c", needs="gateway").needs(["a", "b"]))
    assert f.deployments["joiner"].needs == ("a", "b")
    f = f.needs(["joiner", "c"], uses=Join, name="final")
    with f:
        out = f.post("/", Document(id="q"))
    assert out[0].tags == {"a": 1, "b": 1, "c": 1}
    assert Join.merged[0] == {"a": 1, "b": 1, "c": 1}
    with pytest.raises(TopologyError, match="two or more"):
        Flow().add(uses=Tag, name="a").needs("a")


def test_block_opens_the_gateway_and_says_where(capsys):
    """Jina's ``with Flow() as f: f.block()`` serves gRPC on a free port and prints it
    (was: no socket at all, and a protocol's random port was never shown)."""
    import threading

    from shoal import Client

    stop = threading.Event()
    stop.set()
    with Flow() as f:
        f.block(stop_event=stop)
        line = capsys.readouterr().out
        assert line == f"serving Flow flow at grpc://0.0.0.0:{f.port} (Ctrl-C or SIGTERM to stop)\n"
        assert Client(port=f.port).post("/", Document(text="x")).texts == ["x"]
    with Flow(protocol=["http", "grpc"]) as g:
        g.block(stop_event=stop, announce=False)
        assert capsys.readouterr().out == ""
        assert len(g.addresses) == 2 and g.addresses[0].startswith("http://")


def test_misspelled_gateway_and_deployment_keywords_are_refused():
    """Was: Flow(protocl='http') served nothing and Deployment(replica=3) ran one replica,
    both silently. Keywords a gateway does not read but Jina has stay accepted."""
    with pytest.raises(InvalidConfigError, match="did you mean 'protocol'"):
        Flow(protocl="http")
    with pytest.raises(InvalidConfigError, match="did you mean 'replicas'"):
        Deployment(uses=Executor, replica=3)
    Flow(quiet=True, log_config="x", cors=True)  # accepted as before


@pytest.mark.parametrize("runtime", ["thread", "process"])
def test_flow_context_reaches_an_executor_yaml_it_uses(tmp_path, runtime):
    """Flow.load_config(path, context=...) fills ${{ CONTEXT.X }} in the executor YAML a
    deployment uses too (was: only in the Flow YAML - the executor's raised 'needs the
    context variable')."""
    (tmp_path / "greet.py").write_text(
        "from shoal import Executor, requests\n"
        "class Greet(Executor):\n"
        "    def __init__(self, greeting='?', **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.greeting = greeting\n"
        "    @requests\n"
        "    def f(self, docs, **kwargs):\n"
        "        for d in docs:\n"
        "            d.text = self.greeting\n")
    (tmp_path / "exec.yml").write_text(
        "jtype: Greet\nwith:\n  greeting: ${{ CONTEXT.GREETING }}\npy_modules:\n  - greet.py\n")
    (tmp_path / "flow.yml").write_text(
        f"jtype: Flow\nexecutors:\n  - name: g\n    uses: exec.yml\n    runtime: {runtime}\n")
    flow = Flow.load_config(str(tmp_path / "flow.yml"), context={"GREETING": "hello"})
    with flow:
        assert flow.post("/", Document()).texts == ["hello"]


class ParityBoom(Executor):
    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            if d.text == "bad":
                raise ValueError("bad doc")
            d.text += "!"


class Where(Executor):
    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            d.text = self.workspace


def test_flow_yaml_gateway_section_is_read_and_unknown_top_level_keys_refused():
    """Was: 'gateway:' was ignored (served as grpc) and 'executor:' gave an empty Flow."""
    f = Flow.load_config("jtype: Flow\nwith:\n  port: 0\n  protocol: grpc\n"
                         "gateway:\n  protocol: http\nexecutors:\n  - name: a\n")
    assert f._gateway_args == {"port": 0, "protocol": "http"}  # noqa: SLF001
    with pytest.raises(InvalidConfigError, match="did you mean 'executors'"):
        Flow.load_config("jtype: Flow\nexecutor:\n  - name: a\n")
    with pytest.raises(InvalidConfigError, match="no custom Gateway"):
        Flow.load_config("jtype: Flow\ngateway:\n  uses: MyGateway\n")
    with pytest.raises(InvalidConfigError, match="'with:' must be a mapping"):
        Flow.load_config("jtype: Flow\nwith: [1, 2]\n")


def test_deployment_yaml_loads_and_round_trips(tmp_path):
    (tmp_path / "dep.yml").write_text(
        "jtype: Deployment\nwith:\n  uses: ParityBoom\n  name: boom\n  replicas: 2\n  port: 0\n")
    dep = Deployment.load_config(str(tmp_path / "dep.yml"))
    assert isinstance(dep, Deployment) and dep._configs[0].replicas == 2  # noqa: SLF001
    with dep:
        assert dep.post("/", Document(text="a")).texts == ["a!"]
    again = Deployment.load_config(dep.save_config())
    assert again.save_config() == dep.save_config()
    assert again._gateway_args == {"port": 0}  # noqa: SLF001
    with pytest.raises(InvalidConfigError, match="Deployment.load_config"):
        Flow.load_config(dep.save_config())
    with pytest.raises(InvalidConfigError, match="expected 'Deployment'"):
        Deployment.load_config("jtype: Flow\n")


def test_flow_workspace_is_every_executors_unless_one_sets_its_own(tmp_path):
    """Was: Flow(workspace=...) was accepted and ignored."""
    f = (Flow(workspace=str(tmp_path / "flow_ws")).add(name="a", uses=Where)
         .add(name="b", uses=Where, workspace=str(tmp_path / "own")))
    with f:
        (doc,) = f.post("/", Document(), target_executor="a")
        assert doc.text.startswith(str(tmp_path / "flow_ws"))
        (doc,) = f.post("/", Document())
        assert doc.text.startswith(str(tmp_path / "own"))


def test_flow_post_continue_on_error_and_unknown_keywords():
    with Flow().add(name="boom", uses=ParityBoom) as f:
        docs = f.post("/", [Document(text=t) for t in ("a", "bad", "c")], request_size=1,
                      continue_on_error=True, show_progress=False, results_in_order=True)
        assert docs.texts == ["a!", "c!"]  # as the Client: the failed request is left out
        with pytest.raises(Exception, match="bad doc"):
            f.post("/", [Document(text="bad")])
        with pytest.raises(Exception, match="did you mean 'parameters'"):
            f.post("/", Document(text="a"), paramters={"x": 1})
        assert f.post("/", Document(text="a"), compression="gzip").texts == ["a!"]  # Jina's


def test_replicas_with_sync_handlers_serve_flow_post_at_the_same_time():
    """Was: Flow.post ran every request inline, one at a time, whatever the replicas."""
    import threading

    barrier = threading.Barrier(2, timeout=10)

    class Meet(Executor):
        @requests
        def f(self, docs, **kwargs):
            barrier.wait()  # only passes when the two replicas hold a request at once
            for d in docs:
                d.tags["met"] = True

    with Flow().add(uses=Meet, replicas=2) as f:
        docs = f.post("/", [Document() for _ in range(4)], request_size=1)
    assert [d.tags["met"] for d in docs] == [True] * 4
