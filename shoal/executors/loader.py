"""Resolve ``uses=`` to an Executor class and build an instance.

``uses`` may be:

* ``None`` — the no-op :class:`Executor` (docs pass through);
* an Executor subclass;
* a class name already imported (``'MyExec'`` or ``'pkg.mod.MyExec'``), or
  ``'pkg.mod:MyExec'`` / ``'pkg.mod.MyExec'`` which is imported on demand;
* a YAML file (``jtype: MyExec``, ``with:``, ``metas:``, ``requests:``, ``py_modules:``;
  read with ``yaml.safe_load``, ``py_modules`` resolved relative to the file), or the
  same mapping as a dict;
* ``'hub://MyExec'`` — the entry point ``MyExec`` in group ``shoal.executors``:
  sharing an executor is publishing an ordinary Python package.

In YAML (and dict) configs, ``${{ ENV.VAR }}`` and ``${{ CONTEXT.VAR }}`` in string values
are replaced after parsing (:func:`substitute_vars`), so a value can never inject YAML.

Anything that cannot be found or built raises :class:`~shoal.errors.ExecutorLoadError`.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping

from shoal.errors import ExecutorLoadError, InvalidConfigError
from shoal.executors.executor import Executor, executor_class

__all__ = ["ExecutorSpec", "resolve", "load_executor", "import_py_modules", "ENTRY_POINT_GROUP",
           "substitute_vars"]

ENTRY_POINT_GROUP = "shoal.executors"
_HUB_PREFIXES = ("hub://", "jinahub://", "jinaai://")
_log = logging.getLogger("shoal.executors")


_VAR = re.compile(r"\$\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"(ENV|CONTEXT)\.([A-Za-z_][A-Za-z0-9_]*)\Z", re.IGNORECASE)


def substitute_vars(tree: Any, context: Mapping[str, Any] | None = None,
                    source: str = "config") -> Any:
    """``tree`` with ``${{ ENV.X }}`` / ``${{ CONTEXT.X }}`` replaced in its string values.

    A value that is exactly one expression takes the variable's type: a context value
    as given, an environment value as a YAML scalar (``'8080'`` -> 8080, ``'true'`` ->
    True; anything else stays a string). Inside a longer string the value is
    interpolated as text. Nothing is evaluated. An unset variable, or another
    namespace than ENV / CONTEXT, raises :class:`~shoal.errors.InvalidConfigError`.
    """
    return _walk(tree, dict(context or {}), source, "")


def _walk(node: Any, context: dict[str, Any], source: str, where: str) -> Any:
    if isinstance(node, dict):
        return {k: _walk(v, context, source, f"{where}.{k}" if where else str(k))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, context, source, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and "${{" in node:
        return _substitute(node, context, source, where)
    return node


def _substitute(text: str, context: dict[str, Any], source: str, where: str) -> Any:
    whole = _VAR.fullmatch(text.strip())
    if whole:
        return _lookup(whole.group(1), context, source, where, typed=True)
    return _VAR.sub(lambda m: str(_lookup(m.group(1), context, source, where)), text)


def _lookup(expr: str, context: dict[str, Any], source: str, where: str,
            typed: bool = False) -> Any:
    found = _NAME.match(expr)
    at = f"{source}: {where or 'value'}: ${{{{ {expr} }}}}"
    if not found:
        raise InvalidConfigError(
            f"{at} is not supported; write ${{{{ ENV.NAME }}}} (an environment variable) "
            "or ${{ CONTEXT.NAME }} (a key of load_config(..., context={...}))")
    space, name = found.group(1).upper(), found.group(2)
    if space == "CONTEXT":
        if name not in context:
            raise InvalidConfigError(
                f"{at} needs the context variable {name!r}, which was not given; pass "
                f"load_config(..., context={{{name!r}: ...}})")
        return context[name]
    if name not in os.environ:
        raise InvalidConfigError(
            f"{at} needs the environment variable {name}, which is not set; export it "
            "or write the value in the YAML")
    return _scalar(os.environ[name]) if typed else os.environ[name]


_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))


def _scalar(text: str) -> Any:
    """``text`` read as a YAML scalar (int, float, bool, null) if it is one, else itself."""
    import yaml  # noqa: PLC0415

    if not text:
        return text
    loader = yaml.SafeLoader("")
    tag = loader.resolve(yaml.ScalarNode, text, (True, False))
    if tag not in _SCALAR_TAGS:  # str, and timestamps / '!' / '<<' stay the text given
        return text
    return loader.construct_object(yaml.ScalarNode(tag, text))


@dataclass
class ExecutorSpec:
    """A resolved ``uses``: the class plus the config found with it (YAML / dict)."""

    cls: type[Executor]
    uses_with: dict[str, Any] = field(default_factory=dict)
    metas: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    py_modules: list[str] = field(default_factory=list)


#: Top-level keys of an executor YAML (``uses`` is an older spelling of ``jtype``).
_EXECUTOR_YAML_KEYS = ("jtype", "uses", "with", "metas", "requests", "py_modules", "version")

def _module_name_for(path: str) -> str:
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    stem = os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0]
    return f"shoal_user_{stem}_{digest}"


def import_py_modules(modules: list[str] | str | None, base_dir: str | None = None,
                      *, required: bool = True) -> None:
    """Import ``py_modules`` (file paths relative to ``base_dir``, or module names)."""
    if not modules:
        return
    for mod in [modules] if isinstance(modules, str) else modules:
        path = mod if os.path.isabs(mod) else os.path.join(base_dir or os.getcwd(), mod)
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "__init__.py")):
            path = os.path.join(path, "__init__.py")
        if os.path.isfile(path):
            path = os.path.abspath(path)
            name = _module_name_for(path)
            if name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ExecutorLoadError(f"py_modules: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            # also under its bare name when that is free (Jina's _path_import), so one
            # py_modules file can `from helpers import x` another listed before it
            stem = os.path.splitext(os.path.basename(path))[0]
            alias = stem if stem != "__init__" and stem.isidentifier() \
                and stem not in sys.modules else None
            if alias:
                sys.modules[alias] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                if alias:
                    del sys.modules[alias]
                raise ExecutorLoadError(f"py_modules: importing {path} failed: {exc!r}") from exc
            continue
        if not mod.endswith(".py"):
            try:
                importlib.import_module(mod)
                continue
            except ImportError:
                pass
        if required:
            raise ExecutorLoadError(
                f"py_modules: {mod!r} is neither a file (looked in {base_dir or os.getcwd()}) "
                "nor an importable module")
        _log.warning("py_modules: %r not found; using the executor class already imported", mod)


def _from_entry_point(name: str) -> type[Executor]:
    from importlib.metadata import entry_points  # noqa: PLC0415

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                obj = ep.load()
            except Exception as exc:
                raise ExecutorLoadError(
                    f"hub://{name}: loading entry point {ep.value!r} failed: {exc!r}") from exc
            return _check_class(obj, f"hub://{name}")
    raise ExecutorLoadError(
        f"hub://{name}: no installed package has an entry point {name!r} in group "
        f"{ENTRY_POINT_GROUP!r}; pip install the package that provides it")


def _check_class(obj: Any, what: str) -> type[Executor]:
    if isinstance(obj, type) and issubclass(obj, Executor):
        return obj
    raise ExecutorLoadError(f"{what} is {obj!r}, not an Executor subclass")


def _class_by_name(name: str) -> type[Executor]:
    name = name.lstrip("!")
    found = executor_class(name)
    if found is not None:
        return found
    if ":" in name or "." in name:
        mod, _, attr = name.replace(":", ".").rpartition(".")
        try:
            module = importlib.import_module(mod)
        except ImportError as exc:
            raise ExecutorLoadError(f"uses={name!r}: cannot import module {mod!r}: {exc}") from exc
        if hasattr(module, attr):
            return _check_class(getattr(module, attr), f"uses={name!r}")
    raise ExecutorLoadError(
        f"uses={name!r}: no Executor class of that name has been imported; import the "
        "module that defines it, pass the class itself, a YAML file, or 'hub://Name'")


def _from_mapping(data: dict[str, Any], base_dir: str | None, source: str,
                  context: Mapping[str, Any] | None = None) -> ExecutorSpec:
    if not isinstance(data, dict):
        raise ExecutorLoadError(f"{source}: expected a mapping with 'jtype:', got {data!r}")
    try:
        data = substitute_vars(data, context, source)
    except InvalidConfigError as exc:
        raise ExecutorLoadError(str(exc)) from exc
    for key in data:
        if key not in _EXECUTOR_YAML_KEYS:
            close = difflib.get_close_matches(str(key), _EXECUTOR_YAML_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ExecutorLoadError(f"{source}: unknown key {key!r}; {hint}an executor YAML has "
                                    f"{', '.join(_EXECUTOR_YAML_KEYS)}")
    for key in ("with", "metas", "requests"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ExecutorLoadError(f"{source}: '{key}:' must be a mapping, not {data[key]!r}")
    metas = dict(data.get("metas") or {})
    py_modules = list(_as_list(data.get("py_modules")) + _as_list(metas.get("py_modules")))
    jtype = data.get("jtype") or data.get("uses") or "Executor"
    known = executor_class(str(jtype).lstrip("!")) if isinstance(jtype, str) else None
    import_py_modules(py_modules, base_dir, required=known is None)
    if isinstance(jtype, str) and jtype.startswith(_HUB_PREFIXES):
        cls = _from_entry_point(jtype.split("://", 1)[1])
    else:
        cls = _class_by_name(str(jtype))
    return ExecutorSpec(cls=cls, uses_with=dict(data.get("with") or {}), metas=metas,
                        requests=dict(data.get("requests") or {}), py_modules=py_modules)


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _load_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ExecutorLoadError(f"cannot read executor YAML {path}: {exc}") from exc
    return _safe_yaml(text, path)


def _safe_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load``; Jina 2's ``!MyExec`` tag gets a hint to write ``jtype:``."""
    import yaml  # noqa: PLC0415

    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        tag = str(getattr(exc, "problem", "") or "")
        if "!" in tag and "python/" not in tag:
            raise ExecutorLoadError(
                f"{source}: YAML tags such as {tag.split()[-1]} (Jina 2's '!MyExec' form) are "
                "not read; write 'jtype: MyExec' and put its arguments under 'with:'") from exc
        raise ExecutorLoadError(f"{source}: not safe YAML (no Python objects are built from "
                                f"YAML tags): {exc}") from exc
    except yaml.YAMLError as exc:
        raise ExecutorLoadError(f"cannot read executor YAML {source}: {exc}") from exc


