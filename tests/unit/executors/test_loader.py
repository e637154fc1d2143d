"""Loading ``uses=``: class, name, YAML + py_modules, hub:// entry points, errors."""
from __future__ import annotations

import sys
import textwrap

import pytest

from shoal.errors import ExecutorLoadError
from shoal.executors import Executor, load_executor, requests
from shoal.executors.loader import resolve


class LoaderExec(Executor):
    def __init__(self, dim: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    @requests
    def f(self, **kwargs):
        pass


def test_class_and_registered_name_and_dotted_path():
    assert isinstance(load_executor(LoaderExec), LoaderExec)
    assert load_executor("LoaderExec", uses_with={"dim": 3}).dim == 3
    assert resolve(f"{__name__}.LoaderExec").cls is LoaderExec
    assert resolve(None).cls is Executor


def test_unknown_name_and_bad_uses_with():
    with pytest.raises(ExecutorLoadError, match="no Executor class"):
        resolve("DoesNotExist")
    class Strict(Executor):
        def __init__(self, dim: int = 1):
            self.dim = dim

    with pytest.raises(ExecutorLoadError, match="uses_with"):
        load_executor(Strict, uses_with={"nope": 1})
    with pytest.raises(ExecutorLoadError, match="not supported"):
        resolve("docker://foo")


def test_init_error_becomes_load_error():
    class Broken(Executor):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            raise RuntimeError("cannot start")

    with pytest.raises(ExecutorLoadError, match="cannot start"):
        load_executor(Broken)


def test_yaml_with_py_modules_relative_to_file(tmp_path):
    (tmp_path / "my_exec.py").write_text(textwrap.dedent("""
        from shoal.executors import Executor, requests

        class YamlOnlyExec(Executor):
            def __init__(self, greeting='hi', **kwargs):
                super().__init__(**kwargs)
                self.greeting = greeting

            @requests
            def f(self, docs, **kwargs):
                for d in docs:
                    d.text = self.greeting
    """))
    (tmp_path / "config.yml").write_text(textwrap.dedent("""
        jtype: YamlOnlyExec
        with:
          greeting: hello
        metas:
          name: greeter
          description: says hello
          py_modules:
            - my_exec.py
    """))
    ex = load_executor(str(tmp_path / "config.yml"), uses_with={})
    assert type(ex).__name__ == "YamlOnlyExec"
    assert ex.greeting == "hello"
    assert ex.metas.name == "greeter"
    ex2 = load_executor(str(tmp_path / "config.yml"), uses_with={"greeting": "yo"})
    assert ex2.greeting == "yo"


def test_yaml_is_loaded_safely(tmp_path):
    (tmp_path / "evil.yml").write_text("jtype: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ExecutorLoadError):
        load_executor(str(tmp_path / "evil.yml"))


def test_hub_entry_point(tmp_path, monkeypatch):
    pkg = tmp_path / "hubpkg_mod.py"
    pkg.write_text(textwrap.dedent("""
        from shoal.executors import Executor, requests

        class HubExec(Executor):
            @requests
            def f(self, docs, **kwargs):
                return {'hub': True}
    """))
    dist = tmp_path / "hubpkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hubpkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[shoal.executors]\nHubExec = hubpkg_mod:HubExec\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ex = load_executor("hub://HubExec")
    assert type(ex).__name__ == "HubExec"
    with pytest.raises(ExecutorLoadError, match="entry point"):
        resolve("hub://NotInstalled")
    sys.modules.pop("hubpkg_mod", None)


def test_py_modules_files_import_each_other_by_bare_name(tmp_path):
    """As Jina's _path_import: a.py may `from shoal_helper_b import ...` when b is listed first."""
    import sys

    (tmp_path / "shoal_helper_b.py").write_text("GREETING = 'from b'\n")
    (tmp_path / "shoal_exec_a.py").write_text(textwrap.dedent("""
        from shoal_helper_b import GREETING
        from shoal.executors import Executor, requests

        class UsesHelper(Executor):
            @requests
            def f(self, docs, **kwargs):
                for d in docs:
                    d.text = GREETING
    """))
    (tmp_path / "config.yml").write_text(
        "jtype: UsesHelper\nmetas:\n  py_modules:\n    - shoal_helper_b.py\n    - shoal_exec_a.py\n")
    try:
        ex = load_executor(str(tmp_path / "config.yml"))
        assert type(ex).__name__ == "UsesHelper"
        assert sys.modules["shoal_helper_b"].GREETING == "from b"
    finally:
        sys.modules.pop("shoal_helper_b", None)
        sys.modules.pop("shoal_exec_a", None)


@pytest.mark.parametrize("text, match", [
    ("!MyExec\nwith: {a: 1}\n", "write 'jtype: MyExec'"),
    ("jtype: Executor\nwhit: {a: 1}\n", "did you mean 'with'"),
    ("jtype: Executor\nmeta: {name: x}\n", "did you mean 'metas'"),
    ("jtype: Executor\nwith: [1, 2]\n", "'with:' must be a mapping"),
    ("!!python/object/apply:os.system ['echo hi']\n", "not safe YAML"),
])
def test_executor_yaml_mistakes_are_explained(tmp_path, text, match):
    """Were: a raw YAML constructor error, 'no Executor class', a TypeError."""
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(ExecutorLoadError, match=match):
        load_executor(str(path))
