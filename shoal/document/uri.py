"""Reading a Document's ``uri`` (local path, ``file://``, ``data:``, ``http(s)://``) and
decoding images with Pillow (imported only when an image is decoded)."""
from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import os
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from shoal.errors import BadInputError, MalformedDataError, MissingExtraError

__all__ = ["read_uri", "decode_image", "to_data_uri", "MAX_IMAGE_PIXELS", "MAX_REMOTE_BYTES"]

#: Images with more pixels than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 64_000_000
#: The most bytes read from an http(s) URI.
MAX_REMOTE_BYTES = 256 << 20


def _read_data_uri(uri: str) -> bytes:
    head, sep, payload = uri.partition(",")
    if not sep:
        raise MalformedDataError("a data URI needs a ',' between its header and its data")
    if head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedDataError(f"the data URI's base64 payload is invalid: {exc}") from exc
    return urllib.parse.unquote_to_bytes(payload)


def _read_remote(uri: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(uri, timeout=timeout) as resp:  # noqa: S310 -- http(s) only
            data = resp.read(MAX_REMOTE_BYTES + 1)
    except OSError as exc:  # URLError, HTTPError, timeouts
        raise BadInputError(f"cannot fetch {uri!r}: {exc}") from exc
    if len(data) > MAX_REMOTE_BYTES:
        raise BadInputError(f"{uri!r} is larger than {MAX_REMOTE_BYTES} bytes")
    return data


def read_uri(uri: str | os.PathLike[str] | None, timeout: float = 10.0) -> bytes:
    """The bytes behind ``uri``: a local path, ``file://``, ``data:`` or ``http(s)://`` URI."""
    if uri is None or uri == "":
        raise BadInputError("the Document has no uri to load; set Document.uri first")
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str):
        raise BadInputError(f"uri must be a string, got {type(uri).__name__}")
    scheme = urllib.parse.urlsplit(uri).scheme.lower() if ":" in uri else ""
    if scheme == "data":
        return _read_data_uri(uri)
    if scheme in ("http", "https"):
        return _read_remote(uri, timeout)
    if scheme == "file":
        path = urllib.request.url2pathname(urllib.parse.urlsplit(uri).path)
    elif len(scheme) > 1:  # one letter is a Windows drive
        raise BadInputError(f"unsupported uri scheme {scheme!r} in {uri!r}; use a local "
                            "path, file://, data: or http(s)://")
    else:
        path = uri
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError as exc:
        raise BadInputError(f"no such file: {path!r} (from uri {uri!r})") from exc
    except IsADirectoryError as exc:
        raise BadInputError(f"uri {uri!r} is a directory, not a file") from exc
    except OSError as exc:
        raise BadInputError(f"cannot read uri {uri!r}: {exc}") from exc


def _pil() -> Any:
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - Pillow is a core dependency
        raise MissingExtraError("decoding images needs Pillow: pip install pillow") from exc
    return Image


def decode_image(data: bytes | None, width: int | None = None, height: int | None = None,
                 channel_axis: int = -1, max_pixels: int = MAX_IMAGE_PIXELS,
                 source: str = "") -> np.ndarray:
    """Decode image bytes to a uint8 RGB array, (H, W, 3) with ``channel_axis=-1``.

    ``width`` / ``height`` resize (a missing one keeps the original size on that axis).
    Images over ``max_pixels`` pixels are refused before their pixels are decoded.
    ``source`` names where the bytes came from in errors (a file's path).
    """
    if data is None or len(data) == 0:
        raise BadInputError("no image bytes to decode (blob / uri content is empty)")
    for name, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise BadInputError(f"{name} must be a positive int, got {value!r}")
    if channel_axis not in (-3, -2, -1, 0, 1, 2):
        raise BadInputError(f"channel_axis must be in -3..2, got {channel_axis!r}")
    image_mod = _pil()
    try:
        img = image_mod.open(io.BytesIO(bytes(data)))
        w, h = img.size
        if w * h > max_pixels:
            raise BadInputError(
                f"image of {w}x{h} pixels is larger than the limit of {max_pixels} pixels; "
                "pass max_pixels= to allow it")
        img = img.convert("RGB")
        if width or height:
            img = img.resize((width or w, height or h))
        arr = np.asarray(img, dtype=np.uint8)
    except BadInputError:
        raise
    except (OSError, ValueError, SyntaxError, image_mod.DecompressionBombError) as exc:
        what = f"{source} " if source else ""
        reason = "not an image format Pillow reads" if "cannot identify" in str(exc) else exc
        raise MalformedDataError(f"cannot decode image {what}({len(data)} bytes): {reason}") from exc
    if channel_axis not in (-1, 2):
        arr = np.moveaxis(arr, -1, channel_axis)
    return np.ascontiguousarray(arr)


def to_data_uri(uri: str | None, mime_type: str | None = None) -> str:
    """The content behind ``uri`` as a ``data:<mime>;base64,...`` URI (unchanged if it is one)."""
    if isinstance(uri, str) and uri.startswith("data:"):
        return uri
    data = read_uri(uri)
    if not mime_type:
        path = urllib.parse.urlsplit(str(uri)).path or str(uri)
        mime_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"
