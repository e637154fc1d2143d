"""Flow plots: SVG text for .svg, a real image for .png / .jpg / .pdf, a clear error else."""
from __future__ import annotations

import builtins

import pytest

from shoal.errors import InvalidConfigError, MissingExtraError
from shoal.flow import Flow
from shoal.flow.plot import write_plot

pytest.importorskip("matplotlib")


def _flow() -> Flow:
    return Flow().add(name="e1").add(name="e2", needs="e1", replicas=2).add(needs="e1")


def test_png_is_a_real_png(tmp_path):
    path = tmp_path / "flow.png"
    svg = write_plot(_flow().topology, str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert svg.startswith("<svg")
    from PIL import Image

    with Image.open(path) as img:
        assert img.size[0] > img.size[1] > 50  # horizontal layout, same size as the SVG


def test_vertical_jpg_and_pdf(tmp_path):
    pytest.importorskip("PIL")
    write_plot(_flow().topology, str(tmp_path / "flow.JPG"), vertical=True)
    assert (tmp_path / "flow.JPG").read_bytes()[:3] == b"\xff\xd8\xff"
    write_plot(_flow().topology, str(tmp_path / "flow.pdf"))
    assert (tmp_path / "flow.pdf").read_bytes()[:5] == b"%PDF-"


def test_svg_and_unknown_suffix(tmp_path):
    svg = write_plot(_flow().topology, str(tmp_path / "flow.svg"))
    assert (tmp_path / "flow.svg").read_text() == svg
    with pytest.raises(InvalidConfigError, match=r"\.svg"):
        write_plot(_flow().topology, str(tmp_path / "flow.gif"))
    assert not (tmp_path / "flow.gif").exists()


def test_png_without_matplotlib_says_what_to_do(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(MissingExtraError, match=r"pip install matplotlib.*\.svg"):
        write_plot(_flow().topology, str(tmp_path / "flow.png"))


def test_flow_plot_writes_the_format_its_suffix_names(tmp_path):
    """Flow.plot('flow.png') (was: SVG text in a .png file)."""
    svg = _flow().plot(str(tmp_path / "flow.png"))
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and svg.startswith("<svg")