def resolve(uses: Any, *, base_dir: str | None = None, py_modules: list[str] | None = None,
            context: Mapping[str, Any] | None = None) -> ExecutorSpec:
    """Resolve ``uses`` to an :class:`ExecutorSpec` without building anything.

    ``context`` fills ``${{ CONTEXT.X }}`` in a YAML / dict ``uses``."""
    if py_modules:
        known = isinstance(uses, str) and executor_class(uses.lstrip("!")) is not None
        import_py_modules(py_modules, base_dir, required=not known and not isinstance(uses, type))
    if uses is None:
        return ExecutorSpec(cls=Executor)
    if isinstance(uses, type):
        return ExecutorSpec(cls=_check_class(uses, f"uses={uses!r}"))
    if isinstance(uses, dict):
        return _from_mapping(uses, base_dir, "uses", context)
    if isinstance(uses, str):
        if uses.startswith(_HUB_PREFIXES):
            return ExecutorSpec(cls=_from_entry_point(uses.split("://", 1)[1].split("/")[0]))
        if "://" in uses:
            raise ExecutorLoadError(
                f"uses={uses!r}: containers and remote executors are not supported; use a "
                "class, a YAML file or 'hub://Name' (an installed entry point)")
        path = uses if os.path.isabs(uses) or not base_dir else os.path.join(base_dir, uses)
        if uses.endswith((".yml", ".yaml")) or os.path.isfile(path):
            if not os.path.isfile(path):
                raise ExecutorLoadError(f"uses={uses!r}: no such YAML file")
            path = os.path.abspath(path)
            return _from_mapping(_load_yaml(path), os.path.dirname(path), path, context)
        if "\n" in uses and "jtype" in uses:  # an inline YAML document
            return _from_mapping(_safe_yaml(uses, "uses"), base_dir, "uses", context)
        return ExecutorSpec(cls=_class_by_name(uses))
    raise ExecutorLoadError(f"uses= must be a class, a name, a YAML path or a dict, not {uses!r}")


