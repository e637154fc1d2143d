"""DocArray 0.21's multimodal schema (``Document._metadata['multi_modal_schema']``) and
shoal's (``tags['_multimodal']``, see :mod:`shoal.document.dataclass`), each into the other.

DocArray records per field an ``attribute_type`` (``document`` / ``nested``: one chunk;
``iterable_document`` / ``iterable_nested``: a chunk holding one chunk per item;
``primitive`` / ``iterable_primitive``: a tag), the field's ``type`` (``Text``,
``Image``...) and the chunk's ``position``; shoal records ``kind`` (chunk / list / tag),
``position`` and ``modality``. Fields either side cannot express are left out.
"""
from __future__ import annotations

from typing import Any

__all__ = ["SHOAL_SCHEMA_TAG", "from_docarray_schema", "to_docarray_schema"]

SHOAL_SCHEMA_TAG = "_multimodal"
_KEY = "multi_modal_schema"
_TYPES = {"Text": "text", "Image": "image", "JSON": "json", "Audio": "audio", "Blob": "blob",
          "Video": "video", "Mesh": "mesh", "Tabular": "tabular"}
_NAMES = {v: k for k, v in _TYPES.items()}


def from_docarray_schema(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """shoal's ``tags['_multimodal']`` for a DocArray ``_metadata``, or None without one."""
    fields = (metadata or {}).get(_KEY)
    if not isinstance(fields, dict):
        return None
    out: dict[str, dict[str, Any]] = {}
    for name, spec in fields.items():
        if not isinstance(spec, dict):
            continue
        kind = str(spec.get("attribute_type", ""))
        pos = spec.get("position")
        modality = "nested" if "nested" in kind else _TYPES.get(str(spec.get("type")), "text")
        if kind in ("document", "nested") and isinstance(pos, (int, float)):
            out[name] = {"kind": "chunk", "position": int(pos), "modality": modality}
        elif kind in ("iterable_document", "iterable_nested") and isinstance(pos, (int, float)):
            out[name] = {"kind": "list", "position": int(pos), "modality": modality}
        elif kind in ("primitive", "iterable_primitive"):
            out[name] = ({"kind": "tag", "type": "bytes"} if spec.get("type") == "bytes"
                         else {"kind": "tag"})  # bytes: base64 text in the tags, both ways
    return {"class": "", "fields": out}


def to_docarray_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """DocArray's ``_metadata`` for shoal's ``tags['_multimodal']``, or None."""
    fields = (schema or {}).get("fields")
    if not isinstance(fields, dict):
        return None
    out: dict[str, dict[str, Any]] = {}
    for name, spec in fields.items():
        kind, modality = spec.get("kind"), spec.get("modality")
        nested = modality == "nested"
        type_name = "Document" if nested else _NAMES.get(str(modality), "Text")
        if kind == "chunk":
            out[name] = {"attribute_type": "nested" if nested else "document",
                         "type": type_name, "position": spec["position"]}
        elif kind == "list":
            out[name] = {"attribute_type": "iterable_nested" if nested else "iterable_document",
                         "type": type_name, "position": spec["position"]}
        elif kind == "tag":
            out[name] = {"attribute_type": "primitive",
                         "type": "bytes" if spec.get("type") == "bytes" else "primitive"}
    return {_KEY: out}
