"""Named scores: ``d.scores['cosine'].value``."""
from __future__ import annotations

from typing import Any

__all__ = ["NamedScore", "NamedScoreMap", "score_map", "score_value", "score_names"]


class NamedScore:
    """One score: a value plus what produced it (``op_type``, DocArray's ``op_name``), a
    description and ``ref_id``."""

    __slots__ = ("value", "op_type", "description", "ref_id")

    def __init__(self, value: float | None = None, op_type: str | None = None,
                 description: str | None = None, ref_id: str | None = None, *,
                 op_name: str | None = None) -> None:
        self.value = value
        self.op_type = op_type if op_type is not None else op_name
        self.description = description
        self.ref_id = ref_id

    @property
    def op_name(self) -> str | None:
        """DocArray 0.21's name of :attr:`op_type`."""
        return self.op_type

    @op_name.setter
    def op_name(self, value: str | None) -> None:
        self.op_type = value

    def to_dict(self) -> dict[str, Any]:
        """The non-empty fields as a plain dict."""
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NamedScore:
        return cls(**{k: data.get(k) for k in cls.__slots__}, op_name=data.get("op_name"))

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


# A search gives each match one score. It is kept as a pending ``(name, value)`` pair in
# ``Document._scores`` and becomes a NamedScoreMap on first access of ``d.scores``: the
# map and its NamedScore are two of the four objects a match would otherwise cost. The
# helpers below read ``_scores`` in either form without building a map.


def score_map(raw: Any) -> NamedScoreMap | None:
    """``Document._scores`` as a map: None stays None, a pending pair becomes a map."""
    if type(raw) is tuple:
        out = NamedScoreMap()
        out[raw[0]] = NamedScore(value=raw[1])
        return out
    return raw


def score_value(raw: Any, name: str) -> float | None:
    """The value of score ``name`` in ``Document._scores`` (either form), or None."""
    if type(raw) is tuple:
        return raw[1] if raw[0] == name else None
    if not raw or name not in raw:
        return None
    return raw[name].value


def score_names(raw: Any) -> tuple[str, ...]:
    """The score names in ``Document._scores`` (either form)."""
    if type(raw) is tuple:
        return (raw[0],)
    return tuple(raw) if raw else ()
