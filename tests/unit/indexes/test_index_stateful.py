"""Random add / replace / remove / save-load sequences against a dict model, per backend."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from shoal.indexes import create_index, load_index

DIM = 6
LABELS = st.lists(st.integers(0, 40), min_size=1, max_size=8)
BACKENDS = {
    "exact": ("exact", {}),
    "hnsw": ("hnsw", {"M": 4, "ef_construction": 32, "capacity": 2}),
    "faiss-flat": ("faiss", {"factory": "Flat"}),
    "faiss-hnsw": ("faiss", {"factory": "HNSW8"}),
}


def machine_for(backend: str) -> type[RuleBasedStateMachine]:
    name, params = BACKENDS[backend]

    class IndexMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.index = create_index(name, DIM, "euclidean", **params)
            self.model: dict[int, np.ndarray] = {}
            self.rng = np.random.default_rng(0)

        @rule(labels=LABELS)
        def add(self, labels: list[int]) -> None:
            vecs = self.rng.normal(size=(len(labels), DIM)).astype(np.float32)
            self.index.add(np.array(labels), vecs)
            for label, v in zip(labels, vecs, strict=True):  # last one wins
                self.model[label] = v

        @rule(labels=LABELS)
        def remove(self, labels: list[int]) -> None:
            removed = self.index.remove(np.array(labels))
            assert removed == len(set(labels) & set(self.model))
            for label in labels:
                self.model.pop(label, None)

        @rule()
        def save_and_load(self) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                self.index.save(tmp)
                self.index = load_index(tmp)

        @invariant()
        def matches_model(self) -> None:
            assert len(self.index) == len(self.model)
            assert sorted(self.index.labels().tolist()) == sorted(self.model)
            if not self.model:
                return
            labels = np.array(sorted(self.model))
            vecs = np.stack([self.model[int(lab)] for lab in labels])
            # each label holds its latest vector: searching it restricted to itself gives 0
            for label, v in zip(labels[:5], vecs[:5], strict=True):
                scores, found = self.index.search(v, 1, allowed=[label])
                assert found[0, 0] == label and scores[0, 0] == pytest.approx(0.0, abs=1e-3)
            _, found = self.index.search(vecs[:1], len(labels) + 2)
            got = found[0][found[0] >= 0]
            assert set(got.tolist()) <= set(self.model) and len(set(got.tolist())) == len(got)

    return IndexMachine


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_index_state_machine(backend: str) -> None:
    machine = machine_for(backend)
    machine.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
