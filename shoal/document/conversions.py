"""Document conversions with DocArray 0.21's semantics: data URIs, text <-> token tensors,
blob <-> tensor, feature hashing, saving to files, and image tensors (Pillow, imported
only when an image is encoded).

Each function takes the Document, changes it in place and returns it (for chaining), as
the DocArray method of the same name does; :class:`~shoal.document.Document` exposes them
as thin methods.
"""
from __future__ import annotations

import base64 as _b64
import hashlib
import io
import json
import struct
import urllib.parse
import warnings
import zlib
from collections import Counter
from contextlib import nullcontext
from typing import IO, TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from shoal.document.document import guess_mime_type, set_uri
from shoal.errors import BadInputError, MissingExtraError

if TYPE_CHECKING:
    from shoal.document.document import Document

__all__ = [
    "to_datauri", "convert_text_to_datauri", "convert_blob_to_datauri", "convert_uri_to_datauri",
    "convert_content_to_datauri", "get_vocabulary", "convert_text_to_tensor",
    "convert_tensor_to_text", "convert_blob_to_tensor", "convert_tensor_to_blob",
    "content_hash", "save_uri_to_file", "save_blob_to_file", "embed_feature_hashing",
    "image_to_bytes", "convert_image_tensor_to_uri", "convert_image_tensor_to_blob",
    "save_image_tensor_to_file", "set_image_tensor_channel_axis", "set_image_tensor_shape",
    "set_image_tensor_resample", "set_image_tensor_normalization",
    "set_image_tensor_inv_normalization",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


# --- data URIs ---------------------------------------------------------------------------

def to_datauri(mime_type: str, data: bytes, charset: str | None = "utf-8",
               base64: bool = False) -> str:
    """``data:<mime>[;charset=..][;base64],<data>`` (percent-encoded unless ``base64``)."""
    parts = ["data:", mime_type]
    if charset is not None:
        parts += [";charset=", charset]
    if base64:
        parts += [";base64,", _b64.b64encode(data).decode("ascii")]
    else:
        parts += [",", urllib.parse.quote_from_bytes(data)]
    return "".join(parts)


def _encode_text(text: str, charset: str | None) -> bytes:
    try:
        return text.encode(charset or "utf-8")
    except LookupError as exc:
        raise BadInputError(f"unknown charset {charset!r}") from exc
    except UnicodeEncodeError as exc:
        raise BadInputError(f"the text cannot be encoded as {charset}: {exc}") from exc


def convert_text_to_datauri(doc: Document, charset: str = "utf-8",
                            base64: bool = False) -> Document:
    """``text`` as a data URI in ``uri`` (MIME type ``mime_type``, else text/plain)."""
    mime = doc.mime_type or "text/plain"
    set_uri(doc, to_datauri(mime, _encode_text(doc.text, charset), charset, base64))
    return doc


def convert_blob_to_datauri(doc: Document, charset: str = "utf-8",
                            base64: bool = False) -> Document:
    """``blob`` as a data URI in ``uri``; needs ``mime_type`` (as DocArray)."""
    if not doc.mime_type:
        raise BadInputError("mime_type is unset, cannot convert the blob to a data URI; "
                            "set Document.mime_type first (e.g. 'image/png')")
    set_uri(doc, to_datauri(doc.mime_type, _need(doc, "blob"), charset, base64))
    return doc


def convert_uri_to_datauri(doc: Document, charset: str = "utf-8",
                           base64: bool = False) -> Document:
    """The content behind ``uri`` as a data URI in ``uri`` (a data URI stays as it is)."""
    from shoal.document.uri import read_uri  # noqa: PLC0415

    if urllib.parse.urlsplit(doc.uri or "").scheme == "data":
        return doc
    data = read_uri(doc.uri)
    mime = doc.mime_type or guess_mime_type(doc.uri) or "application/octet-stream"
    set_uri(doc, to_datauri(mime, data, charset, base64))
    return doc


def convert_content_to_datauri(doc: Document) -> Document:
    """``text`` or ``blob`` as a data URI in ``uri``; a tensor cannot be (DocArray)."""
    if doc.text:
        return convert_text_to_datauri(doc)
    if doc.blob:
        return convert_blob_to_datauri(doc)
    if doc.content_type:
        raise BadInputError("a tensor cannot become a data URI; use "
                            "convert_image_tensor_to_uri() for an image tensor")
    return doc


# --- text <-> token tensors ----------------------------------------------------------------

_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_SPLIT = str.maketrans({c: " " for c in _FILTERS})


def _words(text: str) -> Iterator[str]:
    """Lower-cased words, punctuation as separators (DocArray's tokenizer)."""
    return (w for w in text.lower().translate(_SPLIT).split(" ") if w)


def get_vocabulary(doc: Document, text_attrs: Sequence[str] = ("text",)) -> Counter:
    """Word -> count over the text attributes ``text_attrs``."""
    counts: Counter = Counter()
    for name in text_attrs:
        value = getattr(doc, name)
        if not isinstance(value, str):
            raise BadInputError(f"{name!r} is not a text attribute ({type(value).__name__})")
        counts.update(_words(value))
    return counts


def convert_text_to_tensor(doc: Document, vocab: dict[str, int], max_length: int | None = None,
                           dtype: str = "int64") -> Document:
    """``text`` as a 1-D tensor of word indices: unknown words 1, left-padded with 0 (or cut
    from the beginning) to ``max_length``."""
    if not isinstance(vocab, dict):
        raise BadInputError(f"vocab must be a dict of word -> index, got {type(vocab).__name__}")
    seq = [vocab.get(w, 1) for w in _words(doc.text)]
    if max_length:
        seq = ([0] * (max_length - len(seq)) + seq)[-max_length:]
    try:
        doc.tensor = np.array(seq, dtype=dtype)
    except TypeError as exc:
        raise BadInputError(f"dtype {dtype!r} is not a numpy dtype") from exc
    return doc


def convert_tensor_to_text(doc: Document, vocab: dict[str, int] | dict[int, str],
                           delimiter: str = " ") -> Document:
    """A tensor of word indices back to ``text`` (0 is skipped, 1 and unknowns are ``<UNK>``);
    ``vocab`` maps word -> index or index -> word."""
    if not isinstance(vocab, dict):
        raise BadInputError(f"vocab must be a dict, got {type(vocab).__name__}")
    words = {v: k for k, v in vocab.items()} if vocab and isinstance(next(iter(vocab)), str) \
        else vocab
    out = []
    for k in np.asarray(_need(doc, "tensor")).ravel():
        k = int(k)
        if k != 0:
            out.append("<UNK>" if k == 1 else words.get(k, "<UNK>"))
    doc.text = delimiter.join(out)
    return doc


# --- blob <-> tensor ---------------------------------------------------------------------

def convert_blob_to_tensor(doc: Document, dtype: str | None = None, count: int = -1,
                           offset: int = 0) -> Document:
    """``blob`` read as a raw ndarray buffer (``np.frombuffer``) into ``tensor``."""
    try:
        doc.tensor = np.frombuffer(_need(doc, "blob"), dtype=dtype, count=count, offset=offset)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"the blob is not a buffer of {dtype or 'float'}: {exc}") from exc
    return doc


