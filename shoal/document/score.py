"""Named scores: ``d.scores['cosine'].value``."""
from __future__ import annotations

from typing import Any

__all__ = ["NamedScore", "NamedScoreMap"]


class NamedScore:
    """One score: a value plus what produced it (``op_type``), a description and ``ref_id``."""

    __slots__ = ("value", "op_type", "description", "ref_id")

    def __init__(self, value: float | None = None, op_type: str | None = None,
                 description: str | None = None, ref_id: str | None = None) -> None:
        self.value = value
        self.op_type = op_type
        self.description = description
        self.ref_id = ref_id

    def to_dict(self) -> dict[str, Any]:
        """The non-empty fields as a plain dict."""
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NamedScore:
        return cls(**{k: data.get(k) for k in cls.__slots__})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NamedScore):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"NamedScore({inner})"


class NamedScoreMap(dict):
    """A dict of name -> NamedScore that creates an empty score on first access.

    ``d.scores['cosine'].value = 0.3`` works without creating the entry first, and a
    plain number assigned (``d.scores['x'] = 0.5``) becomes ``NamedScore(value=0.5)``.
    """

    def __missing__(self, key: str) -> NamedScore:
        score = self[key] = NamedScore()
        return score

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, dict):
            value = NamedScore.from_dict(value)
        elif not isinstance(value, NamedScore):
            value = NamedScore(value=value)
        super().__setitem__(key, value)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: v.to_dict() for k, v in self.items()}
