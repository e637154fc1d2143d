"""Audio and image-window helpers of DocArray 0.21's Document: ``load_uri_to_audio_tensor``,
``save_audio_tensor_to_file`` (WAV through the standard ``wave`` module) and
``convert_image_tensor_to_sliding_windows``."""
from __future__ import annotations

import io
import wave
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from shoal.errors import BadInputError, MalformedDataError

from shoal.document.conversions import _image, _move_axis, _open_for_write

if TYPE_CHECKING:
    from shoal.document.document import Document

__all__ = ["load_uri_to_audio_tensor", "save_audio_tensor_to_file",
           "convert_image_tensor_to_sliding_windows"]

#: Sample width in bytes -> (numpy dtype of the frames, value mapped to 1.0, offset).
_WIDTHS = {1: (np.uint8, 2 ** 7, 128), 2: ("<i2", 2 ** 15, 0), 4: ("<i4", 2 ** 31, 0)}


def load_uri_to_audio_tensor(doc: Document) -> Document:
    """The WAV file at ``uri`` as a float32 ``tensor`` in [-1, 1): 1-D for mono, (frames,
    channels) otherwise (DocArray's); 8-, 16- and 32-bit PCM."""
    from shoal.document.uri import read_uri  # noqa: PLC0415

    data = read_uri(doc.uri)
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, channels = wav.getsampwidth(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise MalformedDataError(f"cannot read {doc.uri!r} as a WAV file: {exc}") from exc
    if width not in _WIDTHS:
        raise MalformedDataError(f"{doc.uri!r}: {8 * width}-bit samples are not supported; "
                                 "use 8-, 16- or 32-bit PCM")
    dtype, scale, offset = _WIDTHS[width]
    samples = (np.frombuffer(frames, dtype=dtype).astype(np.float32) - offset) / scale
    doc.tensor = samples if channels == 1 else samples.reshape(-1, channels)
    return doc


def save_audio_tensor_to_file(doc: Document, file: str | IO[bytes], sample_rate: int = 44100,
                              sample_width: int = 2) -> Document:
    """Write the float ``tensor`` (values in [-1, 1]; 1-D mono or (frames, channels)) as a
    WAV file of ``sample_width`` bytes per sample (DocArray's)."""
    tensor = np.asarray(_image(doc), dtype=np.float64)
    if tensor.ndim not in (1, 2):
        raise BadInputError(f"an audio tensor is 1-D (mono) or (frames, channels), got shape "
                            f"{tensor.shape}")
    if sample_width not in _WIDTHS:
        raise BadInputError(f"sample_width must be 1, 2 or 4 bytes, got {sample_width!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise BadInputError(f"sample_rate must be a positive int, got {sample_rate!r}")
    dtype, scale, offset = _WIDTHS[sample_width]
    info = np.iinfo(np.dtype(dtype))
    pcm = np.clip(np.round(tensor * scale + offset), info.min, info.max).astype(dtype)
    with _open_for_write(file) as fp, wave.open(fp, "wb") as wav:
        wav.setnchannels(1 if tensor.ndim == 1 else tensor.shape[1])
        wav.setsampwidth(sample_width)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return doc


def _pair(value: Any, name: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise BadInputError(f"{name} must be (height, width), got {value!r}") from None
    if h < 1 or w < 1:
        raise BadInputError(f"{name} must be positive, got {value!r}")
    return h, w


def convert_image_tensor_to_sliding_windows(doc: Document, window_shape: tuple[int, int] = (64, 64),
                                            strides: tuple[int, int] | None = None,
                                            padding: bool = False, channel_axis: int = -1,
                                            as_chunks: bool = False) -> Document:
    """The image ``tensor`` cut into ``window_shape`` patches every ``strides`` pixels
    (default: the window), row by row: ``tensor`` becomes (n, h, w, c), or with
    ``as_chunks`` each patch is a chunk with its ``location`` (top, left, h, w) offset by
    the Document's own. ``padding`` also keeps the patches that start inside the image
    but reach past it (zeros outside)."""
    win_h, win_w = _pair(window_shape, "window_shape")
    st_h, st_w = _pair(strides or window_shape, "strides")
    tensor = _move_axis(_image(doc), channel_axis, -1)
    if tensor.ndim != 3:
        raise BadInputError(f"an image tensor must be 3-D (H, W, C), got shape {tensor.shape}")
    h, w, c = tensor.shape
    if padding:
        tops, lefts = range(0, h, st_h), range(0, w, st_w)
        need_h, need_w = tops[-1] + win_h, lefts[-1] + win_w
        tensor = np.pad(tensor, ((0, max(0, need_h - h)), (0, max(0, need_w - w)), (0, 0)))
    else:
        tops, lefts = range(0, h - win_h + 1, st_h), range(0, w - win_w + 1, st_w)
    patches = np.stack([tensor[t:t + win_h, left:left + win_w] for t in tops for left in lefts]) \
        if len(tops) and len(lefts) else np.zeros((0, win_h, win_w, c), dtype=tensor.dtype)
    if as_chunks:
        from shoal.document.document import Document  # noqa: PLC0415

        top0, left0 = (list(doc.location)[:2] + [0, 0])[:2] if doc.location else (0, 0)
        doc.chunks.extend(
            Document(tensor=_move_axis(p, -1, channel_axis),
                     location=[top0 + t, left0 + left, win_h, win_w])
            for p, (t, left) in zip(patches, ((t, left) for t in tops for left in lefts)))
    else:  # (n, h, w, c), the channel axis where it was in the image (one later: n first)
        doc.tensor = _move_axis(patches, -1, channel_axis + 1 if channel_axis >= 0 else -1)
    return doc
