"""``DocumentArray.plot_embeddings``: a PNG scatter of the embeddings' 2-D PCA;
``plot_image_sprites``: the images in one PNG grid.

DocArray 0.21 writes files for TensorFlow's Embedding Projector and serves them in a
browser; shoal draws the same points (the first two principal components) into a PNG
with matplotlib (the ``bench`` extra), with no server, and returns the file's path.
"""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from shoal.errors import BadInputError, EmptyArrayError, MissingExtraError

if TYPE_CHECKING:  # pragma: no cover
    from shoal.document.array import DocumentArray

__all__ = ["pca_2d", "plot_embeddings", "plot_image_sprites"]

_MAX_CATEGORIES = 20  # more distinct tag values than this are drawn with one colour map


def pca_2d(matrix: Any) -> np.ndarray:
    """The (N, 2) projection of ``matrix`` (N, D) on its first two principal components
    (float64; a component's sign is chosen so its largest loading is positive, as
    scikit-learn's PCA does; a missing component is zeros)."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(len(x), -1)
    if not np.isfinite(x).all():
        raise BadInputError("the embeddings hold NaN or infinite values; they cannot be plotted")
    x = x - x.mean(axis=0)
    n, d = x.shape
    if d == 0:
        return np.zeros((n, 2))
    # eigenvectors of the (D, D) covariance: O(N D^2) time, O(D^2) extra memory
    values, vectors = np.linalg.eigh(x.T @ x)
    order = np.argsort(values)[::-1][:2]
    comps = vectors[:, order]
    comps *= np.sign(comps[np.abs(comps).argmax(axis=0), range(comps.shape[1])])
    out = np.zeros((n, 2))
    out[:, :comps.shape[1]] = x @ comps
    return out


def _output_path(title: str, path: Any) -> str:
    if not isinstance(title, str) or not title or os.sep in title or (os.altsep and os.altsep in title):
        raise BadInputError(f"title must be a non-empty name without path separators, got {title!r}")
    if path is None:
        return os.path.join(tempfile.mkdtemp(prefix="shoal-plot-"), f"{title}.png")
    path = os.fspath(path)
    if path.lower().endswith(".png"):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise BadInputError(f"cannot write {path!r}: the folder {parent!r} does not exist")
        return path
    os.makedirs(path, exist_ok=True)
    return os.path.join(path, f"{title}.png")


def _tag(doc: Any, key: str) -> Any:
    value: Any = doc.tags
    for k in key.split("__"):
        if not isinstance(value, dict) or k not in value:
            return None
        value = value[k]
    return value


def _thumb(doc: Any, source: str, size: int, channel_axis: int) -> np.ndarray | None:
    t = doc.tensor if source == "tensor" else None
    if t is None and doc.uri:
        try:
            t = doc.copy().load_uri_to_image_tensor().tensor
        except Exception:  # noqa: BLE001 - a point without a picture is still a point
            return None
    if t is None:
        return None
    img = np.asarray(t)
    if img.ndim == 3 and channel_axis not in (-1, 2):
        img = np.moveaxis(img, channel_axis, -1)
    if img.ndim not in (2, 3):
        return None
    from PIL import Image  # noqa: PLC0415 - Pillow is a core dependency

    if img.dtype != np.uint8:
        lo, hi = float(img.min()), float(img.max())
        img = ((img - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
    pil = Image.fromarray(img.squeeze() if img.ndim == 3 and img.shape[-1] == 1 else img)
    pil.thumbnail((size, size))
    return np.asarray(pil)


def plot_embeddings(da: DocumentArray, title: str = "MyDocumentArray", path: Any = None,
                    image_sprites: bool = False, min_image_size: int = 16, channel_axis: int = -1,
                    image_source: str = "tensor", colored_attr: str | None = None,
                    exclude_fields_metas: Sequence[str] | None = None, dpi: int = 100) -> str:
    """Write a PNG scatter of the embeddings' 2-D PCA and return its path.

    ``path``: a ``.png`` file, or a folder (``{title}.png`` in it; a new temp folder when
    None). ``colored_attr``: a tag (``'label'``, nested ``'a__b'``) whose values colour
    the points, with a legend (a colour bar for numbers). ``image_sprites``: draw each
    Document's image (``tensor``, else its ``uri``) at its point, ``min_image_size``
    pixels wide.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "plot_embeddings needs matplotlib: pip install 'shoal[bench]'") from exc
    if image_source not in ("tensor", "uri"):
        raise BadInputError(f"image_source must be 'tensor' or 'uri', got {image_source!r}")
    if colored_attr is not None and not isinstance(colored_attr, str):
        raise BadInputError(f"colored_attr must be a tag name, got {colored_attr!r}")
    emb = da.embeddings if len(da) else None
    if emb is None:
        raise EmptyArrayError(
            "the array has no embeddings to plot; call .embed(model) or set .embeddings first")
    out = _output_path(title, path)
    xy = pca_2d(emb)

    fig = Figure(figsize=(8, 8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(f"{title} ({len(xy)} embeddings, {np.asarray(emb).shape[-1]}-D, PCA)")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    size = max(4.0, min(40.0, 4000.0 / max(1, len(xy)) ** 0.5))
    if colored_attr is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.7)
    else:
        _colored(ax, fig, xy, [_tag(d, colored_attr) for d in da], colored_attr, size)
    if image_sprites:
        from matplotlib.offsetbox import AnnotationBbox, OffsetImage  # noqa: PLC0415

        for d, (x, y) in zip(da, xy):
            img = _thumb(d, image_source, int(min_image_size), channel_axis)
            if img is not None:
                ax.add_artist(AnnotationBbox(OffsetImage(img, zoom=1.0), (x, y), frameon=False))
    fig.tight_layout()
    try:
        fig.savefig(out, format="png")
    except OSError as exc:
        raise BadInputError(f"cannot write {out!r}: {exc}") from exc
    return out


def _colored(ax: Any, fig: Any, xy: np.ndarray, values: list[Any], attr: str, size: float) -> None:
    """Points coloured by tag value: a legend of categories, or a colour bar when the
    values are numbers with more than ``_MAX_CATEGORIES`` distinct ones."""
    import matplotlib  # noqa: PLC0415

    missing = np.array([v is None for v in values])
    present = [v for v in values if v is not None]
    distinct = list(dict.fromkeys(map(_key, present)))
    numeric = bool(present) and all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in present)
    if missing.any():
        ax.scatter(xy[missing, 0], xy[missing, 1], s=size, c="lightgray", alpha=0.6,
                   label=f"(no {attr})")
    if numeric and len(distinct) > _MAX_CATEGORIES:
        keep = ~missing
        points = ax.scatter(xy[keep, 0], xy[keep, 1], s=size, alpha=0.8, cmap="viridis",
                            c=np.array([float(v) for v in present]))
        fig.colorbar(points, ax=ax, label=attr)
    else:
        many = len(distinct) > _MAX_CATEGORIES
        cmap = matplotlib.colormaps["tab20" if len(distinct) > 10 else "tab10"]
        keys = np.array([None if v is None else _key(v) for v in values], dtype=object)
        for i, k in enumerate(distinct):
            mask = keys == k
            color = cmap(i / len(distinct)) if many else cmap(i % cmap.N)
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size, alpha=0.8, color=[color],
                       label=None if many else k)
        if many:
            ax.text(0.01, 0.99, f"{len(distinct)} values of {attr}", transform=ax.transAxes,
                    va="top", fontsize="small")
    if ax.get_legend_handles_labels()[1]:
        ax.legend(title=attr, loc="best", fontsize="small", markerscale=1.5)


