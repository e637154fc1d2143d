"""Progress bars for long work (tqdm, imported only when a bar is shown)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["progress"]


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def set_postfix_str(self, s: str) -> None:
        """Ignore status text."""


@contextmanager
def progress(total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, **kwargs: Any) -> Iterator[Any]:
    """A tqdm bar when ``enabled`` (and tqdm is installed), otherwise a silent stand-in."""
    if not enabled:
        yield _NoBar()
        return
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415
    except ImportError:  # pragma: no cover - tqdm is a core dependency
        yield _NoBar()
        return
    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, **kwargs)
    try:
        yield bar
    finally:
        bar.close()
