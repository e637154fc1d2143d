"""``Flow.plot``: a hand-written SVG of the topology (no graphviz, no web service).

Nodes are laid out in columns by topological depth (the gateway at depth 0 on the left
and again at the end), one row per node within a column; edges are arrows.
:func:`write_plot` writes that SVG for ``.svg`` (or no suffix) and draws the same layout
with matplotlib for ``.png`` / ``.jpg`` / ``.pdf``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from shoal.errors import InvalidConfigError, MissingExtraError
from shoal.flow.config import GATEWAY

if TYPE_CHECKING:
    from shoal.flow.topology import Topology

__all__ = ["render_svg", "render_image", "write_plot", "IMAGE_FORMATS"]

#: Suffixes drawn with matplotlib (``.jpg`` also needs Pillow).
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf"}
_DPI = 100

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


@dataclass
class _Layout:
    """Boxes (top-left corners, in px), edges and canvas size shared by SVG and images."""

    pos: dict[str, tuple[float, float]]
    edges: list[tuple[str, str]]
    width: float
    height: float
    vertical: bool

    def edge_ends(self, src: str, dst: str) -> tuple[float, float, float, float]:
        (x1, y1), (x2, y2) = self.pos[src], self.pos[dst]
        if self.vertical:
            return x1 + _W / 2, y1 + _H, x2 + _W / 2, y2
        return x1 + _W, y1 + _H / 2, x2, y2 + _H / 2


def _layout(topo: Topology, vertical: bool) -> _Layout:
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
    return _Layout(pos, edges, width, height, vertical)


def _fill(node: str) -> str:
    return "#e8e8e8" if node in (GATEWAY, _END) else "#dbeafe"


def render_svg(topo: Topology, vertical: bool = False) -> str:
    """The SVG text of ``topo``."""
    lay = _layout(topo, vertical)
    width, height = lay.width, lay.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#555"/></marker></defs>']
    for src, dst in lay.edges:
        x1, y1, x2, y2 = lay.edge_ends(src, dst)
        out.append(f'<line class="edge" data-from="{escape(src)}" data-to="{escape(dst)}" '
                   f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
                   'stroke-width="1.5" marker-end="url(#arrow)"/>')
    for node, (x, y) in lay.pos.items():
        out.append(f'<g class="node" data-name="{escape(node)}">'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{_W}" height="{_H}" rx="8" '
                   f'fill="{_fill(node)}" stroke="#333"/>')
        lines = _label(topo, node)
        for i, text in enumerate(lines):
            ty = y + _H / 2 + (i - (len(lines) - 1) / 2) * 13 + 4
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x + _W / 2:.1f}" y="{ty:.1f}" text-anchor="middle"{weight}>'
                       f'{escape(text[:24])}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _matplotlib() -> tuple[type, type, type]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
        from matplotlib.patches import FancyBboxPatch  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "Flow.plot writes .png / .jpg / .pdf with matplotlib: pip install matplotlib "
            "(or 'shoal[bench]'), or plot to a .svg file, which needs nothing") from exc
    return Figure, FigureCanvasAgg, FancyBboxPatch


def render_image(topo: Topology, path: str, vertical: bool = False) -> None:
    """Draw the layout of :func:`render_svg` with matplotlib into ``path`` (by suffix)."""
    fmt = IMAGE_FORMATS[os.path.splitext(path)[1].lower()]
    Figure, FigureCanvasAgg, FancyBboxPatch = _matplotlib()  # noqa: N806
    lay = _layout(topo, vertical)
    fig = Figure(figsize=(lay.width / _DPI, lay.height / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)  # y grows downwards, as in the SVG
    ax.axis("off")
    for src, dst in lay.edges:
        x1, y1, x2, y2 = lay.edge_ends(src, dst)
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                    arrowprops={"arrowstyle": "-|>", "color": "#555", "lw": 1.5})
    for node, (x, y) in lay.pos.items():
        ax.add_patch(FancyBboxPatch((x, y), _W, _H, boxstyle="round,pad=0,rounding_size=8",
                                    facecolor=_fill(node), edgecolor="#333"))
        lines = _label(topo, node)
        for i, text in enumerate(lines):
            ty = y + _H / 2 + (i - (len(lines) - 1) / 2) * 13
            ax.text(x + _W / 2, ty, text[:24], ha="center", va="center", fontsize=9,
                    fontweight="bold" if i == 0 else "normal", family="sans-serif")
    try:
        fig.savefig(path, format=fmt, dpi=_DPI)
    except (ImportError, ValueError) as exc:  # e.g. jpeg without Pillow
        raise MissingExtraError(f"Flow.plot cannot write {path}: {exc}; use .png or .svg") from exc


def write_plot(topo: Topology, output: str | None, vertical: bool = False) -> str:
    """``Flow.plot``: the SVG text, written to ``output`` as SVG or as an image by suffix.

    ``.svg`` (or no suffix) is the SVG itself; ``.png`` / ``.jpg`` / ``.pdf`` are drawn
    with matplotlib; any other suffix is an :class:`~shoal.errors.InvalidConfigError`.
    """
    svg = render_svg(topo, vertical=vertical)
    if not output:
        return svg
    suffix = os.path.splitext(output)[1].lower()
    if suffix in IMAGE_FORMATS:
        render_image(topo, output, vertical=vertical)
    elif suffix in ("", ".svg"):
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(svg)
    else:
        raise InvalidConfigError(
            f"Flow.plot({output!r}): cannot write {suffix!r} files; use .svg, or "
            f"{', '.join(IMAGE_FORMATS)} (with matplotlib)")
    return svg
