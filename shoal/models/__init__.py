"""Embedding models that work offline: MiniLM text encoder (extra ``text``) and a lexical fallback."""
from shoal.models.text import HashingEncoder, MiniLMEncoder, load_text_encoder

__all__ = ["MiniLMEncoder", "HashingEncoder", "load_text_encoder"]