def convert_tensor_to_blob(doc: Document) -> Document:
    """``tensor``'s raw bytes into ``blob``."""
    doc.blob = np.asarray(_need(doc, "tensor")).tobytes()
    return doc


# --- hashing, size, files ------------------------------------------------------------------

def content_hash(doc: Document) -> int:
    """A signed 64-bit hash of the fields DocArray hashes (all but tensor and embedding, the
    id included), stable across processes."""
    from shoal.document.codec import doc_to_dict  # noqa: PLC0415

    data = doc_to_dict(doc, exclude=("tensor", "embedding"))
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)


def _open_for_write(file: str | IO[bytes]) -> Any:
    if hasattr(file, "write"):
        return nullcontext(file)
    try:
        return open(file, "wb")  # noqa: SIM115 -- closed by the caller's with
    except (OSError, TypeError) as exc:
        raise BadInputError(f"cannot write to {file!r}: {exc}") from exc


def save_uri_to_file(doc: Document, file: str | IO[bytes]) -> Document:
    """Write the content behind ``uri`` to ``file`` (a path or a binary file object)."""
    from shoal.document.uri import read_uri  # noqa: PLC0415

    data = read_uri(doc.uri)
    with _open_for_write(file) as fp:
        fp.write(data)
    return doc


def save_blob_to_file(doc: Document, file: str | IO[bytes]) -> Document:
    """Write ``blob`` to ``file`` (a path or a binary file object)."""
    data = _need(doc, "blob")
    with _open_for_write(file) as fp:
        fp.write(data)
    return doc


