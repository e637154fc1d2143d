"""Field types for the multimodal :func:`shoal.dataclass`.

Annotate a field with one of these to say what kind of content it holds; each field
becomes a chunk of the Document with ``modality`` set (see shoal.document.dataclass).
"""
from __future__ import annotations

from typing import Any, NewType, TypeVar

__all__ = ["Image", "Text", "JSON", "Audio", "Blob", "Video", "Mesh", "Tabular"]

T = TypeVar("T")

Image = NewType("Image", str)  #: a path / URI (loaded to an (H, W, 3) tensor) or an ndarray
Text = NewType("Text", str)  #: a string
JSON = NewType("JSON", dict)  #: a JSON-like dict (kept in the chunk's tags)
Audio = NewType("Audio", str)  #: a WAV path (loaded to a float tensor; other files: blob) or an ndarray
Blob = NewType("Blob", bytes)  #: raw bytes
Video = NewType("Video", str)  #: a path / URI or an ndarray
Mesh = NewType("Mesh", str)  #: a path / URI of a 3-D mesh
Tabular = NewType("Tabular", str)  #: a path / URI of a CSV file (one chunk per row)

MODALITY: dict[Any, str] = {Image: "image", Text: "text", JSON: "json", Audio: "audio",
                            Blob: "blob", Video: "video", Mesh: "mesh", Tabular: "tabular"}
