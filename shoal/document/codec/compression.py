"""Compression of serialized bytes: ``compress=`` of every ``to_bytes`` / ``save``.

The codec modules are imported lazily by name; ``'lz4'`` needs the lz4 package.
"""
from __future__ import annotations

from typing import Any

from shoal.errors import BadInputError, MalformedDataError, MissingExtraError

__all__ = ["COMPRESSIONS", "compress_bytes", "decompress_bytes"]

COMPRESSIONS = (None, "zlib", "gzip", "bz2", "lzma", "lz4")


def _codec_module(name: str) -> Any:
    if name == "zlib":
        import zlib as mod  # noqa: PLC0415
    elif name == "gzip":
        import gzip as mod  # noqa: PLC0415
    elif name == "bz2":
        import bz2 as mod  # noqa: PLC0415
    elif name == "lzma":
        import lzma as mod  # noqa: PLC0415
    elif name == "lz4":
        try:
            import lz4.frame as mod  # noqa: PLC0415
        except ImportError as exc:
            raise MissingExtraError(
                "compress='lz4' needs the lz4 package: pip install lz4") from exc
    else:
        raise BadInputError(
            f"unknown compression {name!r}; use one of None, 'zlib', 'gzip', 'bz2', "
            "'lzma', 'lz4'")
    return mod


def compress_bytes(data: bytes, compress: str | None) -> bytes:
    """``data`` compressed with ``compress`` (None returns it unchanged)."""
    if not compress:
        return data
    mod = _codec_module(compress)
    if compress == "gzip":
        return mod.compress(data, mtime=0)
    return mod.compress(data)


def decompress_bytes(data: bytes, compress: str | None) -> bytes:
    """Undo :func:`compress_bytes`; corrupt input raises MalformedDataError."""
    if not compress:
        return data
    mod = _codec_module(compress)
    try:
        return mod.decompress(data)
    except Exception as exc:  # zlib.error, OSError, EOFError, LZMAError, RuntimeError
        raise MalformedDataError(
            f"cannot decompress data as {compress!r}: {exc}; was it written with "
            f"compress={compress!r}?") from exc