# --- feature hashing -------------------------------------------------------------------------

def _any_hash(v: Any) -> int | float:
    """DocArray's value hash: md5 of text / JSON, a number as itself, booleans-as-text 0/1."""
    if not v:
        return 0
    if isinstance(v, (tuple, dict, list, str)):
        if isinstance(v, str):
            v = v.strip()
            if v.lower() in ("true", "yes"):
                return 1
            if v.lower() in ("false", "no"):
                return 0
        else:
            v = json.dumps(v, sort_keys=True, default=repr)
        return int(hashlib.md5(str(v).encode("utf-8")).hexdigest(), base=16)  # noqa: S324
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return float(v)
        except (TypeError, ValueError):
            return 0


def _hash_column(name: Any, value: Any, n_dim: int, max_value: int,
                 cells: list[tuple[int, float]], table: np.ndarray) -> None:
    h = _any_hash(name)
    v = np.sign(h) * (_any_hash(value) % max_value)
    col = int(h % n_dim)
    cells.append((col, v))
    table[col] += v


def embed_feature_hashing(doc: Document, n_dim: int = 256, sparse: bool = False,
                          fields: Sequence[str] = ("text", "tags"),
                          max_value: int = 1_000_000) -> Document:
    """A fixed-size ``embedding`` from ``fields`` by the hashing trick: DocArray's algorithm,
    value for value (``sparse=True`` gives a scipy ``csr_matrix``)."""
    if not isinstance(n_dim, int) or n_dim < 1:
        raise BadInputError(f"n_dim must be a positive int, got {n_dim!r}")
    cells: list[tuple[int, float]] = []
    table = np.zeros(n_dim)
    for f in fields:  # DocArray adds text words and tags once per field listed
        if "text" in fields:
            for word, count in get_vocabulary(doc, ("text",)).items():
                _hash_column(word, count, n_dim, max_value, cells, table)
        if "tags" in fields:
            for k, v in doc.tags.items():
                _hash_column(k, v, n_dim, max_value, cells, table)
        v = getattr(doc, f, None)
        if v is not None and not _is_array(v) and v:
            _hash_column(f, v, n_dim, max_value, cells, table)
    doc.embedding = _sparse_row(cells, n_dim) if sparse else table
    return doc


def _sparse_row(cells: list[tuple[int, float]], n_dim: int) -> Any:
    try:
        from scipy.sparse import csr_matrix  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError("sparse=True needs scipy: pip install scipy") from exc
    data = [v for _, v in cells]
    cols = [c for c, _ in cells]
    return csr_matrix((data, ([0] * len(cols), cols)), shape=(1, n_dim))


# --- image tensors ---------------------------------------------------------------------------

def _pil() -> Any:
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError(
            "encoding images needs Pillow, a core dependency of shoal: pip install 'Pillow>=10'"
        ) from exc
    return Image


def _image(doc: Document) -> np.ndarray:
    tensor = _need(doc, "tensor")
    return tensor if isinstance(tensor, np.ndarray) else np.asarray(tensor)


