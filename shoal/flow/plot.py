"""``Flow.plot``: a hand-written SVG of the topology (no graphviz, no web service).

Nodes are laid out in columns by topological depth (the gateway at depth 0 on the left
and again at the end), one row per node within a column; edges are arrows.
"""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from shoal.flow.config import GATEWAY

if TYPE_CHECKING:
    from shoal.flow.topology import Topology

__all__ = ["render_svg"]

_W, _H, _GAP_X, _GAP_Y, _PAD = 150, 44, 70, 24, 20
_END = "__end__"


def _label(topo: Topology, node: str) -> list[str]:
    if node in (GATEWAY, _END):
        return ["gateway"]
    cfg = topo.configs[node]
    uses = cfg.uses
    kind = uses.__name__ if isinstance(uses, type) else (str(uses) if uses else "Executor")
    extras = []
    if cfg.replicas > 1:
        extras.append(f"replicas={cfg.replicas}")
    if cfg.shards > 1:
        extras.append(f"shards={cfg.shards}")
    if cfg.runtime != "thread":
        extras.append(cfg.runtime)
    lines = [node, kind if kind != node else ""]
    if extras:
        lines.append(" ".join(extras))
    return [s for s in lines if s]


def render_svg(topo: Topology, vertical: bool = False) -> str:
    """The SVG text of ``topo``."""
    last = max(topo.depth.values(), default=0) + 1
    depth = dict(topo.depth)
    depth[_END] = last
    columns: dict[int, list[str]] = {}
    for node in [GATEWAY, *topo.order, _END]:
        columns.setdefault(depth[node], []).append(node)
    tallest = max(len(c) for c in columns.values())
    pos: dict[str, tuple[float, float]] = {}
    for d, nodes in columns.items():
        offset = (tallest - len(nodes)) * (_H + _GAP_Y) / 2
        for i, node in enumerate(nodes):
            a = _PAD + d * (_W + _GAP_X)
            b = _PAD + offset + i * (_H + _GAP_Y)
            pos[node] = (b, a) if vertical else (a, b)
    span_a = _PAD * 2 + (last + 1) * _W + last * _GAP_X
    span_b = _PAD * 2 + tallest * _H + (tallest - 1) * _GAP_Y
    width, height = (span_b, span_a) if vertical else (span_a, span_b)
    edges = [(src, dst) for dst in topo.order for src in topo.needs[dst]]
    edges += [(leaf, _END) for leaf in (topo.leaves or (GATEWAY,))]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#555"/></marker></defs>']
    for src, dst in edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        if vertical:
            x1, y1, x2, y2 = x1 + _W / 2, y1 + _H, x2 + _W / 2, y2
        else:
            x1, y1, x2, y2 = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
        out.append(f'<line class="edge" data-from="{escape(src)}" data-to="{escape(dst)}" '
                   f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
                   'stroke-width="1.5" marker-end="url(#arrow)"/>')
    for node, (x, y) in pos.items():
        gateway = node in (GATEWAY, _END)
        fill = "#e8e8e8" if gateway else "#dbeafe"
        out.append(f'<g class="node" data-name="{escape(node)}">'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{_W}" height="{_H}" rx="8" '
                   f'fill="{fill}" stroke="#333"/>')
        lines = _label(topo, node)
        for i, text in enumerate(lines):
            ty = y + _H / 2 + (i - (len(lines) - 1) / 2) * 13 + 4
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x + _W / 2:.1f}" y="{ty:.1f}" text-anchor="middle"{weight}>'
                       f'{escape(text[:24])}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