def load_executor(uses: Any = None, *, uses_with: dict | None = None,
                  uses_metas: dict | None = None, uses_requests: dict | None = None,
                  runtime_args: dict | None = None, workspace: str | None = None,
                  py_modules: list[str] | None = None, base_dir: str | None = None,
                  name: str | None = None,
                  context: Mapping[str, Any] | None = None) -> Executor:
    """Resolve ``uses`` and construct it with ``uses_with`` and the Flow's metas/args.

    ``context`` fills ``${{ CONTEXT.X }}`` in a YAML ``uses``."""
    spec = resolve(uses, base_dir=base_dir, py_modules=py_modules, context=context)
    kwargs = {**spec.uses_with, **(uses_with or {})}
    metas = {**spec.metas, **(uses_metas or {})}
    requests = {**spec.requests, **(uses_requests or {})}
    label = name or metas.get("name") or spec.cls.__name__
    try:
        return spec.cls(**kwargs, metas=metas, requests=requests or None,
                        runtime_args=dict(runtime_args or {}), workspace=workspace)
    except ExecutorLoadError:
        raise
    except TypeError as exc:
        raise ExecutorLoadError(
            f"executor {label!r}: cannot construct {spec.cls.__name__} with "
            f"uses_with={kwargs!r}: {exc}") from exc
    except Exception as exc:
        tb = traceback.format_exc()
        raise ExecutorLoadError(
            f"executor {label!r}: {spec.cls.__name__}.__init__ raised "
            f"{type(exc).__name__}: {exc}\n{tb}") from exc