def _move_axis(tensor: np.ndarray, source: int, target: int = -1) -> np.ndarray:
    if source == target:
        return tensor
    try:
        return np.moveaxis(tensor, source, target)
    except ValueError as exc:  # numpy's AxisError is a ValueError
        raise BadInputError(f"cannot move axis {source} to {target} of a tensor of shape "
                            f"{tensor.shape}: {exc}") from exc


def _image_format(image_format: str) -> str:
    if image_format not in ("png", "jpeg", "jpg"):
        raise BadInputError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    return "jpeg" if image_format == "jpg" else image_format


def _png_1d(arr: np.ndarray, width: int = 28, height: int = 28) -> bytes:
    """A flat 28x28 (MNIST-style) array as an RGBA PNG, byte for byte as DocArray writes it."""
    if arr.size != width * height:
        raise BadInputError(f"a 1-D image tensor must have {width * height} values "
                            f"({width}x{height}), got {arr.size}")
    buf = bytearray(b for p in arr[::-1] for b in (int(p), int(p), int(p), 255))
    row = width * 4
    raw = b"".join(b"\x00" + buf[s:s + row] for s in range((height - 1) * row, -1, -row))

    def pack(tag: bytes, data: bytes) -> bytes:
        head = tag + data
        return struct.pack("!I", len(data)) + head + struct.pack("!I", zlib.crc32(head))

    return b"".join([b"\x89PNG\r\n\x1a\n",
                     pack(b"IHDR", struct.pack("!2I5B", width, height, 8, 6, 0, 0, 0)),
                     pack(b"IDAT", zlib.compress(raw, 9)), pack(b"IEND", b"")])


def image_to_bytes(arr: np.ndarray, image_format: str = "png") -> bytes:
    """An (H, W, C) / (H, W) image array (cast to uint8) as PNG or JPEG bytes."""
    fmt = _image_format(image_format)
    arr = np.asarray(arr).astype(np.uint8).squeeze()
    if arr.ndim == 1:
        return _png_1d(arr)
    if arr.ndim not in (2, 3):
        raise BadInputError(f"a tensor of shape {arr.shape} cannot be an image")
    image_mod = _pil()
    try:
        img = image_mod.fromarray(arr).convert("L" if arr.ndim == 2 else "RGB")
        out = io.BytesIO()
        img.save(out, format=fmt.upper())
    except (TypeError, ValueError, OSError) as exc:
        raise BadInputError(f"cannot encode a tensor of shape {arr.shape} as {fmt}: {exc}") from exc
    return out.getvalue()


def convert_image_tensor_to_uri(doc: Document, channel_axis: int = -1,
                                image_format: str = "png") -> Document:
    """The image ``tensor`` as a ``data:image/<format>;base64`` ``uri``."""
    data = image_to_bytes(_move_axis(_image(doc), channel_axis), image_format)
    set_uri(doc, f"data:image/{image_format};base64," + _b64.b64encode(data).decode())
    return doc


def convert_image_tensor_to_blob(doc: Document, channel_axis: int = -1,
                                 image_format: str = "png") -> Document:
    """The image ``tensor`` encoded (PNG / JPEG) into ``blob``."""
    doc.blob = image_to_bytes(_move_axis(_image(doc), channel_axis), image_format)
    return doc


def save_image_tensor_to_file(doc: Document, file: str | IO[bytes], channel_axis: int = -1,
                              image_format: str = "png") -> Document:
    """Write the image ``tensor`` to ``file`` as PNG / JPEG."""
    if isinstance(file, str) and not file.endswith(image_format.lower()):
        warnings.warn(f"the file name {file!r} does not end with the image format "
                      f"{image_format!r}", UserWarning, stacklevel=3)
    data = image_to_bytes(_move_axis(_image(doc), channel_axis), image_format)
    with _open_for_write(file) as fp:
        fp.write(data)
    return doc


def set_image_tensor_channel_axis(doc: Document, original_channel_axis: int,
                                  new_channel_axis: int) -> Document:
    """Move the channel axis of the image ``tensor``."""
    doc.tensor = _move_axis(_image(doc), original_channel_axis, new_channel_axis)
    return doc


