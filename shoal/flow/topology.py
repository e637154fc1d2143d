"""The Flow graph: validation (duplicates, unknown needs, cycles), order, depths."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from shoal.errors import TopologyError
from shoal.flow.config import GATEWAY, DeploymentConfig

__all__ = ["Topology", "build_topology"]


@dataclass(frozen=True)
class Topology:
    """A validated DAG. ``order`` is topological; ``leaves`` feed the response."""

    configs: dict[str, DeploymentConfig]
    order: tuple[str, ...]
    needs: dict[str, tuple[str, ...]]
    successors: dict[str, tuple[str, ...]]  # includes GATEWAY -> roots
    leaves: tuple[str, ...]
    depth: dict[str, int]  # GATEWAY is 0

    @property
    def is_chain(self) -> bool:
        """True when every node has one input and one consumer (no branches, no joins)."""
        return (all(len(n) == 1 for n in self.needs.values())
                and all(len(s) <= 1 for s in self.successors.values())
                and len(self.leaves) <= 1)


def build_topology(configs: Sequence[DeploymentConfig]) -> Topology:
    """Validate ``configs`` and compute the order; raise TopologyError on a bad graph."""
    by_name: dict[str, DeploymentConfig] = {}
    for cfg in configs:
        if cfg.name in by_name:
            raise TopologyError(f"two deployments are called {cfg.name!r}; names must be unique")
        by_name[cfg.name] = cfg
    for cfg in configs:
        unknown = [n for n in cfg.needs if n != GATEWAY and n not in by_name]
        if unknown:
            raise TopologyError(
                f"{cfg.name!r} needs {unknown}, which {'is' if len(unknown) == 1 else 'are'} "
                f"not in this Flow (known: {[GATEWAY, *by_name]})")
        if cfg.name in cfg.needs:
            raise TopologyError(f"{cfg.name!r} needs itself")
    needs = {c.name: tuple(dict.fromkeys(c.needs)) or (GATEWAY,) for c in configs}
    succ: dict[str, list[str]] = {GATEWAY: [], **{n: [] for n in by_name}}
    for name, ins in needs.items():
        for src in ins:
            succ[src].append(name)
    # Kahn's algorithm, stable in insertion order.
    indeg = {n: len(ins) for n, ins in needs.items()}
    ready = [n for n in needs if all(s == GATEWAY for s in needs[n])]
    order: list[str] = []
    depth = {GATEWAY: 0}
    for n in ready:
        indeg[n] = 0
    while ready:
        node = ready.pop(0)
        order.append(node)
        depth[node] = 1 + max(depth[s] for s in needs[node])
        for nxt in succ[node]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(needs):
        stuck = [n for n in needs if n not in order]
        raise TopologyError(f"the Flow has a cycle through {stuck}; `needs` must form a DAG")
    leaves = tuple(n for n in order if not succ[n])
    return Topology(configs=by_name, order=tuple(order), needs=needs,
                    successors={k: tuple(v) for k, v in succ.items()}, leaves=leaves,
                    depth=depth)
