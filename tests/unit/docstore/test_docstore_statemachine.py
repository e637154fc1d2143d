"""Hypothesis state machine: each disk store behaves like a Python list of Documents,
including across close / reopen."""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shoal.document.array import DocumentArray
from shoal.document.document import Document

_ids = itertools.count()


def _doc(tag: int) -> Document:
    i = next(_ids)
    return Document(id=f"id{i}", text=f"t{i}", tags={"k": tag},
                    embedding=np.full(3, float(i % 97), dtype=np.float32))


def make_machine(storage: str) -> type:
    # PostgreSQL text cannot hold NUL: such a write is bad input there (see
    # test_docstore_postgres.test_values_postgres_cannot_hold_are_bad_input), not a list
    # operation
    texts = (st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=5)
             if storage == "postgres" else st.text(max_size=5))

    class StoreMachine(RuleBasedStateMachine):
        @initialize()
        def open(self) -> None:
            self.dir = tempfile.mkdtemp(prefix="shoal-sm-")
            if storage == "postgres":
                from shoal.docstore import pg_testing

                self.cfg = {"connection": pg_testing.shared_server().url,
                            "table_name": f"sm{next(_ids)}_{os.getpid()}"}
            else:
                self.cfg = ({"connection": f"{self.dir}/s.db"} if storage == "sqlite"
                            else {"path": f"{self.dir}/l", "map_size": 1 << 20})
            self.da = DocumentArray(storage=storage, config=self.cfg)
            self.model: list[tuple[str, str, int]] = []

        def teardown(self) -> None:
            if hasattr(self, "da"):
                self.da.close()
                shutil.rmtree(self.dir, ignore_errors=True)

        @rule(tags=st.lists(st.integers(0, 3), min_size=1, max_size=6))
        def extend(self, tags: list[int]) -> None:
            docs = [_doc(t) for t in tags]
            self.da.extend(docs)
            self.model += [(d.id, d.text, t) for d, t in zip(docs, tags)]

        @rule(data=st.data(), tag=st.integers(0, 3))
        def insert(self, data: st.DataObject, tag: int) -> None:
            pos = data.draw(st.integers(0, len(self.model)))
            d = _doc(tag)
            self.da.insert(pos, d)
            self.model.insert(pos, (d.id, d.text, tag))

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            pos = data.draw(st.integers(0, len(self.model) - 1))
            del self.da[pos]
            del self.model[pos]

        @precondition(lambda self: len(self.model) > 2)
        @rule(data=st.data())
        def delete_slice(self, data: st.DataObject) -> None:
            a = data.draw(st.integers(0, len(self.model) - 1))
            b = data.draw(st.integers(a, len(self.model)))
            del self.da[a:b]
            del self.model[a:b]

        @precondition(lambda self: self.model)
        @rule(data=st.data(), tag=st.integers(0, 3))
        def set_item(self, data: st.DataObject, tag: int) -> None:
            pos = data.draw(st.integers(0, len(self.model) - 1))
            d = _doc(tag)
            self.da[pos] = d
            self.model[pos] = (d.id, d.text, tag)

        @precondition(lambda self: self.model)
        @rule(data=st.data(), text=texts)
        def change_in_place(self, data: st.DataObject, text: str) -> None:
            pos = data.draw(st.integers(0, len(self.model) - 1))
            self.da[pos].text = text
            i, _, t = self.model[pos]
            self.model[pos] = (i, text, t)

        @rule()
        def reopen(self) -> None:
            self.da.close()
            self.da = DocumentArray(storage=storage, config=self.cfg)

        @rule()
        def reverse(self) -> None:
            self.da.reverse()
            self.model.reverse()

        @rule(tag=st.integers(0, 3))
        def check_filter(self, tag: int) -> None:
            got = [d.id for d in self.da.find(filter={"tags__k": tag}, limit=None)]
            assert got == [i for i, _, t in self.model if t == tag]

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def check_position(self, data: st.DataObject) -> None:
            pos = data.draw(st.integers(0, len(self.model) - 1))
            i, text, _ = self.model[pos]
            d = self.da[pos]
            assert (d.id, d.text) == (i, text)
            assert self.da.index(i) == pos

        @invariant()
        def same_length(self) -> None:
            if hasattr(self, "da"):
                assert len(self.da) == len(self.model)

        @precondition(lambda self: self.model)
        @rule()
        def check_all(self) -> None:
            self.da.sync()
            assert [(d.id, d.text) for d in self.da] == [(i, t) for i, t, _ in self.model]
            emb = self.da.embeddings
            assert emb.shape == (len(self.model), 3)
            q = self.da[0].embedding
            assert len(self.da.find(q, limit=3, metric="euclidean")) == min(3, len(self.model))

    return StoreMachine


_settings = settings(max_examples=25, stateful_step_count=25, deadline=None,
                     suppress_health_check=list(HealthCheck))
TestSqliteMachine = pytest.mark.timeout(300)(make_machine("sqlite").TestCase)
TestSqliteMachine.settings = _settings
TestLmdbMachine = pytest.mark.timeout(300)(make_machine("lmdb").TestCase)
TestLmdbMachine.settings = _settings


def _postgres_skip() -> str | None:
    from shoal.docstore import pg_testing

    return pg_testing.unavailable()


# PostgreSQL (SHOAL_TEST_POSTGRES=1): fewer examples, each is a few round trips per step
TestPostgresMachine = pytest.mark.skipif(_postgres_skip() is not None, reason=str(_postgres_skip()))(
    pytest.mark.timeout(300)(make_machine("postgres").TestCase))
TestPostgresMachine.settings = settings(max_examples=10, stateful_step_count=20, deadline=None,
                                        suppress_health_check=list(HealthCheck))