def set_image_tensor_shape(doc: Document, shape: tuple[int, int],
                           channel_axis: int = -1) -> Document:
    """Resize the image ``tensor`` to ``shape`` (H, W) by nearest neighbour (DocArray's)."""
    try:
        out_rows, out_cols = (int(x) for x in shape)
    except (TypeError, ValueError):
        raise BadInputError(f"shape must be (height, width), got {shape!r}") from None
    if out_rows < 1 or out_cols < 1:
        raise BadInputError(f"shape must be positive, got {shape!r}")
    tensor = _move_axis(_image(doc), channel_axis, -1)
    if tensor.ndim != 3:
        raise BadInputError(f"an image tensor must be 3-D (H, W, C), got shape {tensor.shape}")
    in_rows, in_cols, channels = tensor.shape
    x = np.tile(np.linspace(0, in_cols - 2, out_cols), out_rows)
    y = np.repeat(np.linspace(0, in_rows - 2, out_rows), out_cols)
    nx = np.clip(np.around(x), 0, in_cols - 1).astype(int)
    ny = np.clip(np.around(y), 0, in_rows - 1).astype(int)
    resized = tensor[ny, nx, :].reshape(out_rows, out_cols, channels)
    doc.tensor = _move_axis(resized, -1, channel_axis)
    return doc


def set_image_tensor_resample(doc: Document, ratio: float, channel_axis: int = -1) -> Document:
    """Scale the image ``tensor`` by ``ratio`` (nearest neighbour)."""
    tensor = _move_axis(_image(doc), channel_axis, -1)
    if tensor.ndim != 3:
        raise BadInputError(f"an image tensor must be 3-D (H, W, C), got shape {tensor.shape}")
    rows, cols = int(tensor.shape[0] * ratio), int(tensor.shape[1] * ratio)
    return set_image_tensor_shape(doc, (rows, cols), channel_axis)


def _channel_stats(mean: Sequence[float], std: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    m, s = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
    return m[:, None, None], s[:, None, None]


def set_image_tensor_normalization(doc: Document, channel_axis: int = -1,
                                   img_mean: Sequence[float] = _IMAGENET_MEAN,
                                   img_std: Sequence[float] = _IMAGENET_STD) -> Document:
    """A uint8 (H, W, C) image ``tensor`` to float32, scaled to [0, 1] then standardized per
    channel (ImageNet's mean / std by default)."""
    tensor = _image(doc)
    if tensor.dtype != np.uint8 or tensor.ndim != 3:
        raise BadInputError(f"tensor must be a uint8 ndarray with ndim=3, got {tensor.dtype} "
                            f"with ndim={tensor.ndim}")
    mean, std = _channel_stats(img_mean, img_std)
    chw = _move_axis((tensor / 255.0).astype(np.float32), channel_axis, 0)
    doc.tensor = _move_axis((chw - mean) / std, 0, channel_axis)
    return doc


def set_image_tensor_inv_normalization(doc: Document, channel_axis: int = -1,
                                       img_mean: Sequence[float] = _IMAGENET_MEAN,
                                       img_std: Sequence[float] = _IMAGENET_STD) -> Document:
    """Undo :func:`set_image_tensor_normalization`: float32 back to a uint8 image."""
    tensor = _image(doc)
    if tensor.dtype != np.float32 or tensor.ndim != 3:
        raise BadInputError(f"tensor must be a float32 ndarray with ndim=3, got {tensor.dtype} "
                            f"with ndim={tensor.ndim}")
    mean, std = _channel_stats(img_mean, img_std)
    chw = _move_axis(tensor, channel_axis, 0)
    doc.tensor = _move_axis(((chw * std + mean) * 255).astype(np.uint8), 0, channel_axis)
    return doc


# --- helpers ---------------------------------------------------------------------------------

def _is_array(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype")


def _need(doc: Document, name: str) -> Any:
    value = getattr(doc, name)
    if value is None:
        raise BadInputError(f"the Document has no {name}; set Document.{name} first")
    return value
