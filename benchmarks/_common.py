"""Helpers shared by the benchmark scripts: timing, tables, result files."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).parent / "results"


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock runs of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_pair(bare: Callable[[], Any], ours: Callable[[], Any],
                 repeat: int = 5) -> tuple[float, float]:
    """The fastest of ``repeat`` wall-clock runs of ``bare`` and of ``ours`` in seconds, run
    in turn (bare, ours, bare, ...) so that a noisy spell of the machine hits both, not the
    one that happened to run during it."""
    t_bare, t_ours = [], []
    for _ in range(repeat):
        for fn, out in ((bare, t_bare), (ours, t_ours)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return min(t_bare), min(t_ours)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, rows: list[dict[str, Any]], table: str, params: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md``; returns the JSON path."""
    RESULTS.mkdir(exist_ok=True)
    meta = {"params": params, "machine": {"python": platform.python_version(),
                                          "processor": platform.processor(),
                                          "cpus": __import__("os").cpu_count()},
            "rows": rows}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(meta, indent=2))
    (RESULTS / f"{name}.md").write_text(f"# {name}\n\nparams: `{params}`\n\n{table}\n")
    return path