def _key(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def plot_image_sprites(da: DocumentArray, output: Any = None, canvas_size: int = 512,
                       min_size: int = 16, channel_axis: int = -1, image_source: str = "tensor",
                       skip_empty: bool = False, show_progress: bool = False,
                       show_index: bool = False, keep_aspect_ratio: bool = False) -> str:
    """Write one square PNG of every Document's image in a grid (DocArray's image sprite)
    and return its path (``output``, or a new temp file: nothing is shown on screen).

    Each image (``tensor``, else the ``uri`` loaded; ``image_source='uri'``: the uri
    first) fills a square cell of ``canvas_size / ceil(sqrt(n))`` pixels, at least
    ``min_size``; ``keep_aspect_ratio`` letterboxes instead of stretching; Documents
    without an image leave a blank cell unless ``skip_empty``; ``show_index`` writes each
    Document's position in its cell."""
    from PIL import Image, ImageDraw  # noqa: PLC0415 - Pillow is a core dependency

    from shoal.utils.progress import progress  # noqa: PLC0415

    if image_source not in ("tensor", "uri"):
        raise BadInputError(f"image_source must be 'tensor' or 'uri', got {image_source!r}")
    for name, value in (("canvas_size", canvas_size), ("min_size", min_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInputError(f"{name} must be a positive int, got {value!r}")
    if not len(da):
        raise EmptyArrayError("the array is empty: there are no images to draw")
    out = os.fspath(output) if output is not None else os.path.join(
        tempfile.mkdtemp(prefix="shoal-sprites-"), "sprites.png")
    cells: list[tuple[int, np.ndarray | None]] = []
    with progress(total=len(da), desc="sprites", unit="doc", enabled=show_progress) as bar:
        for i, d in enumerate(da):
            img = _thumb(d, image_source, 10 ** 6, channel_axis)  # full size: resized below
            if img is not None or not skip_empty:
                cells.append((i, img))
            bar.update(1)
    if not any(img is not None for _, img in cells):
        raise EmptyArrayError(f"no Document has an image {image_source} to draw; load them "
                              "with load_uri_to_image_tensor() or give tensors")
    side = int(np.ceil(np.sqrt(len(cells))))
    cell = max(min_size, canvas_size // side)
    canvas = Image.new("RGB", (side * cell, side * cell), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (index, img) in enumerate(cells):
        top, left = (k // side) * cell, (k % side) * cell
        if img is not None:
            pil = Image.fromarray(img).convert("RGB")
            if keep_aspect_ratio:
                pil.thumbnail((cell, cell))
            else:
                pil = pil.resize((cell, cell))
            canvas.paste(pil, (left + (cell - pil.width) // 2, top + (cell - pil.height) // 2))
        if show_index:
            draw.text((left + 2, top + 2), str(index), fill="red")
    try:
        canvas.save(out, format="PNG")
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot write {out!r}: {exc}") from exc
    return out
