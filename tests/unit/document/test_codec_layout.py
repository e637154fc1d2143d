"""``shoal.document.codec`` is a package of one-job modules behind one re-exporting facade."""
import importlib

import pytest

from shoal.document import codec

MODULES = ("compression", "jsontext", "ndarray", "proto_encode", "proto_decode", "binary",
           "dicts", "request_wire")


def submodule(name):
    return importlib.import_module(f"shoal.document.codec.{name}")


def test_facade_exports_exactly_the_modules_public_names():
    homes = {}
    for mod in MODULES:
        for name in submodule(mod).__all__:
            assert name not in homes, f"{name} is exported by {homes.get(name)} and {mod}"
            homes[name] = mod
    assert set(codec.__all__) == set(homes)
    assert len(codec.__all__) == len(set(codec.__all__))


@pytest.mark.parametrize("mod", MODULES)
def test_facade_names_are_the_modules_objects(mod):
    m = submodule(mod)
    for name in m.__all__:
        assert getattr(codec, name) is getattr(m, name), name


def test_private_names_read_through_the_facade():
    # shoal.document.fileio calls codec._protocol / codec._codec_module
    assert codec._protocol("pickle-array") == "pickle"
    assert codec._codec_module("zlib").__name__ == "zlib"


def test_from_import_of_every_public_name():
    for name in codec.__all__:
        ns: dict = {}
        exec(f"from shoal.document.codec import {name}", ns)  # noqa: S102 - a literal name
        assert ns[name] is getattr(codec, name)
